//! UPDATE messages (RFC 4271 §4.3). PLACEHOLDER: replaced by the UPDATE/attributes work.

use bytes::{BufMut, BytesMut};

use super::context::CodecContext;
use super::notification::Notification;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub raw: Vec<u8>,
}

impl Update {
    pub fn decode(body: &[u8], _ctx: &CodecContext) -> Result<Update, Notification> {
        Ok(Update { raw: body.to_vec() })
    }

    pub fn encode_body(&self, _ctx: &CodecContext, buf: &mut BytesMut) {
        buf.put_slice(&self.raw);
    }
}
