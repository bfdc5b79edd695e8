//! Deterministic names: host-side veth and bridge MAC derived from what identifies an attachment.

/// 32-bit FNV-1a: stable across builds and platforms (unlike std's hasher).
pub fn fnv32(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Host-side veth name: DEL finds it again from (network, container, ifname)
/// alone, even when the container's namespace is already gone.
pub fn host_veth(network: &str, container_id: &str, ifname: &str) -> String {
    let key = format!("{network}\0{container_id}\0{ifname}");
    // "pr" + 11 hex digits = 13 octets, within IFNAMSIZ-1 (15).
    format!("pr{:011x}", fnv64(key.as_bytes()) & 0xfff_ffff_ffff)
}

/// The alias podroute-bridge gives a host veth: it says which network and
/// attachment the veth belongs to, so GC deletes only its own, even on a
/// bridge shared by several networks.
pub fn veth_alias(network: &str, container_id: &str, ifname: &str) -> String {
    format!("podroute:{network}:{container_id}:{ifname}")
}

/// Parses [`veth_alias`] back into (container ID, ifname) for `network`.
pub fn parse_veth_alias<'a>(alias: &'a str, network: &str) -> Option<(&'a str, &'a str)> {
    let rest = alias
        .strip_prefix("podroute:")?
        .strip_prefix(network)?
        .strip_prefix(':')?;
    // Container IDs hold no ':' (alphanumerics, '_', '.', '-'), so the first ':' ends it.
    rest.split_once(':')
}

/// A locally administered unicast MAC for a bridge, stable per name.
pub fn bridge_mac(bridge: &str) -> [u8; 6] {
    let h = fnv64(bridge.as_bytes()).to_be_bytes();
    [0x02, h[1], h[2], h[3], h[4], h[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_short() {
        let a = host_veth("net", "c1", "eth0");
        assert_eq!(a, host_veth("net", "c1", "eth0"));
        assert_ne!(a, host_veth("net", "c2", "eth0"));
        assert!(a.len() <= 15);
        assert_eq!(bridge_mac("podroute0")[0] & 0x03, 0x02);
        let alias = veth_alias("net", "c1", "eth0");
        assert_eq!(parse_veth_alias(&alias, "net"), Some(("c1", "eth0")));
        assert_eq!(parse_veth_alias(&alias, "ne"), None);
        assert_eq!(parse_veth_alias(&alias, "other"), None);
    }
}
