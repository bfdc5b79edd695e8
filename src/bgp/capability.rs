//! OPEN capabilities (RFC 5492). PLACEHOLDER: filled by the OPEN/capabilities work.
