//! OPEN messages (RFC 4271 §4.2) with RFC 9072 extended optional parameters and the §6.2 wire checks.

use bytes::{BufMut, BytesMut};

use super::capability::{Capability, CapabilityOverrun};
use super::header::HEADER_LEN;
use super::notification::{ErrorCode, HeaderError, Notification, OpenError};
use super::open_enum::open_enum;
use super::types::{Asn, RouterId};

/// The only BGP version there is (RFC 4271).
pub const BGP_VERSION: u8 = 4;
/// Octets of the fixed part of the body, up to the Optional Parameters Length.
pub const MIN_BODY_LEN: usize = 10;
/// Marks the RFC 9072 extended form, in both the Non-Ext OP Len and the Non-Ext OP Type octet.
const EXTENDED: u8 = 255;

open_enum! {
    /// Optional Parameter Type (IANA "BGP OPEN Optional Parameter Types").
    pub enum ParameterType: u8 {
        /// Deprecated by RFC 5492 §2; refused like any non-capability parameter.
        Authentication = 1,
        /// RFC 5492 §4.
        Capabilities = 2,
        /// RFC 9072 §2: not a parameter, flags the extended form.
        ExtendedLength = 255,
    }
}

/// How the capabilities are spread over Capabilities optional parameters.
///
/// RFC 5492 §4 allows one parameter holding many capabilities or many
/// parameters; BIRD sends the first, FRR the second. Keeping the layout
/// lets an OPEN re-encode byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ParameterLayout {
    /// All capabilities in one parameter; none at all if there are none.
    #[default]
    Single,
    /// One parameter per capability.
    PerCapability,
    /// The number of capabilities in each parameter, in order, for any other
    /// layout (for instance an empty Capabilities parameter). If the counts
    /// do not add up, encoding cuts them or puts the rest in a last parameter.
    Groups(Vec<usize>),
}

impl ParameterLayout {
    /// The canonical layout for these per-parameter counts (what decoding yields).
    pub fn from_groups(groups: Vec<usize>) -> Self {
        match groups.as_slice() {
            [] => ParameterLayout::Single,
            [n] if *n > 0 => ParameterLayout::Single,
            [_, _, ..] if groups.iter().all(|&g| g == 1) => ParameterLayout::PerCapability,
            _ => ParameterLayout::Groups(groups),
        }
    }

    /// Capabilities per parameter for `count` capabilities; always sums to `count`.
    pub fn groups(&self, count: usize) -> Vec<usize> {
        match self {
            ParameterLayout::Single if count == 0 => vec![],
            ParameterLayout::Single => vec![count],
            ParameterLayout::PerCapability => vec![1; count],
            ParameterLayout::Groups(groups) => {
                let mut left = count;
                let mut out = Vec::with_capacity(groups.len() + 1);
                for &g in groups {
                    let g = g.min(left);
                    out.push(g);
                    left -= g;
                }
                if left > 0 {
                    out.push(left);
                }
                out
            }
        }
    }
}

/// An OPEN message body.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///  +-+-+-+-+-+-+-+-+
///  |    Version    |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |     My Autonomous System      |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |           Hold Time           |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |                         BGP Identifier                        |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  | Opt Parm Len  |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///  |             Optional Parameters (variable)                    |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
///  Each Optional Parameter:         RFC 9072 extended form, used when the
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-   parameters exceed 255 octets:
///  | Parm. Type    | Parm. Length |  +---------------+---------------+
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-   |Non-Ext OP Len.|Non-Ext OP Type|
///  ~  Parameter Value (variable)  ~  |     (255)     |     (255)     |
///  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-   +---------------+---------------+
///                                    | Extended Opt. Parm. Length    |
///                                    +-------------------------------+
///                                    then parameters with a 2-octet
///                                    Parm. Length.
/// ```
///
/// Only Capabilities parameters (type 2, RFC 5492) exist today; any other
/// fails decoding with Unsupported Optional Parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Always [`BGP_VERSION`] when decoded.
    pub version: u8,
    /// The 2-octet My Autonomous System field: AS_TRANS for a 4-octet AS
    /// (RFC 6793 §4.1). Use [`Open::asn`] for the real AS.
    pub my_as: u16,
    /// Seconds; 0 or at least 3 (RFC 4271 §4.2).
    pub hold_time: u16,
    pub router_id: RouterId,
    /// In wire order, across all Capabilities parameters.
    pub capabilities: Vec<Capability>,
    pub layout: ParameterLayout,
}

/// Why an OPEN body was refused; [`Notification::from`] gives the
/// NOTIFICATION RFC 4271 §6.2 prescribes for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenDecodeError {
    #[error("OPEN body of {0} octets is shorter than the 10-octet minimum")]
    TooShort(usize),
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    #[error("hold time {0} is neither 0 nor at least 3 seconds")]
    UnacceptableHoldTime(u16),
    #[error("BGP identifier 0.0.0.0")]
    ZeroRouterId,
    #[error("optional parameters length {declared} does not match the {available} octets present")]
    ParametersLength { declared: usize, available: usize },
    #[error("optional parameter at offset {offset} declares {declared} octets, {available} remain")]
    ParameterOverrun {
        offset: usize,
        declared: usize,
        available: usize,
    },
    #[error("unsupported optional parameter type {0:?}")]
    UnsupportedParameter(ParameterType),
    #[error("malformed capabilities parameter: {0}")]
    Capability(#[from] CapabilityOverrun),
}

impl From<OpenDecodeError> for Notification {
    fn from(e: OpenDecodeError) -> Self {
        match e {
            // RFC 4271 §6.1: Bad Message Length, Data = the Length field. The
            // header code already refuses OPENs under 29 octets; this only
            // guards direct callers.
            OpenDecodeError::TooShort(len) => Notification::header(
                HeaderError::BadMessageLength,
                u16::try_from(HEADER_LEN + len)
                    .unwrap_or(u16::MAX)
                    .to_be_bytes(),
            ),
            // RFC 4271 §6.2: "The Data field is a 2-octet unsigned integer,
            // which indicates the largest, locally-supported version number
            // less than the version the remote BGP peer bid [...], or if the
            // smallest, locally-supported version number is greater than the
            // version the remote BGP peer bid, then the smallest,
            // locally-supported version number." Both are 4 here.
            OpenDecodeError::UnsupportedVersion(_) => Notification::open(
                OpenError::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes(),
            ),
            OpenDecodeError::UnacceptableHoldTime(_) => {
                Notification::open(OpenError::UnacceptableHoldTime, [])
            }
            OpenDecodeError::ZeroRouterId => Notification::open(OpenError::BadBgpIdentifier, []),
            OpenDecodeError::UnsupportedParameter(_) => {
                Notification::open(OpenError::UnsupportedOptionalParameter, [])
            }
            // RFC 4271 §6.2: "All errors detected while processing the OPEN
            // message MUST be indicated by sending the NOTIFICATION message
            // with the Error Code OPEN Message Error", and "If one of the
            // Optional Parameters in the OPEN message is recognized, but is
            // malformed, then the Error Subcode MUST be set to 0
            // (Unspecific)". Built through from_wire so that it equals what
            // decoding the NOTIFICATION yields (OpenError names no subcode 0).
            OpenDecodeError::ParametersLength { .. }
            | OpenDecodeError::ParameterOverrun { .. }
            | OpenDecodeError::Capability(_) => {
                Notification::new(ErrorCode::from_wire(2, 0), Vec::new())
            }
        }
    }
}

/// An OPEN that cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenEncodeError {
    #[error(transparent)]
    Capability(#[from] super::capability::CapabilityEncodeError),
    #[error("optional parameters of {0} octets exceed the 65535-octet extended length")]
    ParametersTooLong(usize),
}

impl Open {
    /// An OPEN for `asn`: My Autonomous System gets AS_TRANS if `asn` needs
    /// 4 octets (RFC 6793 §4.1), and a 4-octet AS capability for `asn` is
    /// appended unless `capabilities` has one (RFC 6793 §3: a speaker that
    /// supports 4-octet AS numbers advertises it).
    pub fn new(
        asn: Asn,
        hold_time: u16,
        router_id: RouterId,
        mut capabilities: Vec<Capability>,
    ) -> Self {
        if !capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
        {
            capabilities.push(Capability::FourOctetAs(asn));
        }
        Open {
            version: BGP_VERSION,
            my_as: asn.to_two_octet(),
            hold_time,
            router_id,
            capabilities,
            layout: ParameterLayout::Single,
        }
    }

    /// The speaker's AS: from the first 4-octet AS capability, else My
    /// Autonomous System (RFC 6793 §4.2.2).
    pub fn asn(&self) -> Asn {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(Asn(u32::from(self.my_as)))
    }

    /// Decodes the body (after the 19-octet header); errors are the
    /// NOTIFICATION to send.
    pub fn decode(body: &[u8]) -> Result<Open, Notification> {
        Ok(Self::parse(body)?)
    }

    /// Like [`Open::decode`] but says what was wrong.
    ///
    /// Checks, in RFC 4271 §6.2 order: version, hold time, BGP Identifier
    /// (zero is invalid, RFC 6286 §2.2), then the optional parameters. The
    /// Bad Peer AS and own-identifier checks need configuration and belong
    /// to the session, not the codec.
    pub fn parse(body: &[u8]) -> Result<Open, OpenDecodeError> {
        let Some((fixed, params)) = body.split_first_chunk::<MIN_BODY_LEN>() else {
            return Err(OpenDecodeError::TooShort(body.len()));
        };
        let version = fixed[0];
        if version != BGP_VERSION {
            return Err(OpenDecodeError::UnsupportedVersion(version));
        }
        let my_as = u16::from_be_bytes([fixed[1], fixed[2]]);
        let hold_time = u16::from_be_bytes([fixed[3], fixed[4]]);
        // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of
        // one or two seconds."
        if matches!(hold_time, 1 | 2) {
            return Err(OpenDecodeError::UnacceptableHoldTime(hold_time));
        }
        let router_id =
            RouterId::from(u32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]));
        if router_id.to_u32() == 0 {
            return Err(OpenDecodeError::ZeroRouterId);
        }
        let (capabilities, groups) = parse_parameters(fixed[9], params)?;
        Ok(Open {
            version,
            my_as,
            hold_time,
            router_id,
            capabilities,
            layout: ParameterLayout::from_groups(groups),
        })
    }

    /// Checks that [`Open::encode_body`] can write every capability.
    pub fn validate(&self) -> Result<(), OpenEncodeError> {
        self.encode_params().map(|_| ())
    }

    /// The Capabilities parameter values, in the short form if they fit it.
    fn encode_params(&self) -> Result<(Vec<BytesMut>, bool), OpenEncodeError> {
        let mut caps = self.capabilities.iter();
        let mut values = Vec::new();
        for n in self.layout.groups(self.capabilities.len()) {
            let mut value = BytesMut::new();
            for c in caps.by_ref().take(n) {
                c.encode(&mut value)?;
            }
            values.push(value);
        }
        let short_len: usize = values.iter().map(|v| 2 + v.len()).sum();
        // RFC 9072 §2 (paraphrased): the extended encoding is for when the
        // Optional Parameters exceed 255 octets; otherwise the RFC 4271 one
        // is kept so that speakers without RFC 9072 can read the OPEN. BIRD
        // draws the line at the same place.
        let extended = short_len > 255 || values.iter().any(|v| v.len() > 255);
        let ext_len: usize = values.iter().map(|v| 3 + v.len()).sum();
        if extended && (ext_len > usize::from(u16::MAX) || values.iter().any(|v| v.len() > 65535)) {
            return Err(OpenEncodeError::ParametersTooLong(ext_len));
        }
        Ok((values, extended))
    }

    /// Appends the body.
    ///
    /// Decoded OPENs and those whose [`Open::validate`] passes encode fully.
    /// Otherwise (a capability value over 255 octets, set by hand) the
    /// offending capabilities are left out, since this signature cannot
    /// fail: build OPENs from configuration through [`Open::validate`]. An
    /// OPEN over 4096 octets is refused by `Message::encode`.
    pub fn encode_body(&self, buf: &mut BytesMut) {
        let (values, extended) = match self.encode_params() {
            Ok(v) => v,
            Err(_) => {
                let mut valid = self.clone();
                valid
                    .capabilities
                    .retain(|c| c.encode(&mut BytesMut::new()).is_ok());
                valid.encode_params().unwrap_or_default()
            }
        };
        buf.put_u8(self.version);
        buf.put_u16(self.my_as);
        buf.put_u16(self.hold_time);
        buf.put_u32(self.router_id.to_u32());
        let cap = u8::from(ParameterType::Capabilities);
        if extended {
            let ext_len: usize = values.iter().map(|v| 3 + v.len()).sum();
            buf.put_u8(EXTENDED);
            buf.put_u8(EXTENDED);
            buf.put_u16(ext_len as u16);
            for v in &values {
                buf.put_u8(cap);
                buf.put_u16(v.len() as u16);
                buf.put_slice(v);
            }
        } else {
            let len: usize = values.iter().map(|v| 2 + v.len()).sum();
            buf.put_u8(len as u8);
            for v in &values {
                buf.put_u8(cap);
                buf.put_u8(v.len() as u8);
                buf.put_slice(v);
            }
        }
    }
}

/// Parses the optional parameters after the fixed part; returns the
/// capabilities and how many each Capabilities parameter held.
fn parse_parameters(
    short_len: u8,
    rest: &[u8],
) -> Result<(Vec<Capability>, Vec<usize>), OpenDecodeError> {
    // RFC 9072 §2 (paraphrased): when the one-octet Optional Parameters
    // Length is non-zero, the octet after it (Non-Ext OP Type) decides: 255
    // means the extended encoding, with a 2-octet total length and 2-octet
    // Parameter Length fields, whatever the value of that first octet
    // (senders put 255 there). Anything else is the RFC 4271 encoding.
    let (params, len_octets) = if short_len != 0 && rest.first() == Some(&EXTENDED) {
        let Some([_, hi, lo]) = rest.first_chunk::<3>() else {
            return Err(OpenDecodeError::ParametersLength {
                declared: 3,
                available: rest.len(),
            });
        };
        let declared = usize::from(u16::from_be_bytes([*hi, *lo]));
        let params = &rest[3..];
        if params.len() != declared {
            return Err(OpenDecodeError::ParametersLength {
                declared,
                available: params.len(),
            });
        }
        (params, 2)
    } else {
        let declared = usize::from(short_len);
        if rest.len() != declared {
            return Err(OpenDecodeError::ParametersLength {
                declared,
                available: rest.len(),
            });
        }
        (rest, 1)
    };

    let mut capabilities = Vec::new();
    let mut groups = Vec::new();
    let mut input = params;
    while !input.is_empty() {
        let offset = params.len() - input.len();
        let head = 1 + len_octets;
        let overrun = |declared| OpenDecodeError::ParameterOverrun {
            offset,
            declared,
            available: input.len().saturating_sub(head),
        };
        let Some(header) = input.get(..head) else {
            return Err(overrun(head));
        };
        let kind = ParameterType::from(header[0]);
        let len = match len_octets {
            1 => usize::from(header[1]),
            _ => usize::from(u16::from_be_bytes([header[1], header[2]])),
        };
        let Some(value) = input.get(head..head + len) else {
            return Err(overrun(len));
        };
        if kind != ParameterType::Capabilities {
            // RFC 4271 §6.2: "If one of the Optional Parameters in the OPEN
            // message is not recognized, then the Error Subcode MUST be set
            // to Unsupported Optional Parameters."
            return Err(OpenDecodeError::UnsupportedParameter(kind));
        }
        let list = Capability::decode_list(value)?;
        groups.push(list.len());
        capabilities.extend(list);
        input = &input[head + len..];
    }
    Ok((capabilities, groups))
}

#[cfg(test)]
pub(crate) mod strategy {
    //! proptest strategies producing OPENs in canonical form.
    use super::*;
    use crate::bgp::capability::strategy::capability;
    use proptest::prelude::*;

    pub fn layout() -> impl Strategy<Value = ParameterLayout> {
        prop_oneof![
            Just(ParameterLayout::Single),
            Just(ParameterLayout::PerCapability),
            prop::collection::vec(0..4usize, 0..6).prop_map(ParameterLayout::Groups),
        ]
    }

    pub fn open() -> impl Strategy<Value = Open> {
        (
            any::<u16>(),
            any::<u16>().prop_filter("RFC 4271 §6.2", |h| !matches!(h, 1 | 2)),
            1..=u32::MAX,
            prop::collection::vec(capability(), 0..12),
            layout(),
        )
            .prop_map(|(my_as, hold_time, id, capabilities, layout)| {
                let layout = ParameterLayout::from_groups(layout.groups(capabilities.len()));
                Open {
                    version: BGP_VERSION,
                    my_as,
                    hold_time,
                    router_id: RouterId::from(id),
                    capabilities,
                    layout,
                }
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bgp::capability::{
        AddPathFamily, AddPathMode, CapabilityCode, Fqdn, GracefulRestart, GracefulRestartFamily,
    };
    use crate::bgp::context::CodecContext;
    use crate::bgp::message::Message;
    use crate::bgp::types::Family;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn body(open: &Open) -> Vec<u8> {
        let mut buf = BytesMut::new();
        open.encode_body(&mut buf);
        buf.to_vec()
    }

    fn rid(a: u8, b: u8, c: u8, d: u8) -> RouterId {
        RouterId(Ipv4Addr::new(a, b, c, d))
    }

    /// An OPEN as BIRD 2 sends it: every capability in one parameter.
    pub(crate) fn bird_open() -> (Open, Vec<u8>) {
        let both = |family| AddPathFamily {
            family,
            mode: AddPathMode::Both,
        };
        let open = Open {
            version: 4,
            my_as: 64512,
            hold_time: 240,
            router_id: rid(192, 0, 2, 1),
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::ExtendedMessage,
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: false,
                    notification: false,
                    restart_time: 120,
                    families: vec![
                        GracefulRestartFamily {
                            family: Family::IPV4_UNICAST,
                            forwarding_preserved: true,
                        },
                        GracefulRestartFamily {
                            family: Family::IPV6_UNICAST,
                            forwarding_preserved: true,
                        },
                    ],
                }),
                Capability::FourOctetAs(Asn(64512)),
                Capability::AddPath(vec![both(Family::IPV4_UNICAST), both(Family::IPV6_UNICAST)]),
                Capability::EnhancedRouteRefresh,
                Capability::Fqdn(Fqdn {
                    hostname: "bird1".into(),
                    domain: String::new(),
                }),
            ],
            layout: ParameterLayout::Single,
        };
        #[rustfmt::skip]
        let bytes = vec![
            4, 0xfc, 0x00, 0x00, 0xf0, 192, 0, 2, 1,
            57, // Opt Parm Len
            2, 55, // one Capabilities parameter
            1, 4, 0, 1, 0, 1,
            1, 4, 0, 2, 0, 1,
            2, 0,
            6, 0,
            64, 10, 0x00, 120, 0, 1, 1, 0x80, 0, 2, 1, 0x80,
            65, 4, 0, 0, 0xfc, 0x00,
            69, 8, 0, 1, 1, 3, 0, 2, 1, 3,
            70, 0,
            73, 7, 5, b'b', b'i', b'r', b'd', b'1', 0,
        ];
        (open, bytes)
    }

    /// An OPEN as FRR sends it: one parameter per capability.
    pub(crate) fn frr_open() -> (Open, Vec<u8>) {
        let open = Open {
            version: 4,
            my_as: 64512,
            hold_time: 90,
            router_id: rid(192, 0, 2, 2),
            capabilities: vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::Multiprotocol(Family::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::FourOctetAs(Asn(64512)),
                Capability::AddPath(vec![AddPathFamily {
                    family: Family::IPV4_UNICAST,
                    mode: AddPathMode::Receive,
                }]),
                Capability::Fqdn(Fqdn {
                    hostname: "frr-r1".into(),
                    domain: String::new(),
                }),
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: true,
                    notification: true,
                    restart_time: 120,
                    families: vec![],
                }),
                Capability::ExtendedMessage,
            ],
            layout: ParameterLayout::PerCapability,
        };
        #[rustfmt::skip]
        let bytes = vec![
            4, 0xfc, 0x00, 0x00, 90, 192, 0, 2, 2,
            62,
            2, 6, 1, 4, 0, 1, 0, 1,
            2, 6, 1, 4, 0, 2, 0, 1,
            2, 2, 2, 0,
            2, 2, 70, 0,
            2, 6, 65, 4, 0, 0, 0xfc, 0x00,
            2, 6, 69, 4, 0, 1, 1, 1,
            2, 10, 73, 8, 6, b'f', b'r', b'r', b'-', b'r', b'1', 0,
            2, 4, 64, 2, 0xc0, 120,
            2, 2, 6, 0,
        ];
        (open, bytes)
    }

    fn err(body: &[u8]) -> Notification {
        Open::decode(body).unwrap_err()
    }

    fn unspecific() -> Notification {
        Notification::new(ErrorCode::from_wire(2, 0), Vec::new())
    }

    /// A minimal valid body with the given optional parameters.
    fn with_params(opt_len: u8, params: &[u8]) -> Vec<u8> {
        let mut b = vec![4, 0xfd, 0xe8, 0, 180, 10, 0, 0, 1, opt_len];
        b.extend_from_slice(params);
        b
    }

    #[test]
    fn bird_style_open() {
        let (open, bytes) = bird_open();
        assert_eq!(body(&open), bytes);
        assert_eq!(Open::decode(&bytes).unwrap(), open);
        assert_eq!(open.asn(), Asn(64512));
    }

    #[test]
    fn frr_style_open() {
        let (open, bytes) = frr_open();
        assert_eq!(body(&open), bytes);
        assert_eq!(Open::decode(&bytes).unwrap(), open);
    }

    #[test]
    fn whole_message_round_trip() {
        let ctx = CodecContext::default();
        let (open, bytes) = frr_open();
        let msg = Message::Open(open);
        let wire = msg.to_bytes(&ctx).unwrap();
        assert_eq!(&wire[16..19], [0, (19 + bytes.len()) as u8, 1]);
        assert_eq!(&wire[19..], bytes);
        assert_eq!(Message::decode(&wire, &ctx).unwrap(), msg);
    }

    #[test]
    fn no_parameters() {
        let bytes = with_params(0, &[]);
        let open = Open::decode(&bytes).unwrap();
        assert!(open.capabilities.is_empty());
        assert_eq!(open.layout, ParameterLayout::Single);
        assert_eq!(open.asn(), Asn(65000));
        assert_eq!(body(&open), bytes);
    }

    #[test]
    fn empty_capabilities_parameter_round_trips() {
        let bytes = with_params(6, &[2, 0, 2, 2, 2, 0]);
        let open = Open::decode(&bytes).unwrap();
        assert_eq!(open.capabilities, [Capability::RouteRefresh]);
        assert_eq!(open.layout, ParameterLayout::Groups(vec![0, 1]));
        assert_eq!(body(&open), bytes);
    }

    #[test]
    fn new_for_four_octet_as_uses_as_trans() {
        let open = Open::new(Asn(4_200_000_000), 90, rid(192, 0, 2, 9), vec![]);
        assert_eq!(open.my_as, 23456);
        assert_eq!(
            open.capabilities,
            [Capability::FourOctetAs(Asn(4_200_000_000))]
        );
        assert_eq!(open.asn(), Asn(4_200_000_000));
        let back = Open::decode(&body(&open)).unwrap();
        assert_eq!(back.asn(), Asn(4_200_000_000));

        let open = Open::new(
            Asn(64512),
            90,
            rid(192, 0, 2, 9),
            vec![Capability::RouteRefresh],
        );
        assert_eq!(open.my_as, 64512);
        assert_eq!(
            open.capabilities.last(),
            Some(&Capability::FourOctetAs(Asn(64512)))
        );
    }

    #[test]
    fn unsupported_version_rfc4271() {
        for v in [3u8, 5] {
            let mut b = with_params(0, &[]);
            b[0] = v;
            let n = err(&b);
            assert_eq!(
                n.error,
                ErrorCode::Open(OpenError::UnsupportedVersionNumber)
            );
            assert_eq!((n.error.code(), n.error.subcode()), (2, 1));
            assert_eq!(n.data, [0, 4]);
        }
    }

    #[test]
    fn hold_time_one_or_two_is_unacceptable() {
        for h in [1u8, 2] {
            let mut b = with_params(0, &[]);
            b[4] = h;
            let n = err(&b);
            assert_eq!(n, Notification::open(OpenError::UnacceptableHoldTime, []));
            assert_eq!((n.error.code(), n.error.subcode()), (2, 6));
        }
        for h in [0u8, 3] {
            let mut b = with_params(0, &[]);
            b[4] = h;
            assert_eq!(Open::decode(&b).unwrap().hold_time, u16::from(h));
        }
    }

    #[test]
    fn zero_router_id_is_bad_bgp_identifier_rfc6286() {
        let mut b = with_params(0, &[]);
        b[5..9].fill(0);
        let n = err(&b);
        assert_eq!(n, Notification::open(OpenError::BadBgpIdentifier, []));
        assert_eq!((n.error.code(), n.error.subcode()), (2, 3));
    }

    #[test]
    fn non_capability_parameter_is_unsupported() {
        // Type 1, the deprecated Authentication parameter.
        let n = err(&with_params(3, &[1, 1, 0]));
        assert_eq!(
            n,
            Notification::open(OpenError::UnsupportedOptionalParameter, [])
        );
        assert_eq!((n.error.code(), n.error.subcode()), (2, 4));
        assert_eq!(
            Open::parse(&with_params(2, &[9, 0])),
            Err(OpenDecodeError::UnsupportedParameter(
                ParameterType::Unknown(9)
            ))
        );
    }

    #[test]
    fn length_inconsistencies_are_open_error_unspecific() {
        for (opt_len, params) in [
            // Opt Parm Len runs past the message.
            (8u8, &[2u8, 2, 2, 0][..]),
            // Octets after the declared parameters.
            (4, &[2, 2, 2, 0, 0][..]),
            // Parameter Length runs past the parameters.
            (4, &[2, 3, 2, 0][..]),
            // A lone parameter type octet.
            (1, &[2][..]),
            // Capability Length runs past its parameter.
            (4, &[2, 2, 65, 4][..]),
            // A lone capability code octet.
            (3, &[2, 1, 65][..]),
            // Extended form cut inside its length field.
            (255, &[255, 0][..]),
            // Extended length disagrees with what is there.
            (255, &[255, 0, 9, 2, 0, 2, 2, 0][..]),
            // Extended parameter length overruns.
            (255, &[255, 0, 5, 2, 0, 3, 2, 0][..]),
        ] {
            let n = err(&with_params(opt_len, params));
            assert_eq!(n, unspecific(), "{params:?}");
            assert_eq!((n.error.code(), n.error.subcode()), (2, 0));
        }
    }

    #[test]
    fn unspecific_matches_the_decoded_notification() {
        let mut buf = BytesMut::new();
        unspecific().encode_body(&mut buf);
        assert_eq!(&buf[..], [2, 0]);
        assert_eq!(Notification::decode(&buf).unwrap(), unspecific());
    }

    #[test]
    fn short_body_is_bad_message_length() {
        let n = err(&[4, 0, 1, 0, 90, 1, 1, 1, 1]);
        assert_eq!(
            n,
            Notification::header(HeaderError::BadMessageLength, [0, 28])
        );
    }

    #[test]
    fn malformed_capability_value_does_not_fail_the_open() {
        let open = Open::decode(&with_params(6, &[2, 4, 65, 2, 0, 1])).unwrap();
        assert_eq!(
            open.capabilities,
            [Capability::Malformed {
                code: CapabilityCode::FourOctetAs,
                value: vec![0, 1]
            }]
        );
        assert_eq!(open.asn(), Asn(65000));
    }

    #[test]
    fn extended_parameters_rfc9072() {
        // 50 MP capabilities: 300 octets in one parameter, too long for the short form.
        let caps: Vec<_> = (0..50u16)
            .map(|i| Capability::Multiprotocol(Family::new(i.into(), 1u8.into())))
            .collect();
        let open = Open {
            capabilities: caps,
            ..Open::new(Asn(65000), 90, rid(10, 0, 0, 1), vec![])
        };
        let b = body(&open);
        assert_eq!(&b[9..16], [255, 255, 0x01, 0x2f, 2, 0x01, 0x2c]);
        assert_eq!(b.len(), 10 + 3 + 303);
        assert_eq!(Open::decode(&b).unwrap(), open);

        // Many short parameters adding up past 255 octets.
        let per = Open {
            layout: ParameterLayout::PerCapability,
            ..open.clone()
        };
        let b = body(&per);
        assert_eq!(&b[9..13], [255, 255, 0x01, 0xc2]); // 50 * (3 + 6) = 450
        assert_eq!(Open::decode(&b).unwrap(), per);
    }

    #[test]
    fn extended_form_only_past_255_octets() {
        let fill = |n| Open {
            capabilities: vec![Capability::Unknown {
                code: 200,
                value: vec![7; n],
            }],
            ..Open::new(Asn(65000), 90, rid(10, 0, 0, 1), vec![])
        };
        // 2 + (2 + 251) = 255: still the short form.
        let b = body(&fill(251));
        assert_eq!(b[9], 255);
        assert_eq!(b[10], 2);
        assert_eq!(b.len(), 10 + 255);
        assert_eq!(Open::decode(&b).unwrap(), fill(251));
        // 256: extended.
        let b = body(&fill(252));
        assert_eq!(&b[9..13], [255, 255, 0x01, 0x01]); // 3 + 254
        assert_eq!(Open::decode(&b).unwrap(), fill(252));
    }

    #[test]
    fn extended_form_with_any_nonzero_non_ext_len_is_accepted() {
        // RFC 9072 §2 keys on the Non-Ext OP Type octet when the length is non-zero.
        let b = with_params(1, &[255, 0, 5, 2, 0, 2, 2, 0]);
        let open = Open::decode(&b).unwrap();
        assert_eq!(open.capabilities, [Capability::RouteRefresh]);
    }

    #[test]
    fn validate_refuses_an_overlong_capability() {
        let open = Open {
            capabilities: vec![Capability::Unknown {
                code: 200,
                value: vec![0; 300],
            }],
            ..Open::new(Asn(65000), 90, rid(10, 0, 0, 1), vec![])
        };
        assert!(matches!(
            open.validate(),
            Err(OpenEncodeError::Capability(_))
        ));
        assert!(bird_open().0.validate().is_ok());
    }

    #[test]
    fn layout_groups() {
        assert_eq!(ParameterLayout::Groups(vec![2, 5]).groups(4), [2, 2]);
        assert_eq!(ParameterLayout::Groups(vec![1]).groups(3), [1, 2]);
        assert_eq!(
            ParameterLayout::from_groups(vec![1]),
            ParameterLayout::Single
        );
        assert_eq!(
            ParameterLayout::from_groups(vec![1, 1]),
            ParameterLayout::PerCapability
        );
        assert_eq!(
            ParameterLayout::from_groups(vec![0]),
            ParameterLayout::Groups(vec![0])
        );
    }

    proptest! {
        #[test]
        fn value_encode_decode(open in strategy::open()) {
            prop_assert_eq!(Open::decode(&body(&open)).unwrap(), open);
        }

        #[test]
        fn canonical_bytes_decode_encode(open in strategy::open()) {
            let bytes = body(&open);
            prop_assert_eq!(body(&Open::decode(&bytes).unwrap()), bytes);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(open) = Open::decode(&bytes) {
                prop_assert_eq!(Open::decode(&body(&open)).unwrap(), open);
            }
        }

        #[test]
        fn garbage_parameters_never_panic(
            opt_len in any::<u8>(),
            params in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            // A valid fixed part so that parameter parsing is reached.
            let bytes = with_params(opt_len, &params);
            if let Ok(open) = Open::decode(&bytes) {
                prop_assert_eq!(Open::decode(&body(&open)).unwrap(), open);
            }
        }
    }
}
