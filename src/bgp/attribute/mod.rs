//! Path attributes (RFC 4271 §4.3, §5). PLACEHOLDER: filled by the UPDATE/attributes work.
