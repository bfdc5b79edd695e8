//! Kubernetes label selectors (`matchLabels`, `matchExpressions`) evaluated against a node's labels.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`; an empty selector matches
/// everything, as in the API server. An unknown operator is an error.
pub fn matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<bool, String> {
    if let Some(want) = &selector.match_labels {
        for (k, v) in want {
            if labels.get(k) != Some(v) {
                return Ok(false);
            }
        }
    }
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default();
        let have = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            op => {
                return Err(format!(
                    "unknown selector operator {op:?} (In, NotIn, Exists, DoesNotExist)"
                ));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(values.iter().map(|s| s.to_string()).collect()),
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn match_labels_and_expressions() {
        let l = labels(&[("rack", "r1"), ("rr", "true")]);
        assert!(matches(&LabelSelector::default(), &l).unwrap());
        let sel = LabelSelector {
            match_labels: Some(labels(&[("rack", "r1")]).into_iter().collect()),
            ..Default::default()
        };
        assert!(matches(&sel, &l).unwrap());
        assert!(!matches(&sel, &labels(&[("rack", "r2")])).unwrap());
        assert!(matches(&expr("rack", "In", &["r1", "r3"]), &l).unwrap());
        assert!(!matches(&expr("rack", "NotIn", &["r1"]), &l).unwrap());
        assert!(matches(&expr("zone", "NotIn", &["a"]), &l).unwrap());
        assert!(matches(&expr("rr", "Exists", &[]), &l).unwrap());
        assert!(!matches(&expr("rr", "DoesNotExist", &[]), &l).unwrap());
        assert!(matches(&expr("rr", "Gt", &[]), &l).is_err());
    }
}
