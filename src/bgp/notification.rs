//! NOTIFICATION messages (RFC 4271 §4.5) with every registered error code and subcode.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The same type is what every decoder returns when RFC 4271 §6 or RFC 7606
//! says "session reset": the caller sends it and closes the connection.

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::open_enum::open_enum;
use super::types::Family;

open_enum! {
    /// Subcodes of error code 1, Message Header Error (RFC 4271 §4.5).
    pub enum HeaderError: u8 {
        ConnectionNotSynchronized = 1,
        BadMessageLength = 2,
        BadMessageType = 3,
    }
}

open_enum! {
    /// Subcodes of error code 2, OPEN Message Error (RFC 4271 §4.5, RFC 5492, RFC 9234).
    pub enum OpenError: u8 {
        UnsupportedVersionNumber = 1,
        BadPeerAs = 2,
        BadBgpIdentifier = 3,
        UnsupportedOptionalParameter = 4,
        UnacceptableHoldTime = 6,
        UnsupportedCapability = 7,
        RoleMismatch = 11,
    }
}

open_enum! {
    /// Subcodes of error code 3, UPDATE Message Error (RFC 4271 §4.5).
    pub enum UpdateError: u8 {
        MalformedAttributeList = 1,
        UnrecognizedWellKnownAttribute = 2,
        MissingWellKnownAttribute = 3,
        AttributeFlagsError = 4,
        AttributeLengthError = 5,
        InvalidOriginAttribute = 6,
        InvalidNextHopAttribute = 8,
        OptionalAttributeError = 9,
        InvalidNetworkField = 10,
        MalformedAsPath = 11,
    }
}

open_enum! {
    /// Subcodes of error code 5, Finite State Machine Error (RFC 6608).
    pub enum FsmError: u8 {
        Unspecified = 0,
        UnexpectedMessageInOpenSent = 1,
        UnexpectedMessageInOpenConfirm = 2,
        UnexpectedMessageInEstablished = 3,
    }
}

open_enum! {
    /// Subcodes of error code 6, Cease (RFC 4486, RFC 8538, RFC 9384).
    pub enum CeaseSubcode: u8 {
        MaximumPrefixesReached = 1,
        AdministrativeShutdown = 2,
        PeerDeconfigured = 3,
        AdministrativeReset = 4,
        ConnectionRejected = 5,
        OtherConfigurationChange = 6,
        ConnectionCollisionResolution = 7,
        OutOfResources = 8,
        HardReset = 9,
        BfdDown = 10,
    }
}

open_enum! {
    /// Subcodes of error code 7, ROUTE-REFRESH Message Error (RFC 7313 §5).
    pub enum RouteRefreshError: u8 {
        InvalidMessageLength = 1,
    }
}

/// Error code and subcode of a NOTIFICATION, as one value.
///
/// Every (code, subcode) pair on the wire maps to exactly one value and back:
/// pairs no variant names are kept in `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Code 1.
    MessageHeader(HeaderError),
    /// Code 2.
    Open(OpenError),
    /// Code 3.
    Update(UpdateError),
    /// Code 4, subcode 0.
    HoldTimerExpired,
    /// Code 5.
    Fsm(FsmError),
    /// Code 6.
    Cease(CeaseSubcode),
    /// Code 7.
    RouteRefresh(RouteRefreshError),
    /// Code 8, subcode 0: Send Hold Timer Expired (RFC 9687).
    SendHoldTimerExpired,
    /// Any other pair, kept as received.
    Unknown { code: u8, subcode: u8 },
}

impl ErrorCode {
    pub fn from_wire(code: u8, subcode: u8) -> Self {
        match (code, subcode) {
            (1, s) if !matches!(HeaderError::from(s), HeaderError::Unknown(_)) => {
                ErrorCode::MessageHeader(s.into())
            }
            (2, s) if !matches!(OpenError::from(s), OpenError::Unknown(_)) => {
                ErrorCode::Open(s.into())
            }
            (3, s) if !matches!(UpdateError::from(s), UpdateError::Unknown(_)) => {
                ErrorCode::Update(s.into())
            }
            (4, 0) => ErrorCode::HoldTimerExpired,
            (5, s) if !matches!(FsmError::from(s), FsmError::Unknown(_)) => {
                ErrorCode::Fsm(s.into())
            }
            (6, s) if !matches!(CeaseSubcode::from(s), CeaseSubcode::Unknown(_)) => {
                ErrorCode::Cease(s.into())
            }
            (7, s) if !matches!(RouteRefreshError::from(s), RouteRefreshError::Unknown(_)) => {
                ErrorCode::RouteRefresh(s.into())
            }
            (8, 0) => ErrorCode::SendHoldTimerExpired,
            (code, subcode) => ErrorCode::Unknown { code, subcode },
        }
    }

    pub fn code(self) -> u8 {
        match self {
            ErrorCode::MessageHeader(_) => 1,
            ErrorCode::Open(_) => 2,
            ErrorCode::Update(_) => 3,
            ErrorCode::HoldTimerExpired => 4,
            ErrorCode::Fsm(_) => 5,
            ErrorCode::Cease(_) => 6,
            ErrorCode::RouteRefresh(_) => 7,
            ErrorCode::SendHoldTimerExpired => 8,
            ErrorCode::Unknown { code, .. } => code,
        }
    }

    pub fn subcode(self) -> u8 {
        match self {
            ErrorCode::MessageHeader(s) => s.into(),
            ErrorCode::Open(s) => s.into(),
            ErrorCode::Update(s) => s.into(),
            ErrorCode::HoldTimerExpired | ErrorCode::SendHoldTimerExpired => 0,
            ErrorCode::Fsm(s) => s.into(),
            ErrorCode::Cease(s) => s.into(),
            ErrorCode::RouteRefresh(s) => s.into(),
            ErrorCode::Unknown { subcode, .. } => subcode,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, sub) = (self.code(), self.subcode());
        match self {
            ErrorCode::MessageHeader(s) => write!(f, "message header error: {s:?}"),
            ErrorCode::Open(s) => write!(f, "OPEN message error: {s:?}"),
            ErrorCode::Update(s) => write!(f, "UPDATE message error: {s:?}"),
            ErrorCode::HoldTimerExpired => f.write_str("hold timer expired"),
            ErrorCode::Fsm(s) => write!(f, "finite state machine error: {s:?}"),
            ErrorCode::Cease(s) => write!(f, "cease: {s:?}"),
            ErrorCode::RouteRefresh(s) => write!(f, "ROUTE-REFRESH message error: {s:?}"),
            ErrorCode::SendHoldTimerExpired => f.write_str("send hold timer expired"),
            ErrorCode::Unknown { .. } => write!(f, "unknown error"),
        }?;
        write!(f, " ({code}/{sub})")
    }
}

/// A NOTIFICATION: what to send before closing, or what the peer sent us.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub struct Notification {
    pub error: ErrorCode,
    /// The Data field; its meaning depends on the code (RFC 4271 §6).
    pub data: Vec<u8>,
}

/// Longest Shutdown Communication, in octets (RFC 9003 §2).
pub const MAX_SHUTDOWN_COMMUNICATION_LEN: usize = 255;

/// The Data field of a Cease/Administrative Shutdown or Reset did not hold a
/// valid Shutdown Communication (RFC 9003 §4: log it, do not fail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownCommunicationError {
    #[error("shutdown communication length {declared} exceeds the {available} octets present")]
    BadLength { declared: usize, available: usize },
    #[error("shutdown communication is not valid UTF-8")]
    NotUtf8,
}

impl Notification {
    pub fn new(error: ErrorCode, data: impl Into<Vec<u8>>) -> Self {
        Notification {
            error,
            data: data.into(),
        }
    }

    /// A notification with an empty Data field.
    pub fn bare(error: ErrorCode) -> Self {
        Notification {
            error,
            data: Vec::new(),
        }
    }

    pub fn header(sub: HeaderError, data: impl Into<Vec<u8>>) -> Self {
        Self::new(ErrorCode::MessageHeader(sub), data)
    }

    pub fn open(sub: OpenError, data: impl Into<Vec<u8>>) -> Self {
        Self::new(ErrorCode::Open(sub), data)
    }

    pub fn update(sub: UpdateError, data: impl Into<Vec<u8>>) -> Self {
        Self::new(ErrorCode::Update(sub), data)
    }

    pub fn cease(sub: CeaseSubcode, data: impl Into<Vec<u8>>) -> Self {
        Self::new(ErrorCode::Cease(sub), data)
    }

    /// Cease/Administrative Shutdown (or Reset) carrying a Shutdown
    /// Communication (RFC 9003 §2). A message longer than 255 octets is cut
    /// at the last character boundary that fits.
    pub fn admin_shutdown(sub: CeaseSubcode, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION_LEN);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message.as_bytes()[..end];
        let mut data = Vec::with_capacity(1 + text.len());
        data.push(text.len() as u8);
        data.extend_from_slice(text);
        Self::cease(sub, data)
    }

    /// Cease/Maximum Number of Prefixes Reached with the RFC 4486 §4 data:
    /// AFI (2 octets), SAFI (1), the configured upper bound (4).
    pub fn max_prefixes(family: Family, limit: u32) -> Self {
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&u16::from(family.afi).to_be_bytes());
        data.push(family.safi.into());
        data.extend_from_slice(&limit.to_be_bytes());
        Self::cease(CeaseSubcode::MaximumPrefixesReached, data)
    }

    /// The Shutdown Communication of a Cease/Administrative Shutdown or Reset
    /// (RFC 9003), `None` for other notifications or an empty Data field.
    pub fn shutdown_communication(&self) -> Option<Result<&str, ShutdownCommunicationError>> {
        match self.error {
            ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown)
            | ErrorCode::Cease(CeaseSubcode::AdministrativeReset) => {}
            _ => return None,
        }
        let (&len, rest) = self.data.split_first()?;
        let len = usize::from(len);
        let Some(text) = rest.get(..len) else {
            return Some(Err(ShutdownCommunicationError::BadLength {
                declared: len,
                available: rest.len(),
            }));
        };
        Some(std::str::from_utf8(text).map_err(|_| ShutdownCommunicationError::NotUtf8))
    }

    /// Decodes the message body (everything after the 19-octet header).
    ///
    /// RFC 4271 §6.4 prescribes no error for a NOTIFICATION: a body too short
    /// to hold code and subcode is reported as a header length error so the
    /// caller can log it; the connection closes either way.
    pub fn decode(body: &[u8]) -> Result<Self, Notification> {
        match body {
            [code, subcode, data @ ..] => Ok(Notification {
                error: ErrorCode::from_wire(*code, *subcode),
                data: data.to_vec(),
            }),
            _ => Err(Notification::header(
                HeaderError::BadMessageLength,
                ((super::header::HEADER_LEN + body.len()) as u16).to_be_bytes(),
            )),
        }
    }

    /// Appends the message body.
    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_u8(self.error.code());
        buf.put_u8(self.error.subcode());
        buf.put_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        match self.shutdown_communication() {
            Some(Ok(text)) if !text.is_empty() => write!(f, ": \"{}\"", text.escape_debug()),
            Some(Err(e)) => write!(f, " ({e})"),
            _ if !self.data.is_empty() => write!(f, ", data {:02x?}", self.data),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_subcode_round_trips() {
        for code in 0..=255u8 {
            for subcode in 0..=255u8 {
                let e = ErrorCode::from_wire(code, subcode);
                assert_eq!((e.code(), e.subcode()), (code, subcode));
            }
        }
    }

    #[test]
    fn known_pairs_get_named_variants() {
        assert_eq!(
            ErrorCode::from_wire(6, 2),
            ErrorCode::Cease(CeaseSubcode::AdministrativeShutdown)
        );
        assert_eq!(ErrorCode::from_wire(4, 0), ErrorCode::HoldTimerExpired);
        assert_eq!(
            ErrorCode::from_wire(4, 1),
            ErrorCode::Unknown {
                code: 4,
                subcode: 1
            }
        );
        assert_eq!(
            ErrorCode::from_wire(3, 11),
            ErrorCode::Update(UpdateError::MalformedAsPath)
        );
        assert_eq!(
            ErrorCode::from_wire(3, 7),
            ErrorCode::Unknown {
                code: 3,
                subcode: 7
            }
        );
    }

    #[test]
    fn shutdown_communication_rfc9003() {
        let n = Notification::admin_shutdown(CeaseSubcode::AdministrativeShutdown, "upgrade");
        assert_eq!(n.data, b"\x07upgrade");
        assert_eq!(n.shutdown_communication(), Some(Ok("upgrade")));
        let mut buf = BytesMut::new();
        n.encode_body(&mut buf);
        assert_eq!(&buf[..], b"\x06\x02\x07upgrade");
        assert_eq!(Notification::decode(&buf).unwrap(), n);
    }

    #[test]
    fn shutdown_communication_is_cut_at_255_octets_on_a_char_boundary() {
        let long = "é".repeat(200); // 400 octets
        let n = Notification::admin_shutdown(CeaseSubcode::AdministrativeReset, &long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_communication().unwrap().unwrap().len(), 254);
    }

    #[test]
    fn bad_shutdown_communication_is_reported_not_fatal() {
        let n = Notification::cease(CeaseSubcode::AdministrativeShutdown, b"\x09short".to_vec());
        assert!(matches!(
            n.shutdown_communication(),
            Some(Err(ShutdownCommunicationError::BadLength {
                declared: 9,
                available: 5
            }))
        ));
        let n = Notification::cease(
            CeaseSubcode::AdministrativeShutdown,
            b"\x02\xff\xfe".to_vec(),
        );
        assert_eq!(
            n.shutdown_communication(),
            Some(Err(ShutdownCommunicationError::NotUtf8))
        );
        assert!(n.to_string().contains("UTF-8"));
    }

    #[test]
    fn max_prefixes_data_rfc4486() {
        let n = Notification::max_prefixes(Family::IPV4_UNICAST, 1000);
        assert_eq!(n.data, [0, 1, 1, 0, 0, 0x03, 0xe8]);
    }

    #[test]
    fn short_body_is_an_error_not_a_panic() {
        assert!(Notification::decode(&[]).is_err());
        assert!(Notification::decode(&[6]).is_err());
    }
}
