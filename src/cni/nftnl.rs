//! Reading nftables state over nfnetlink (no `nft` process): how many rules a chain holds.
//!
//! ```text
//!  nlmsghdr type = NFNL_SUBSYS_NFTABLES (10) << 8 | NFT_MSG_GETRULE (7), flags REQUEST|DUMP
//!  nfgenmsg (4 octets): family u8 (NFPROTO_INET = 1) | version u8 (0) | res_id u16 (big endian)
//!  attrs: NFTA_RULE_TABLE (1) string | NFTA_RULE_CHAIN (2) string
//! ```

use super::netlink::{F_DUMP, Msg, Netlink};
use std::io;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETRULE: u16 = 7;
const NFPROTO_INET: u8 = 1;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;

/// Number of rules in `inet table chain` of the current namespace; 0 when
/// the table or chain does not exist. A dump filtered by table and chain
/// costs one netlink round trip, cheap enough to run on every ADD.
pub fn inet_rule_count(table: &str, chain: &str) -> io::Result<usize> {
    let mut nl = Netlink::open_proto(libc::NETLINK_NETFILTER)?;
    let mut m = Msg::new(
        NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE,
        F_DUMP,
        &[NFPROTO_INET, 0, 0, 0],
    );
    m.attr_str(NFTA_RULE_TABLE, table);
    m.attr_str(NFTA_RULE_CHAIN, chain);
    match nl.query(m) {
        Ok(rules) => Ok(rules.len()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(0),
        Err(e) => Err(e),
    }
}
