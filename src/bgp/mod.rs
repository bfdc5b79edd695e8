//! BGP-4: the wire codec (pure), and later the session state machine, peer tasks and RIB.

pub(crate) mod open_enum;

pub mod as4;
pub mod attribute;
pub mod best_path;
pub mod budget;
pub mod capability;
pub mod context;
pub mod fsm;
#[doc(hidden)]
pub mod fuzzing;
pub mod graceful;
pub mod gtsm;
pub mod header;
pub mod message;
pub mod negotiate;
pub mod nlri;
pub mod notification;
pub mod open;
pub mod peer;
pub mod rib;
pub mod route_refresh;
pub mod tcp_md5;
pub mod types;
pub mod update;
pub mod update_packer;

pub use capability::{Capability, CapabilityCode};
pub use context::{CodecContext, PeerRelation};
pub use message::{EncodeError, Message};
pub use negotiate::{AsPair, Negotiated, negotiate};
pub use notification::{ErrorCode, Notification};
pub use open::Open;
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use types::{Afi, Asn, Family, RouterId, Safi};
