//! Config values that check themselves while being read, so a bad one is reported at its own position.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::bgp::Asn;

/// A BGP hold time in seconds: 0 (no keepalives) or at least 3 (RFC 4271 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTime(u16);

impl HoldTime {
    /// 90 s with keepalives every 30 s: a dead peer is noticed within a
    /// minute and a half without the flapping that very short timers cause
    /// on a loaded node (BIRD defaults to 240 s, FRR to 180 s).
    pub const DEFAULT: HoldTime = HoldTime(90);

    pub fn new(seconds: u16) -> Result<Self, String> {
        match seconds {
            1 | 2 => Err(format!(
                "hold time {seconds} is not allowed: use 0 or at least 3 seconds (RFC 4271 §4.2)"
            )),
            s => Ok(HoldTime(s)),
        }
    }

    pub fn seconds(self) -> u16 {
        self.0
    }
}

impl Default for HoldTime {
    fn default() -> Self {
        HoldTime::DEFAULT
    }
}

impl<'de> Deserialize<'de> for HoldTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HoldTime::new(u16::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// Seconds between connection attempts to a peer that is down (RFC 4271
/// §8: ConnectRetryTimer). Short by default because in a cluster peers come
/// and go; back-off applies only to a flapping peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRetry(u16);

impl ConnectRetry {
    pub const DEFAULT: ConnectRetry = ConnectRetry(5);

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }
}

impl Default for ConnectRetry {
    fn default() -> Self {
        ConnectRetry::DEFAULT
    }
}

impl<'de> Deserialize<'de> for ConnectRetry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u16::deserialize(d)? {
            0 => Err(de::Error::custom("connect_retry must be at least 1 second")),
            s => Ok(ConnectRetry(s)),
        }
    }
}

/// A prefix length bound in an import filter (0..=128; checked against the
/// filter's family once the whole filter is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLen(pub u8);

impl<'de> Deserialize<'de> for PrefixLen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            l @ 0..=128 => Ok(PrefixLen(l)),
            l => Err(de::Error::custom(format!("prefix length {l} is above 128"))),
        }
    }
}

/// A kernel routing table ID. 0 (unspecified) and 253-255 (default, main
/// alias conflicts and local) are refused, except 254 which is `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTable(u32);

impl RouteTable {
    /// The kernel's `main` table.
    pub const MAIN: RouteTable = RouteTable(254);

    pub fn id(self) -> u32 {
        self.0
    }
}

impl Default for RouteTable {
    fn default() -> Self {
        RouteTable::MAIN
    }
}

impl<'de> Deserialize<'de> for RouteTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RouteTable;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table number (1-252, 254, 256 and up) or \"main\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RouteTable, E> {
                match v {
                    "main" => Ok(RouteTable::MAIN),
                    other => Err(E::custom(format!(
                        "unknown table name {other:?}: use \"main\" or a number"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RouteTable, E> {
                match u32::try_from(v) {
                    Ok(254) => Ok(RouteTable::MAIN),
                    Ok(0) | Ok(253) | Ok(255) => Err(E::custom(format!(
                        "table {v} is reserved by the kernel (0 unspec, 253 default, 255 local)"
                    ))),
                    Ok(id) => Ok(RouteTable(id)),
                    Err(_) => Err(E::custom(format!("table {v} is out of range"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// The Restart Time of the graceful restart capability (RFC 4724 §3): 12
/// bits of seconds. Default 120 s, like BIRD and FRR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartTime(u16);

impl RestartTime {
    pub fn new(seconds: u16) -> Result<Self, String> {
        if seconds > 4095 {
            return Err(format!(
                "{seconds} s does not fit the 12-bit Restart Time of RFC 4724 §3 (at most 4095)"
            ));
        }
        Ok(RestartTime(seconds))
    }

    pub fn seconds(self) -> u16 {
        self.0
    }
}

impl Default for RestartTime {
    fn default() -> Self {
        RestartTime(120)
    }
}

impl<'de> Deserialize<'de> for RestartTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u16::deserialize(d)?;
        RestartTime::new(v).map_err(de::Error::custom)
    }
}

/// An AS number: 1..=4294967295 except AS_TRANS (RFC 6793 §9 reserves 23456).
pub(super) fn asn<'de, D: Deserializer<'de>>(d: D) -> Result<Asn, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(de::Error::custom("AS 0 is reserved (RFC 7607)")),
        23456 => Err(de::Error::custom(
            "AS 23456 is AS_TRANS, reserved for 2-octet compatibility (RFC 6793)",
        )),
        n => Ok(Asn(n)),
    }
}

/// A TCP-MD5 key (RFC 2385): 1 to 80 octets (the kernel's
/// `TCP_MD5SIG_MAXKEYLEN`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(key: String) -> Result<Self, String> {
        match key.len() {
            0 => Err("password must not be empty".into()),
            n if n > crate::bgp::tcp_md5::MAX_KEY_LEN => Err(format!(
                "password of {n} octets is longer than the {} TCP-MD5 allows",
                crate::bgp::tcp_md5::MAX_KEY_LEN
            )),
            _ => Ok(Password(key)),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Password::new(String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// A prefix limit: at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPrefixes(pub u32);

impl<'de> Deserialize<'de> for MaxPrefixes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            0 => Err(de::Error::custom(
                "max_prefixes must be at least 1 (leave it out for no limit)",
            )),
            n => Ok(MaxPrefixes(n)),
        }
    }
}

/// A percentage, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(pub u8);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            p @ 1..=100 => Ok(Percent(p)),
            p => Err(de::Error::custom(format!(
                "{p} is not a percentage between 1 and 100"
            ))),
        }
    }
}

/// A hop count for GTSM: 1 to 254.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hops(pub u8);

impl<'de> Deserialize<'de> for Hops {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            h @ 1..=254 => Ok(Hops(h)),
            h => Err(de::Error::custom(format!(
                "ttl_security is a hop count from 1 to 254, not {h}"
            ))),
        }
    }
}
