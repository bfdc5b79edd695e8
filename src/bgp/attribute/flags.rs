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
use nom::bytes::complete::take;
use nom::error::{ErrorKind, ParseError};
use nom::number::complete::{be_u8, be_u16};
use nom::{IResult, Parser};

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

/// Any nom primitive failing in the header means the header is cut short;
/// the overrun of the value is raised explicitly in [`attribute`].
impl ParseError<&[u8]> for CutError {
    fn from_error_kind(_: &[u8], _: ErrorKind) -> Self {
        CutError::HeaderTruncated
    }

    fn append(_: &[u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Parses the next attribute: header, then as many value octets as its
/// length says.
#[inline]
pub(crate) fn attribute(input: &[u8]) -> IResult<&[u8], RawSlice<'_>, CutError> {
    let start = input;
    let (input, flags) = be_u8(input)?;
    let (input, type_code) = be_u8(input)?;
    let (input, len) = if flags & EXTENDED_LENGTH != 0 {
        be_u16.map(usize::from).parse(input)?
    } else {
        be_u8.map(usize::from).parse(input)?
    };
    let (rest, value) = take(len)
        .parse(input)
        .map_err(|_: nom::Err<CutError>| nom::Err::Failure(CutError::Overrun { type_code }))?;
    Ok((
        rest,
        RawSlice {
            flags,
            type_code,
            value,
            whole: &start[..start.len() - rest.len()],
        },
    ))
}

/// Cuts the next attribute off the front of `buf`: [`attribute`] outside nom.
#[inline]
pub(crate) fn cut(buf: &[u8]) -> Result<(RawSlice<'_>, &[u8]), CutError> {
    match attribute(buf) {
        Ok((rest, raw)) => Ok((raw, rest)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        // `complete` primitives never ask for more; treat as a short header.
        Err(nom::Err::Incomplete(_)) => Err(CutError::HeaderTruncated),
    }
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
