//! NLRI prefixes and ADD-PATH path identifiers (RFC 4271 §4.3, RFC 7911). PLACEHOLDER.
