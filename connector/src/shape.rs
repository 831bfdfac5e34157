//! Reading the appliance's JSON with the path of every field at hand, so a wrong shape becomes
//! an unexpected-response error naming the field (`breaches[3].device.did`) instead of a panic.
//!
//! Readers are lenient where appliances are known to vary (ids and millisecond times given as
//! numeric strings) and strict about everything else.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A JSON object and the path that led to it.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An item's JSON text as the appliance wrote it, kept as a range of the whole answer it came in
/// (shared, not copied), so a big pull holds its answer once instead of once per form.
/// Serialises as that JSON verbatim; `Display` gives the text.
#[derive(Clone)]
pub struct RawText {
    answer: Arc<String>,
    range: Range<usize>,
}

impl RawText {
    /// The part `range` of `answer`, which must be one complete JSON value.
    pub fn within(answer: Arc<String>, range: Range<usize>) -> Self {
        debug_assert!(answer.get(range.clone()).is_some());
        RawText { answer, range }
    }

    /// The compact text of `v`, on its own.
    pub fn of(v: &Value) -> Self {
        let text = v.to_string();
        let range = 0..text.len();
        RawText { answer: Arc::new(text), range }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.answer[self.range.clone()]
    }
}

impl fmt::Display for RawText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl fmt::Debug for RawText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawText({})", self.get())
    }
}

impl PartialEq for RawText {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RawText {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        // Borrowing as RawValue writes the text verbatim; it was parsed as JSON when it arrived.
        let raw: &RawValue = serde_json::from_str(self.get()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// An unexpected-response error about the value at `path`.
pub fn wrong(path: &str, expected: &str, found: &Value) -> Error {
    Error::UnexpectedResponse(format!(
        "the appliance's answer has {} at `{path}` where {expected} was expected; \
         the appliance version may not be supported, please report it",
        kind(found)
    ))
}

/// Reads `v` as an array, naming `path` in the error.
pub fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| wrong(path, "an array", v))
}

/// Accepts either a single object or an array of them (some endpoints answer both ways).
pub fn one_or_many<'a>(v: &'a Value, path: &str) -> Result<Vec<&'a Value>> {
    match v {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Object(_) => Ok(vec![v]),
        other => Err(wrong(path, "an object or an array", other)),
    }
}

/// Like [`one_or_many`], but takes the answer and returns its items by value.
pub fn into_items(v: Value, path: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Object(_) => Ok(vec![v]),
        other => Err(wrong(path, "an object or an array", &other)),
    }
}

/// Sorts `items` stably by `cmp`, like `slice::sort_by`, with one compiled copy of the sort for
/// every item type: the standard sort is instantiated afresh for each item type and comparator
/// (some 5 KB of code each, 76 KB over the actions), this sorts the indices once through a trait
/// object and then moves the items into place.
pub fn sort_stable<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    let order = sorted_order(items.len(), &|a, b| cmp(&items[a], &items[b]));
    apply_order(items, order);
}

/// The indices `0..len` in stable sorted order: `order[k]` is the index of the item that belongs
/// at `k`.
fn sorted_order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

/// Moves `items[order[k]]` to `k` for every `k`, one cycle of the permutation at a time: the
/// item first at a cycle's start travels along it and lands last. A visited position points at
/// itself.
fn apply_order<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut at = start;
        loop {
            let from = std::mem::replace(&mut order[at], at);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// `collect::<Result<Vec<_>>>()` as one plain loop: the same items in the same order, stopping
/// at the first error, without the standard adapters' code for every item type.
pub trait TryVec<T>: Iterator<Item = Result<T>> + Sized {
    /// The items, or the first error.
    fn try_vec(self) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(self.size_hint().0);
        for item in self {
            out.push(item?);
        }
        Ok(out)
    }
}

impl<T, I: Iterator<Item = Result<T>>> TryVec<T> for I {}

impl<'a> Obj<'a> {
    /// Reads `v` as an object found at `path`.
    pub fn new(v: &'a Value, path: impl Into<String>) -> Result<Self> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(wrong(&path, "an object", other)),
        }
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The raw value of `key`, treating null as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required whole number (a numeric string is accepted).
    pub fn u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?.ok_or_else(|| self.missing(key, "a whole number"))
    }

    /// An optional whole number (a numeric string is accepted).
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                match v {
                    Value::Number(n) => {
                        n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64))
                    }
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| wrong(&self.at(key), "a whole number", v))
            })
            .transpose()
    }

    /// An optional signed whole number, such as epoch milliseconds (numeric strings and
    /// fractional milliseconds are accepted).
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .map(|v| {
                match v {
                    Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
                    Value::String(s) => {
                        s.trim().parse::<i64>().ok().or_else(|| s.trim().parse::<f64>().ok().map(|f| f as i64))
                    }
                    _ => None,
                }
                .ok_or_else(|| wrong(&self.at(key), "a whole number", v))
            })
            .transpose()
    }

    /// A required signed whole number.
    pub fn i64(&self, key: &str) -> Result<i64> {
        self.opt_i64(key)?.ok_or_else(|| self.missing(key, "a whole number"))
    }

    /// An optional number (a numeric string is accepted).
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| {
                match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| wrong(&self.at(key), "a number", v))
            })
            .transpose()
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| {
                match v {
                    Value::Bool(b) => Some(*b),
                    Value::String(s) if s == "true" || s == "false" => Some(s == "true"),
                    _ => None,
                }
                .ok_or_else(|| wrong(&self.at(key), "a boolean", v))
            })
            .transpose()
    }

    /// An optional string; an empty string counts as absent.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(wrong(&self.at(key), "a string", other)),
        }
    }

    /// An optional nested object.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.get(key).map(|v| Obj::new(v, self.at(key))).transpose()
    }

    /// An optional array, with the path of its elements' parent.
    pub fn opt_array(&self, key: &str) -> Result<Option<(&'a Vec<Value>, String)>> {
        self.get(key).map(|v| array(v, &self.at(key)).map(|a| (a, self.at(key)))).transpose()
    }

    fn missing(&self, key: &str, expected: &str) -> Error {
        Error::UnexpectedResponse(format!(
            "the appliance's answer has no `{}` where {expected} was expected; \
             the appliance version may not be supported, please report it",
            self.at(key)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrong_type_names_the_field_path() {
        let v = json!({"device": {"did": "abc"}});
        let o = Obj::new(&v, "breach").unwrap();
        let err = o.opt_obj("device").unwrap().unwrap().u64("did").unwrap_err();
        assert_eq!(err.case(), "unexpected-response");
        assert!(err.message().contains("`breach.device.did`"), "{err}");
    }

    #[test]
    fn numeric_strings_are_accepted_for_ids_and_times() {
        let v = json!({"did": "12", "time": "1700000000000.5", "score": "0.5"});
        let o = Obj::new(&v, "x").unwrap();
        assert_eq!(o.u64("did").unwrap(), 12);
        assert_eq!(o.i64("time").unwrap(), 1_700_000_000_000);
        assert_eq!(o.opt_f64("score").unwrap(), Some(0.5));
    }

    #[test]
    fn missing_required_field_is_unexpected_response() {
        let v = json!({});
        assert!(Obj::new(&v, "x").unwrap().u64("pbid").unwrap_err().message().contains("`x.pbid`"));
    }

    #[test]
    fn sort_stable_orders_like_the_standard_stable_sort() {
        // Random lists with many ties, so equal keys and every cycle shape are exercised.
        let mut seed = 7u64;
        for len in 0..200 {
            let items: Vec<(u64, usize)> = (0..len % 13)
                .map(|i| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    ((seed >> 33) % 4, i)
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|x| x.0);
            let mut sorted = items;
            sort_stable(&mut sorted, |a, b| a.0.cmp(&b.0));
            assert_eq!(sorted, expected);
        }
    }

    #[test]
    fn a_list_where_an_object_was_expected_is_reported() {
        let err = Obj::new(&json!([1]), "status").err().unwrap();
        assert!(err.message().contains("an array at `status`"), "{err}");
    }
}
