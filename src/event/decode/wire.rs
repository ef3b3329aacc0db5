//! Borrowing building blocks for the hand-written visitors of the envelope and the event data.
//!
//! `serde_json` hands out member names and string values as slices of the input when they hold no
//! escapes. serde's own `Cow<str>` always copies, and `Value` allocates for every member; these types
//! keep the slice, so decoding an event allocates only for what it keeps.

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A member value: a string (borrowed when possible), or any other JSON value.
///
/// Envelope attributes are strings; anything else is kept as a `Value` so that the error can say
/// what was found, and so that unknown members survive as extensions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// A JSON string.
    Str(Cow<'a, str>),
    /// Any other JSON value, `null` included.
    Other(Value),
}

impl Scalar<'_> {
    /// The value as an owned `Value`.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.into_owned()),
            Scalar::Other(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Other(Value::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| Scalar::Other(Value::Number(n)))
                    .ok_or_else(|| E::custom("a number that is not finite"))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Field readers for [`deserialize_data!`]: each wraps how one member is read.
pub(crate) mod read {
    use super::super::lenient;
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};

    /// The field type's own `Deserialize`.
    pub(crate) struct Plain<T>(pub T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Plain<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            T::deserialize(d).map(Plain)
        }
    }

    macro_rules! reader {
        ($(#[$doc:meta])* $name:ident, $out:ty, $read:path) => {
            $(#[$doc])*
            pub(crate) struct $name(pub $out);

            impl<'de> Deserialize<'de> for $name {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    $read(d).map($name)
                }
            }
        };
    }

    reader!(
        /// [`lenient::string_or_number`].
        StringOrNumber, Option<String>, lenient::string_or_number
    );
    reader!(
        /// [`lenient::f64_or_string`].
        F64OrString, Option<f64>, lenient::f64_or_string
    );
    reader!(
        /// [`lenient::object_or_null`].
        ObjectOrNull, Map<String, Value>, lenient::object_or_null
    );
    reader!(
        /// [`lenient::time_or_null`].
        TimeOrNull, Option<DateTime<FixedOffset>>, lenient::time_or_null
    );
}

/// Implements `Deserialize` for an event data struct with a hand-written map visitor.
///
/// Each listed member is matched case-insensitively (the service sends `modelName`, the docs show
/// `ModelName`) and read with its [`read`] wrapper; a member given twice is an error, as with serde's
/// derive; every other member goes straight into the struct's `extra` map. This replaces
/// `#[serde(flatten)]`, which makes serde buffer the whole object into a generic tree and decode the
/// fields from that copy.
macro_rules! deserialize_data {
    ($ty:ident { $($field:ident: $name:literal as $read:ty),* $(,)? }) => {
        impl $ty {
            /// The members this type reads, as the service spells them.
            pub(crate) const MEMBERS: &'static [&'static str] = &[$($name),*];
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($ty)))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        let mut out = <$ty>::default();
                        $(let mut $field = false;)*
                        while let Some($crate::event::decode::wire::Str(key)) = map.next_key()? {
                            $(
                                if key.eq_ignore_ascii_case($name) {
                                    if $field {
                                        return Err(<A::Error as serde::de::Error>::duplicate_field($name));
                                    }
                                    $field = true;
                                    out.$field = map.next_value::<$read>()?.0;
                                    continue;
                                }
                            )*
                            let value = map.next_value::<serde_json::Value>()?;
                            out.extra.insert(key.into_owned(), value);
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}
pub(crate) use deserialize_data;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let s: Str<'_> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(s.0, Cow::Borrowed("plain")));
        let s: Str<'_> = serde_json::from_str(r#""esc\"aped""#).unwrap();
        assert!(matches!(s.0, Cow::Owned(ref o) if o == "esc\"aped"));
    }

    #[test]
    fn scalars_keep_what_is_not_a_string() {
        let text = r#"["a", 1, -2, 1.5, true, null, [1], {"k": "v"}]"#;
        let values: Vec<Scalar<'_>> = serde_json::from_str(text).unwrap();
        let back: Vec<Value> = values.into_iter().map(Scalar::into_value).collect();
        assert_eq!(
            Value::Array(back),
            serde_json::from_str::<Value>(text).unwrap()
        );
    }
}
