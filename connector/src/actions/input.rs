//! Action inputs from JSON, naming the field at fault (`connections[0].src`) when one is wrong.
//!
//! serde_path_to_error over serde_json's `Value` deserializer gives these errors too, but it wraps
//! every visitor in generic adapters, so each input type's deserializer was compiled twice over
//! (about 130 KB of the component). This is one deserializer over `Value` that keeps the path
//! itself. It follows serde_json's `Value` deserializer case for case and records the path where
//! serde_path_to_error would, so errors read exactly the same; a test compares the two on every
//! action's inputs.

use std::cell::RefCell;
use std::fmt::Write as _;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Unexpected, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Map, Value};

/// Deserialises an action input, a JSON object, naming the value at fault in the invalid-input
/// error.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> crate::error::Result<T> {
    #[cfg(test)]
    if tests::REFERENCE.get() {
        return serde_path_to_error::deserialize(value).map_err(|e| invalid(e.path().to_string(), &e.into_inner()));
    }
    // The caller has checked this; anything else would be refused by every input type anyway.
    let map = match value {
        Value::Object(map) => map,
        other => return Err(invalid(".".into(), &refuse(&other, &"a JSON object"))),
    };
    let failed_at = RefCell::new(None);
    T::deserialize(Root { map, failed_at: &failed_at })
        .map_err(|e| invalid(failed_at.into_inner().unwrap_or_else(|| ".".into()), &e))
}

/// The error for a value at `path` (`.` for the whole input) that failed with `e`.
fn invalid(path: String, e: &Error) -> crate::error::Error {
    if path == "." {
        crate::error::Error::InvalidInput(e.to_string())
    } else {
        crate::error::Error::InvalidInput(format!("`{path}`: {e}"))
    }
}

/// Where a value sits in the input: a chain of links on the stack, made into text only when a
/// value fails.
enum At<'a> {
    Root,
    /// An object member or an enum variant's content, named by its key.
    Key(&'a At<'a>, &'a str),
    /// An array element.
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    /// Writes the path as serde_path_to_error prints it (`a.b[2].c`, `.` for the root).
    fn path(&self) -> String {
        let mut out = String::new();
        if !self.write(&mut out) {
            out.push('.');
        }
        out
    }

    /// Writes the segments; false when there are none.
    fn write(&self, out: &mut String) -> bool {
        match self {
            At::Root => false,
            At::Key(parent, key) => {
                if parent.write(out) {
                    out.push('.');
                }
                out.push_str(key);
                true
            }
            At::Index(parent, index) => {
                parent.write(out);
                let _ = write!(out, "[{index}]");
                true
            }
        }
    }
}

/// Notes `at` as the failing place unless a deeper value already failed: errors travel outwards,
/// and the innermost place is the one to name.
fn fail(failed_at: &RefCell<Option<String>>, at: &At<'_>, e: Error) -> Error {
    let mut slot = failed_at.borrow_mut();
    if slot.is_none() {
        *slot = Some(at.path());
    }
    e
}

/// One value of the input, where it sits, and the shared note of the first failing place.
struct De<'a> {
    value: Value,
    at: &'a At<'a>,
    failed_at: &'a RefCell<Option<String>>,
}

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            (None, None) => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// The `invalid type` error for `value` where `expected` was wanted, as serde_json words it.
fn refuse(value: &Value, expected: &dyn de::Expected) -> Error {
    de::Error::invalid_type(unexpected(value), expected)
}

// Each reader takes only the kinds of value serde_json's `Value` takes for that request and
// refuses the rest with the same error, so a visitor for a number is never compiled with the
// code to walk arrays and objects it would only refuse.
impl<'a> De<'a> {
    /// Runs `read`, noting this value's place if it fails.
    fn tracked<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        read: fn(Self, V) -> Result<V::Value, Error>,
    ) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        read(self, visitor).map_err(|e| fail(failed_at, at, e))
    }

    fn boolean<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn number<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Number(n) => de::Deserializer::deserialize_any(n, visitor),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn string<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::String(s) => visitor.visit_string(s),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn bytes<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, at, failed_at, visitor),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn unit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::Array(items) => visit_array(items, at, failed_at, visitor),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn map<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::Object(map) => visit_object(map, at, failed_at, visitor),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn structure<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::Array(items) => visit_array(items, at, failed_at, visitor),
            Value::Object(map) => visit_object(map, at, failed_at, visitor),
            other => Err(refuse(&other, &visitor)),
        }
    }

    fn any<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => de::Deserializer::deserialize_any(n, visitor),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, at, failed_at, visitor),
            Value::Object(map) => visit_object(map, at, failed_at, visitor),
        }
    }

    fn enumeration<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (at, failed_at) = (self.at, self.failed_at);
        match self.value {
            Value::String(variant) => visitor.visit_enum(Variant { variant, content: None, at, failed_at }),
            Value::Object(map) => {
                let mut members = map.into_iter();
                match (members.next(), members.next()) {
                    (Some((variant, content)), None) => {
                        visitor.visit_enum(Variant { variant, content: Some(content), at, failed_at })
                    }
                    _ => Err(de::Error::invalid_value(Unexpected::Map, &"map with a single key")),
                }
            }
            other => Err(refuse(&other, &"string or map")),
        }
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    at: &At<'_>,
    failed_at: &RefCell<Option<String>>,
    visitor: V,
) -> Result<V::Value, Error> {
    let len = items.len();
    let mut elements = Elements { items: items.into_iter(), index: 0, at, failed_at };
    let value = visitor.visit_seq(&mut elements)?;
    if elements.items.len() == 0 { Ok(value) } else { Err(de::Error::invalid_length(len, &"fewer elements in array")) }
}

fn visit_object<'de, V: Visitor<'de>>(
    map: Map<String, Value>,
    at: &At<'_>,
    failed_at: &RefCell<Option<String>>,
    visitor: V,
) -> Result<V::Value, Error> {
    let len = map.len();
    let mut members = Members { members: map.into_iter(), current: None, at, failed_at };
    let value = visitor.visit_map(&mut members)?;
    if members.members.len() == 0 { Ok(value) } else { Err(de::Error::invalid_length(len, &"fewer elements in map")) }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::any)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::boolean)
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::number)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::string)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::string)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::string)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::bytes)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::bytes)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, |de, visitor| match de.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(de),
        })
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::unit)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::unit)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, |de, visitor| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::seq)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::seq)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.tracked(visitor, De::seq)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::map)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.tracked(visitor, De::structure)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.tracked(visitor, De::enumeration)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, De::string)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.tracked(visitor, |_, visitor| visitor.visit_unit())
    }
}

/// The whole input, an object. Input types are structs, which serde_json would also read from an
/// array (field by field); the root is never one, so this leaves out that reading and its code.
struct Root<'a> {
    map: Map<String, Value>,
    failed_at: &'a RefCell<Option<String>>,
}

impl<'a> Root<'a> {
    fn object<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let failed_at = self.failed_at;
        visit_object(self.map, &At::Root, failed_at, visitor).map_err(|e| fail(failed_at, &At::Root, e))
    }

    /// The same value as a general one, for requests an input type does not make.
    fn value(self) -> De<'a> {
        De { value: Value::Object(self.map), at: &At::Root, failed_at: self.failed_at }
    }
}

impl<'de> de::Deserializer<'de> for Root<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.object(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.object(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.object(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.value().deserialize_option(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.value().deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.value().deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.value().deserialize_ignored_any(visitor)
    }

    // For an object serde_json's `Value` gives these the visitor's own refusal, as `visit_map` does.
    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct identifier
    }
}

/// The elements of an array, each at its index.
struct Elements<'a> {
    items: std::vec::IntoIter<Value>,
    index: usize,
    at: &'a At<'a>,
    failed_at: &'a RefCell<Option<String>>,
}

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let Some(value) = self.items.next() else { return Ok(None) };
        let at = At::Index(self.at, self.index);
        self.index += 1;
        seed.deserialize(De { value, at: &at, failed_at: self.failed_at })
            .map(Some)
            .map_err(|e| fail(self.failed_at, &at, e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The members of an object, each value at its key.
struct Members<'a> {
    members: serde_json::map::IntoIter,
    current: Option<(String, Value)>,
    at: &'a At<'a>,
    failed_at: &'a RefCell<Option<String>>,
}

impl<'de> de::MapAccess<'de> for Members<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.members.next() else { return Ok(None) };
        // A refused key (an unknown field) is named by itself, as serde_path_to_error does.
        let parsed = seed
            .deserialize(de::value::StrDeserializer::<Error>::new(&key))
            .map_err(|e| fail(self.failed_at, &At::Key(self.at, &key), e))?;
        self.current = Some((key, value));
        Ok(Some(parsed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let Some((key, value)) = self.current.take() else { return Err(de::Error::custom("value is missing")) };
        let at = At::Key(self.at, &key);
        seed.deserialize(De { value, at: &at, failed_at: self.failed_at }).map_err(|e| fail(self.failed_at, &at, e))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

/// An enum given as `"variant"` or `{"variant": content}`; the content sits at the variant's name.
struct Variant<'a> {
    variant: String,
    content: Option<Value>,
    at: &'a At<'a>,
    failed_at: &'a RefCell<Option<String>>,
}

impl<'a, 'de> de::EnumAccess<'de> for Variant<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name = seed.deserialize(de::value::StrDeserializer::<Error>::new(&self.variant))?;
        Ok((name, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        let at = At::Key(self.at, &self.variant);
        match self.content {
            Some(value) => de::Deserialize::deserialize(De { value, at: &at, failed_at: self.failed_at }),
            None => Ok(()),
        }
        .map_err(|e| fail(self.failed_at, &at, e))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let at = At::Key(self.at, &self.variant);
        match self.content {
            Some(value) => seed.deserialize(De { value, at: &at, failed_at: self.failed_at }),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"newtype variant")),
        }
        .map_err(|e| fail(self.failed_at, &at, e))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let at = At::Key(self.at, &self.variant);
        match self.content {
            Some(Value::Array(items)) if items.is_empty() => visitor.visit_unit(),
            Some(Value::Array(items)) => visit_array(items, &at, self.failed_at, visitor),
            Some(other) => Err(refuse(&other, &"tuple variant")),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"tuple variant")),
        }
        .map_err(|e| fail(self.failed_at, &at, e))
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        let at = At::Key(self.at, &self.variant);
        match self.content {
            Some(Value::Object(map)) => visit_object(map, &at, self.failed_at, visitor),
            Some(other) => Err(refuse(&other, &"struct variant")),
            None => Err(de::Error::invalid_type(Unexpected::UnitVariant, &"struct variant")),
        }
        .map_err(|e| fail(self.failed_at, &at, e))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::{Cell, RefCell};

    use serde_json::{Value, json};

    use crate::client::{Transport, WireResponse};
    use crate::connection::Connection;
    use crate::error::{Error, Result};
    use crate::request::WireRequest;

    thread_local! {
        /// Parse with serde_path_to_error instead, to compare.
        pub(super) static REFERENCE: Cell<bool> = const { Cell::new(false) };
    }

    struct Unreachable;
    impl Transport for Unreachable {
        fn send(&self, _: &WireRequest, _: u64) -> Result<WireResponse> {
            Err(Error::Other("sent".into()))
        }
    }

    fn invoke(action: &str, input: &Value, reference: bool) -> String {
        REFERENCE.set(reference);
        let r =
            super::super::invoke(Connection::new("dt.example.com", "p", "s"), &Unreachable, action, &input.to_string());
        REFERENCE.set(false);
        format!("{r:?}")
    }

    /// Values of every JSON kind and the awkward numbers, to put where each field goes.
    fn probes() -> Vec<Value> {
        vec![
            json!(null),
            json!(true),
            json!(0),
            json!(7),
            json!(-1),
            json!(1.5),
            json!(1e300),
            json!(18446744073709551615u64),
            json!(-9223372036854775808i64),
            json!(""),
            json!("x"),
            json!("12"),
            json!("2024-01-15T09:30:00Z"),
            json!("quarantine"),
            json!([]),
            json!([1]),
            json!(["a", "b"]),
            json!([{}]),
            json!([{"src": "10.0.0.1", "dst": 5}]),
            json!([{"src": "10.0.0.1", "dst": "10.0.0.2", "port": -3}]),
            json!([{"src": "10.0.0.1", "dst": "10.0.0.2", "bogus": 1}]),
            json!([["10.0.0.1", "10.0.0.2", 80, 4]]),
            json!([["10.0.0.1"]]),
            json!({}),
            json!({"a": 1}),
            json!({"quarantine": null}),
            json!({"quarantine": 5}),
            json!({"a": 1, "b": 2}),
        ]
    }

    /// A plausible value for a field of the given schema, so other fields' errors show.
    fn plausible(schema: &Value) -> Value {
        let kinds: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        match kinds.iter().find(|k| **k != "null") {
            Some(&"integer") => json!(1_705_311_000_000u64),
            Some(&"number") => json!(0.5),
            Some(&"boolean") => json!(true),
            Some(&"string") => json!("x"),
            Some(&"array") => json!([]),
            _ => json!(null),
        }
    }

    #[test]
    fn errors_name_the_same_field_with_the_same_words_as_serde_path_to_error_for_every_action() {
        let manifest: Value = serde_json::from_str(crate::manifest::MANIFEST).unwrap();
        let mut compared = 0;
        let differences = RefCell::new(Vec::new());
        let compare = |action: &str, input: &Value| {
            let (ours, reference) = (invoke(action, input, false), invoke(action, input, true));
            if ours != reference {
                differences
                    .borrow_mut()
                    .push(format!("{action} {input}:\n  ours      {ours}\n  reference {reference}"));
            }
        };
        for action in manifest["actions"].as_array().unwrap() {
            let name = action["name"].as_str().unwrap();
            let properties = action["input"]["properties"].as_object().cloned().unwrap_or_default();
            let base: serde_json::Map<String, Value> =
                properties.iter().map(|(k, schema)| (k.clone(), plausible(schema))).collect();
            for input in [json!({}), json!({"bogus": 1}), Value::Object(base.clone())] {
                compare(name, &input);
                compared += 1;
            }
            for field in properties.keys() {
                for probe in probes() {
                    for mut input in [serde_json::Map::new(), base.clone()] {
                        input.insert(field.clone(), probe.clone());
                        compare(name, &Value::Object(input));
                        compared += 1;
                    }
                }
            }
        }
        let differences = differences.into_inner();
        assert!(differences.is_empty(), "{} of {compared} differ:\n{}", differences.len(), differences.join("\n"));
        assert!(compared > 1000, "{compared}");
    }
}
