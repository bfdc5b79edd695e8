//! BGP-4: the wire codec (pure), and later the session state machine, peer tasks and RIB.

pub(crate) mod open_enum;

pub mod as4;
pub mod attribute;
pub mod capability;
pub mod context;
pub mod header;
pub mod message;
pub mod nlri;
pub mod notification;
pub mod open;
pub mod route_refresh;
pub mod types;
pub mod update;
pub mod update_packer;

pub use context::{CodecContext, PeerRelation};
pub use message::{EncodeError, Message};
pub use notification::{ErrorCode, Notification};
pub use types::{Afi, Asn, Family, RouterId, Safi};
