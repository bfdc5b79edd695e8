//! What a decoder or encoder must know about the session: the negotiated capabilities.

use super::types::{Asn, Family};

/// Whether the peer is in our AS; some RFC 7606 rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerRelation {
    /// iBGP: same AS.
    #[default]
    Internal,
    /// eBGP, with the AS the peer announced in its OPEN.
    External { peer_asn: Asn },
}

/// Negotiated session properties that change how the wire is read or written.
///
/// A session uses one for decoding what it receives and one for encoding what
/// it sends; they differ only in `add_path` (RFC 7911 negotiates each
/// direction on its own).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CodecContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and
    /// AGGREGATOR carry 4-octet AS numbers and AS4_* attributes are not used.
    pub four_octet_as: bool,
    /// Both sides advertised the extended message capability (RFC 8654):
    /// messages other than OPEN and KEEPALIVE may be up to 65535 octets.
    pub extended_message: bool,
    /// Families whose NLRI carry a 4-octet path identifier in this direction
    /// (RFC 7911 §3).
    pub add_path: Vec<Family>,
    /// iBGP or eBGP.
    pub peer: PeerRelation,
}

impl CodecContext {
    /// Whether NLRI of `family` carry a path identifier in this direction.
    pub fn add_path(&self, family: Family) -> bool {
        self.add_path.contains(&family)
    }

    /// The largest message this session may carry for messages other than
    /// OPEN and KEEPALIVE.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            super::header::MAX_EXTENDED_MESSAGE_LEN
        } else {
            super::header::MAX_MESSAGE_LEN
        }
    }
}
