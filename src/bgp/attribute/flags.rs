//! The attribute header (RFC 4271 §4.3): flags, type code, 1- or 2-octet length; and its encoder.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|  then Length: 1 octet, or 2 if Extended Length
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!  O T P E 0 0 0 0
//! ```

use bytes::{BufMut, BytesMut};

/// Optional bit (well-known when clear).
pub const OPTIONAL: u8 = 0x80;
/// Transitive bit.
pub const TRANSITIVE: u8 = 0x40;
/// Partial bit: some optional transitive attribute was passed on by a
/// speaker that did not recognise it (RFC 4271 §5).
pub const PARTIAL: u8 = 0x20;
/// Extended Length bit: the length field is 2 octets.
pub const EXTENDED_LENGTH: u8 = 0x10;

/// Well-known (mandatory or discretionary) attributes.
pub const WELL_KNOWN: u8 = TRANSITIVE;
/// Optional transitive attributes.
pub const OPT_TRANS: u8 = OPTIONAL | TRANSITIVE;
/// Optional non-transitive attributes.
pub const OPT_NON_TRANS: u8 = OPTIONAL;

/// One attribute as cut from the Path Attributes field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSlice<'a> {
    pub flags: u8,
    pub type_code: u8,
    pub value: &'a [u8],
    /// The whole attribute, header included: the Data of NOTIFICATIONs that
    /// RFC 4271 §6.3 says carry "the attribute (type, length, and value)".
    pub whole: &'a [u8],
}

/// Why the next attribute header could not be cut (RFC 7606 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutError {
    /// Fewer than 3 (or 4 with Extended Length) octets remain.
    HeaderTruncated,
    /// The attribute's length runs past the field; `type_code` tells the
    /// caller whether it was MP_REACH/MP_UNREACH (RFC 7606 §3(j)).
    Overrun { type_code: u8 },
}

/// Cuts the next attribute off the front of `buf`.
#[inline]
pub(crate) fn cut(buf: &[u8]) -> Result<(RawSlice<'_>, &[u8]), CutError> {
    let [flags, type_code, ..] = *buf else {
        return Err(CutError::HeaderTruncated);
    };
    let (len, hlen) = if flags & EXTENDED_LENGTH != 0 {
        match buf.get(2..4) {
            Some(l) => (usize::from(u16::from_be_bytes([l[0], l[1]])), 4),
            None => return Err(CutError::HeaderTruncated),
        }
    } else {
        match buf.get(2) {
            Some(&l) => (usize::from(l), 3),
            None => return Err(CutError::HeaderTruncated),
        }
    };
    if buf.len() < hlen + len {
        return Err(CutError::Overrun { type_code });
    }
    let (whole, rest) = buf.split_at(hlen + len);
    Ok((
        RawSlice {
            flags,
            type_code,
            value: &whole[hlen..],
            whole,
        },
        rest,
    ))
}

/// Appends one attribute whose value `f` writes, choosing the 1-octet length
/// when the value fits it (the Extended Length bit "MAY" be used for short
/// values, RFC 4271 §4.3; the short form is the canonical one here).
#[inline]
pub(crate) fn put_with(
    buf: &mut BytesMut,
    flags: u8,
    type_code: u8,
    f: impl FnOnce(&mut BytesMut),
) {
    let start = buf.len();
    buf.put_u8(flags & !EXTENDED_LENGTH);
    buf.put_u8(type_code);
    buf.put_u8(0);
    let vstart = buf.len();
    f(buf);
    let len = buf.len() - vstart;
    if len <= 255 {
        buf[start + 2] = len as u8;
    } else {
        buf.put_u8(0);
        buf.copy_within(vstart..vstart + len, vstart + 1);
        buf[start] |= EXTENDED_LENGTH;
        let l = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        buf[start + 2] = l[0];
        buf[start + 3] = l[1];
    }
}

/// Appends one attribute with a ready value.
pub(crate) fn put(buf: &mut BytesMut, flags: u8, type_code: u8, value: &[u8]) {
    put_with(buf, flags, type_code, |b| b.put_slice(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_extended_lengths() {
        let mut b = BytesMut::new();
        put(&mut b, OPT_TRANS, 8, &[1, 2, 3, 4]);
        assert_eq!(&b[..], &[0xc0, 8, 4, 1, 2, 3, 4]);
        let mut b = BytesMut::new();
        put(&mut b, OPT_TRANS, 8, &[7; 300]);
        assert_eq!(&b[..4], &[0xd0, 8, 0x01, 0x2c]);
        assert_eq!(b.len(), 304);
        let (raw, rest) = cut(&b).unwrap();
        assert!(rest.is_empty());
        assert_eq!(raw.value, &[7; 300][..]);
    }

    #[test]
    fn cut_errors() {
        assert_eq!(cut(&[0x40, 1]).unwrap_err(), CutError::HeaderTruncated);
        assert_eq!(cut(&[0x50, 1, 0]).unwrap_err(), CutError::HeaderTruncated);
        assert_eq!(
            cut(&[0x40, 14, 2, 0]).unwrap_err(),
            CutError::Overrun { type_code: 14 }
        );
    }
}
