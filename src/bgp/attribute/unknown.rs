//! Attributes this codec does not interpret: kept if optional transitive, passed on with Partial set (RFC 4271 §5, §9).

use bytes::BytesMut;

use super::flags::{OPTIONAL, PARTIAL, TRANSITIVE, put};

/// An optional transitive attribute of a type this code does not know, kept
/// as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// As received, without the Extended Length bit (recomputed on encode).
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

impl RawAttribute {
    /// RFC 4271 §9: "If an optional transitive attribute is unrecognized, the
    /// Partial bit in the attribute flags octet is set to 1, and the
    /// attribute is retained for propagation to other BGP speakers."
    pub(crate) fn encode(&self, buf: &mut BytesMut) {
        let mut flags = self.flags;
        if flags & (OPTIONAL | TRANSITIVE) == OPTIONAL | TRANSITIVE {
            flags |= PARTIAL;
        }
        put(buf, flags, self.type_code, &self.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_bit_set_on_resend() {
        let a = RawAttribute {
            flags: 0xc0,
            type_code: 99,
            value: vec![1, 2],
        };
        let mut b = BytesMut::new();
        a.encode(&mut b);
        assert_eq!(&b[..], &[0xe0, 99, 2, 1, 2]);
    }
}
