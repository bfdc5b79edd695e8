//! `open_enum!`: IANA-number enums that keep values they do not know.

/// Declares an enum over an integer code point with one variant per known
/// value and an `Unknown(repr)` fallback, so that decoding never fails on a
/// number IANA assigned after this code was written and the value survives a
/// decode/encode round trip.
///
/// `From<repr>` maps known numbers to their variant and anything else to
/// `Unknown`; `From<Enum> for repr` gives the number back.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this implementation does not know, kept as received.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                match value {
                    $( $value => Self::$variant, )*
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> $repr {
                match value {
                    $( $name::$variant => $value, )*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

pub(crate) use open_enum;
