//! OPEN messages (RFC 4271 §4.2). PLACEHOLDER: replaced by the OPEN/capabilities work.

use bytes::{BufMut, BytesMut};

use super::notification::{HeaderError, Notification};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub raw: Vec<u8>,
}

impl Open {
    pub fn decode(body: &[u8]) -> Result<Open, Notification> {
        if body.len() < 10 {
            return Err(Notification::header(HeaderError::BadMessageLength, []));
        }
        Ok(Open { raw: body.to_vec() })
    }

    pub fn encode_body(&self, buf: &mut BytesMut) {
        buf.put_slice(&self.raw);
    }
}
