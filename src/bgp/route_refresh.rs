//! ROUTE-REFRESH messages (RFC 2918, RFC 7313). PLACEHOLDER: replaced by the OPEN/capabilities work.

use bytes::{BufMut, BytesMut};

use super::notification::Notification;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRefresh {
    pub raw: Vec<u8>,
}

impl RouteRefresh {
    pub fn decode(body: &[u8]) -> Result<RouteRefresh, Notification> {
        Ok(RouteRefresh { raw: body.to_vec() })
    }

    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.raw);
    }
}
