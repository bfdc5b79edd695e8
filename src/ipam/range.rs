//! Validated address ranges and the round-robin walk over a range set.

use super::config::RangeConf;
use crate::cni::error::{CniError, ErrorCode};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A range with every default filled in and every bound checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Subnet (host bits cleared).
    pub subnet: IpNet,
    /// First allocatable address, as an integer.
    pub start: u128,
    /// Last allocatable address, as an integer.
    pub end: u128,
    /// Gateway address, never handed out.
    pub gateway: IpAddr,
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn from_u128(v4: bool, n: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

fn bad(msg: String) -> CniError {
    CniError::new(ErrorCode::InvalidNetworkConfig, msg)
}

impl Range {
    /// Fills defaults like host-local: start after the network address, end
    /// before the IPv4 broadcast, gateway = first host.
    pub fn new(conf: &RangeConf) -> Result<Range, CniError> {
        let subnet = conf.subnet.trunc();
        let v4 = subnet.addr().is_ipv4();
        let net = to_u128(subnet.network());
        let last = to_u128(subnet.broadcast());
        let host_bits = u32::from(subnet.max_prefix_len() - subnet.prefix_len());
        if host_bits < 2 {
            return Err(bad(format!("subnet {subnet} is too small for pods")));
        }
        let first_host = net + 1;
        // IPv4 reserves the broadcast address; IPv6 has none.
        let last_host = if v4 { last - 1 } else { last };
        let within = |a: IpAddr, what: &str| -> Result<u128, CniError> {
            if a.is_ipv4() != v4 || !subnet.contains(&a) {
                return Err(bad(format!("{what} {a} is not in subnet {subnet}")));
            }
            Ok(to_u128(a))
        };
        let start = match conf.range_start {
            Some(a) => within(a, "rangeStart")?,
            None => first_host,
        };
        let end = match conf.range_end {
            Some(a) => within(a, "rangeEnd")?,
            None => last_host,
        };
        let gateway = match conf.gateway {
            Some(a) => {
                within(a, "gateway")?;
                a
            }
            None => from_u128(v4, first_host),
        };
        if start > end || start < first_host || end > last_host {
            return Err(bad(format!(
                "range {start:#x}-{end:#x} is empty or outside {subnet}"
            )));
        }
        Ok(Range {
            subnet,
            start,
            end,
            gateway,
        })
    }

    /// Whether the address is one this range may hand out.
    pub fn contains(&self, a: IpAddr) -> bool {
        a.is_ipv4() == self.subnet.addr().is_ipv4() && (self.start..=self.end).contains(&to_u128(a))
    }

    /// Whether two ranges share an address.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.subnet.addr().is_ipv4() == other.subnet.addr().is_ipv4()
            && self.start <= other.end
            && other.start <= self.end
    }

    fn size(&self) -> u128 {
        self.end - self.start + 1
    }
}

/// The ranges one address is chosen from; they must share a family and not overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

impl RangeSet {
    /// Validates a configured set.
    pub fn new(confs: &[RangeConf]) -> Result<RangeSet, CniError> {
        if confs.is_empty() {
            return Err(bad("empty range set".into()));
        }
        let ranges: Vec<Range> = confs.iter().map(Range::new).collect::<Result<_, _>>()?;
        let v4 = ranges[0].subnet.addr().is_ipv4();
        for (i, a) in ranges.iter().enumerate() {
            if a.subnet.addr().is_ipv4() != v4 {
                return Err(bad("a range set mixes IPv4 and IPv6".into()));
            }
            for b in &ranges[i + 1..] {
                if a.overlaps(b) {
                    return Err(bad(format!(
                        "ranges in {} and {} overlap",
                        a.subnet, b.subnet
                    )));
                }
            }
        }
        Ok(RangeSet(ranges))
    }

    /// The range an address belongs to.
    pub fn range_of(&self, a: IpAddr) -> Option<&Range> {
        self.0.iter().find(|r| r.contains(a))
    }

    /// The first address after `last` (round robin, wrapping across ranges)
    /// for which `taken` is false and that is not a gateway. host-local walks
    /// the same way so a just-released address is not reused at once.
    pub fn next_free(
        &self,
        last: Option<IpAddr>,
        taken: impl Fn(IpAddr) -> bool,
    ) -> Option<(IpAddr, &Range)> {
        let v4 = self.0[0].subnet.addr().is_ipv4();
        let total: u128 = self
            .0
            .iter()
            .map(Range::size)
            .fold(0u128, u128::saturating_add);
        // Start position: (range index, offset) right after `last`.
        let (mut ri, mut off) = last
            .and_then(|l| {
                self.0
                    .iter()
                    .position(|r| r.contains(l))
                    .map(|i| (i, to_u128(l) - self.0[i].start + 1))
            })
            .unwrap_or_default();
        let mut visited: u128 = 0;
        while visited < total {
            let r = &self.0[ri];
            if off >= r.size() {
                ri = (ri + 1) % self.0.len();
                off = 0;
                continue;
            }
            let cand = from_u128(v4, r.start + off);
            if cand != r.gateway && !taken(cand) {
                return Some((cand, r));
            }
            off += 1;
            visited += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(subnet: &str, start: Option<&str>, end: Option<&str>) -> RangeConf {
        RangeConf {
            subnet: subnet.parse().unwrap(),
            range_start: start.map(|s| s.parse().unwrap()),
            range_end: end.map(|s| s.parse().unwrap()),
            gateway: None,
        }
    }

    #[test]
    fn defaults_like_host_local() {
        let r = Range::new(&rc("10.1.2.0/24", None, None)).unwrap();
        assert_eq!(r.gateway.to_string(), "10.1.2.1");
        assert!(r.contains("10.1.2.254".parse().unwrap()));
        assert!(!r.contains("10.1.2.255".parse().unwrap()));
        assert!(Range::new(&rc("10.1.2.0/24", Some("10.1.3.1"), None)).is_err());
        assert!(Range::new(&rc("10.1.2.0/31", None, None)).is_err());
        assert!(Range::new(&rc("10.1.2.0/24", Some("10.1.2.9"), Some("10.1.2.5"))).is_err());
    }

    #[test]
    fn round_robin_skips_gateway_and_taken() {
        let set = RangeSet::new(&[rc("10.1.2.0/29", None, None)]).unwrap();
        let (a, _) = set.next_free(None, |_| false).unwrap();
        assert_eq!(a.to_string(), "10.1.2.2");
        let (b, _) = set.next_free(Some(a), |_| false).unwrap();
        assert_eq!(b.to_string(), "10.1.2.3");
        // Wraps past the end back to the start, skipping the gateway .1.
        let (c, _) = set
            .next_free(Some("10.1.2.6".parse().unwrap()), |_| false)
            .unwrap();
        assert_eq!(c.to_string(), "10.1.2.2");
        assert!(set.next_free(None, |_| true).is_none());
        let v6 = RangeSet::new(&[rc("2001:db8::/64", None, None)]).unwrap();
        assert_eq!(
            v6.next_free(None, |_| false).unwrap().0.to_string(),
            "2001:db8::2"
        );
        assert!(
            RangeSet::new(&[rc("10.0.0.0/24", None, None), rc("10.0.0.0/25", None, None)]).is_err()
        );
    }
}
