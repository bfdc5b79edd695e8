//! RFC 7606 outcomes of checking path attributes: what a decoder returns and what the Update records.

use super::super::notification::Notification;

/// The non-fatal approaches of RFC 7606 §2, weakest first, so that `max`
/// picks the one RFC 7606 §3(h) says wins ("session reset" is carried
/// separately as a [`Notification`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// "attribute discard": the attribute is dropped, the UPDATE is processed.
    Discard,
    /// "treat-as-withdraw": every announced prefix of the UPDATE is withdrawn.
    TreatAsWithdraw,
}

/// Why an attribute was found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("attribute flags {flags:#04x} conflict with the attribute type")]
    FlagsConflict { flags: u8 },
    #[error("attribute length {len} is invalid")]
    BadLength { len: usize },
    #[error("value is invalid: {0}")]
    InvalidValue(&'static str),
    #[error("attribute appears more than once; all but the first are discarded")]
    Duplicate,
    #[error("well-known mandatory attribute {type_code} is missing")]
    MissingWellKnown { type_code: u8 },
    #[error("fewer octets remain than an attribute header needs")]
    AttributeHeaderTruncated,
    #[error("attribute overruns the Total Attribute Length")]
    AttributeOverrun,
    #[error("attribute is not accepted from an external peer")]
    FromExternalPeer,
    #[error("first AS of AS_PATH is {first:?}, the peer is AS {peer}")]
    FirstAsNotPeer { first: Option<u32>, peer: u32 },
    #[error("confederation segment from a peer outside the confederation")]
    ConfedSegmentFromExternal,
    #[error("AS4 attribute received from a 4-octet-AS speaker")]
    As4FromNewSpeaker,
    #[error("AS4_PATH ignored: it holds more ASes than AS_PATH")]
    As4PathLonger,
    #[error("AS4 attributes ignored: AGGREGATOR AS is not AS_TRANS")]
    As4IgnoredAggregatorNotTrans,
    #[error("attribute error in an UPDATE without reachable NLRI")]
    ErrorWithoutNlri,
    #[error("MP_REACH_NLRI of an unsupported family cannot be withdrawn")]
    RawMpReachDropped,
}

/// A non-fatal error found while decoding an UPDATE, kept so that the FSM
/// and RIB can log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action:?} for attribute type {type_code}: {reason}")]
pub struct AttributeError {
    pub type_code: u8,
    pub action: Action,
    pub reason: Reason,
}

/// How checking one attribute failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrFailure {
    /// Attribute discard or treat-as-withdraw.
    Soft(Action, Reason),
    /// "session reset": the NOTIFICATION to send.
    Reset(Notification),
}

/// The outcome of one attribute decoder.
pub type AttrResult<T> = Result<T, AttrFailure>;

pub(crate) fn discard<T>(reason: Reason) -> AttrResult<T> {
    Err(AttrFailure::Soft(Action::Discard, reason))
}

/// Length check shared by the fixed-size attributes.
pub(crate) fn bad_len(len: usize) -> Reason {
    Reason::BadLength { len }
}

/// The outcome of a value of the wrong size for attributes handled with
/// "treat-as-withdraw" (the `on_syntax` of `parser::whole`).
pub(crate) fn withdraw_len(len: usize) -> AttrFailure {
    AttrFailure::Soft(Action::TreatAsWithdraw, bad_len(len))
}

/// As [`withdraw_len`], for attributes handled with "attribute discard".
pub(crate) fn discard_len(len: usize) -> AttrFailure {
    AttrFailure::Soft(Action::Discard, bad_len(len))
}
