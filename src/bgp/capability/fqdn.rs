//! The FQDN (hostname) capability, code 73 (draft-walton-bgp-hostname-capability §3).

use bytes::{BufMut, BytesMut};
use nom::multi::length_data;
use nom::number::complete::be_u8;

use super::parse_all;

/// The speaker's host and domain name, each length-prefixed.
///
/// ```text
/// +--------------------------------+
/// | Hostname Length (1 octet)      |
/// +--------------------------------+
/// | Hostname (variable)            |
/// +--------------------------------+
/// | Domain Name Length (1 octet)   |
/// +--------------------------------+
/// | Domain Name (variable)         |
/// +--------------------------------+
/// ```
///
/// The draft asks for UTF-8 text; a value that is not, or whose lengths do
/// not add up to the capability length, is malformed. Both names together
/// must fit the 255-octet capability value (253 octets of text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fqdn {
    pub hostname: String,
    /// Empty when the speaker has no domain (FRR sends length 0 then).
    pub domain: String,
}

pub(super) fn decode(value: &[u8]) -> Option<Fqdn> {
    let (host, domain) = parse_all(value, (length_data(be_u8), length_data(be_u8)))?;
    Some(Fqdn {
        hostname: std::str::from_utf8(host).ok()?.to_owned(),
        domain: std::str::from_utf8(domain).ok()?.to_owned(),
    })
}

impl Fqdn {
    /// Appends the value. A name longer than 255 octets cannot be encoded:
    /// its length octet would wrap, so it is written as 255 and the TLV
    /// length check in [`super::Capability::encode`] refuses the result.
    pub(super) fn encode(&self, buf: &mut BytesMut) {
        for name in [&self.hostname, &self.domain] {
            buf.put_u8(u8::try_from(name.len()).unwrap_or(u8::MAX));
            buf.put_slice(name.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Capability, CapabilityCode};
    use super::*;

    #[test]
    fn frr_hostname_capability() {
        // What FRR sends for hostname "node-1", no domain.
        let bytes = [73, 8, 6, b'n', b'o', b'd', b'e', b'-', b'1', 0];
        let list = Capability::decode_list(&bytes).unwrap();
        assert_eq!(
            list,
            [Capability::Fqdn(Fqdn {
                hostname: "node-1".into(),
                domain: String::new()
            })]
        );
    }

    #[test]
    fn missing_domain_length_or_bad_utf8_is_malformed() {
        for value in [&[1u8, b'a'][..], &[1, 0xff, 0][..], &[1, b'a', 2, b'b'][..]] {
            assert_eq!(
                Capability::decode_value(73, value),
                Capability::Malformed {
                    code: CapabilityCode::Fqdn,
                    value: value.to_vec()
                }
            );
        }
    }
}
