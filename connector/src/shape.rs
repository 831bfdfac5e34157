//! Reading the appliance's JSON tolerantly, with the path of every field at hand.
//!
//! One rule everywhere: an item whose normalised fields cannot be read keeps its `raw`, gets
//! null (or its default) for what could not be read, and carries a [`Warning`] per such field
//! naming its JSON path (`modelbreaches[3].device.did`), what was expected and what was found.
//! A list never fails because of one item; a single read fails only when the item's identity
//! (its id) cannot be read. Shapes real appliances are known to write are read, not warned
//! about: numbers written as strings (`"72.9"`, `"1674507235803.297"`), negative sentinel ids
//! (`did: -1` for a system breach, `sid: -9` for a SaaS device) and an object where a flag was
//! expected (`"acknowledged": {"time": ms, "username": "..."}` reads as true).
//!
//! `raw` is the appliance's own text for the item ([`RawText`], a range of the answer), so
//! numbers come back exactly as written (`1.50`, `1e3`, 20-digit ids); serde_json here has no
//! `arbitrary_precision`, and the normalised fields are read from an ordinary parsed tree.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;

/// The longest description of a found value a warning carries, in characters.
const MAX_FOUND_CHARS: usize = 200;

/// A field of an item that could not be read (see the WIT `warning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The JSON path of the field in the appliance's answer, e.g. `modelbreaches[3].device.did`.
    pub path: String,
    /// What was expected there, e.g. `a whole number`.
    pub expected: String,
    /// A short description of what was there (its kind and up to 200 characters of its text).
    pub found: String,
}

/// The warnings gathered while one item is read; shared by the item's [`Obj`] and every
/// object nested in it.
#[derive(Debug, Default)]
pub struct Warnings(RefCell<Vec<Warning>>);

impl Warnings {
    /// Records that the value at `path` was not `expected`.
    pub fn push(&self, path: &str, expected: &str, found: &Value) {
        self.0.borrow_mut().push(Warning {
            path: path.to_owned(),
            expected: expected.to_owned(),
            found: describe(found),
        });
    }

    /// The warnings, in the order the fields were read.
    pub fn take(self) -> Vec<Warning> {
        self.0.into_inner()
    }
}

/// What a warning says was found: the value's kind and a bounded excerpt of its text.
pub fn describe(v: &Value) -> String {
    let text = v.to_string();
    let mut found = format!("{} {}", kind(v), text);
    if found.chars().count() > MAX_FOUND_CHARS {
        found = found.chars().take(MAX_FOUND_CHARS).collect::<String>() + "...";
    }
    found
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

/// A whole number, signed: a JSON integer, a float with whole value (or fractional
/// milliseconds, truncated), or either written as a string.
pub fn as_i64(v: &Value) -> Option<i64> {
    let f = match v {
        Value::Number(n) => return n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => return Some(n),
            Err(_) => s.trim().parse::<f64>().ok()?,
        },
        _ => return None,
    };
    whole(f)
}

/// `f` truncated to a whole number, when it is finite and in range.
fn whole(f: f64) -> Option<i64> {
    (f.is_finite() && f >= i64::MIN as f64 && f <= i64::MAX as f64).then_some(f as i64)
}

/// A whole number that cannot be negative (a count, a port, an id without sentinels).
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) if n.as_u64().is_some() => n.as_u64(),
        Value::String(s) if s.trim().parse::<u64>().is_ok() => s.trim().parse().ok(),
        _ => as_i64(v).and_then(|n| u64::try_from(n).ok()),
    }
}

/// A number, or a number written as a string.
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A flag: a boolean, `"true"`/`"false"`, 0 or 1, or an object, which recent versions write
/// where the flag is set (`"acknowledged": {"time": ms, "username": "..."}`).
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
            Some(s.eq_ignore_ascii_case("true"))
        }
        Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => Some(n.as_u64() == Some(1)),
        Value::Object(_) => Some(true),
        _ => None,
    }
}

/// Text: a string, or a number's text.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
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

    /// The compact text of `v`, on its own: for what the connector assembled itself, never for
    /// an appliance's object (that would rewrite its numbers).
    pub fn of(v: &Value) -> Self {
        let text = v.to_string();
        let range = 0..text.len();
        RawText { answer: Arc::new(text), range }
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.answer[self.range.clone()]
    }

    /// The text of the value at `keys` (object keys from here down), if there is one.
    pub fn at(&self, keys: &[&str]) -> Option<RawText> {
        let mut range = self.range.clone();
        for key in keys {
            let map: BTreeMap<String, &RawValue> = serde_json::from_str(&self.answer[range.clone()]).ok()?;
            range = self.range_of(map.get(*key)?);
        }
        Some(RawText { answer: self.answer.clone(), range })
    }

    /// The texts of the items here, index by index as [`one_or_many`] gives them: an array's
    /// elements, or anything else on its own.
    pub fn items(&self) -> Vec<RawText> {
        match serde_json::from_str::<Vec<&RawValue>>(self.get()) {
            Ok(items) => items
                .into_iter()
                .map(|item| RawText { answer: self.answer.clone(), range: self.range_of(item) })
                .collect(),
            Err(_) => vec![self.clone()],
        }
    }

    /// Where `part`, borrowed from this text's answer, lies in it.
    fn range_of(&self, part: &RawValue) -> Range<usize> {
        let start = part.get().as_ptr() as usize - self.answer.as_ptr() as usize;
        start..start + part.get().len()
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

/// One answer of the appliance: its text, kept so every item's `raw` is the appliance's own
/// text, and the parsed tree the normalised fields are read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    text: Arc<String>,
    /// The parsed answer; null for an empty body.
    pub value: Value,
}

impl Doc {
    /// Sends `request` and keeps its answer.
    pub fn fetch(client: &Client, request: &ApiRequest) -> Result<Doc> {
        Doc::from_body(request, client.send_raw(request)?)
    }

    /// The answer `body` to `request`; invalid JSON is an unexpected-response naming the request.
    pub fn from_body(request: &ApiRequest, body: Vec<u8>) -> Result<Doc> {
        let value = crate::client::parse_json(request, &body)?;
        let text = match String::from_utf8(body) {
            Ok(text) if !text.trim().is_empty() => text,
            // An empty body reads as null; JSON parsed from bytes is UTF-8, so no other case.
            _ => "null".to_owned(),
        };
        Ok(Doc { text: Arc::new(text), value })
    }

    /// An answer already parsed, its text written again from the tree: for callers that hold
    /// only the tree, whose `raw` then loses the appliance's own number spellings.
    pub fn from_value(value: &Value) -> Doc {
        Doc { text: Arc::new(value.to_string()), value: value.clone() }
    }

    /// The whole answer's text.
    pub fn raw(&self) -> RawText {
        RawText::within(self.text.clone(), 0..self.text.len())
    }

    /// The text of the value at `keys` (object keys from the top), if there is one.
    pub fn raw_at(&self, keys: &[&str]) -> Option<RawText> {
        self.raw().at(keys)
    }

    /// The texts of the items at `keys`, index by index as [`one_or_many`] gives them: an
    /// array's elements, or an object on its own. Empty when there is no such value.
    pub fn raw_items(&self, keys: &[&str]) -> Vec<RawText> {
        self.raw_at(keys).map(|at| at.items()).unwrap_or_default()
    }
}

/// Reads each of `items` (found at `path`, their texts index by index in `raws`) with `read`.
/// An item whose identity cannot be read cannot be listed as what it is: it is left out and
/// said on stderr, which the host captures, and the others are kept, so a list never fails
/// because of one item.
pub fn read_list<T>(
    items: &[&Value],
    raws: &[RawText],
    path: &str,
    read: &dyn Fn(&Value, &str, RawText) -> Result<T>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for (i, v) in items.iter().enumerate() {
        let raw = raws.get(i).cloned().unwrap_or_else(|| RawText::of(v));
        match read(v, &format!("{path}[{i}]"), raw) {
            Ok(item) => out.push(item),
            Err(e) => eprintln!("darktrace connector: left out of the list: {}", e.message()),
        }
    }
    out
}

/// Reads a list answer (its texts in `raws`) with `read`: an array item by item as
/// [`read_list`] does, leaving out empty objects (appliances pad lists with `{}`); a lone
/// object as one item, which fails the call when its identity cannot be read (an answer
/// wrapped in something else must not pass for an empty list); anything else is refused.
pub fn read_many<T>(
    answer: &Value,
    raws: &[RawText],
    path: &str,
    read: &dyn Fn(&Value, &str, RawText) -> Result<T>,
) -> Result<Vec<T>> {
    match answer {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                if v.as_object().is_some_and(|o| o.is_empty()) {
                    continue;
                }
                let raw = raws.get(i).cloned().unwrap_or_else(|| RawText::of(v));
                match read(v, &format!("{path}[{i}]"), raw) {
                    Ok(item) => out.push(item),
                    Err(e) => eprintln!("darktrace connector: left out of the list: {}", e.message()),
                }
            }
            Ok(out)
        }
        Value::Object(map) if map.is_empty() => Ok(Vec::new()),
        Value::Object(_) => {
            let raw = raws.first().cloned().unwrap_or_else(|| RawText::of(answer));
            Ok(vec![read(answer, &format!("{path}[0]"), raw)?])
        }
        other => Err(wrong(path, "an object or an array", other)),
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

/// A JSON object of one item, the path that led to it and the item's [`Warnings`].
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    warnings: &'a Warnings,
}

impl<'a> Obj<'a> {
    /// Reads `v`, an item found at `path`, as an object: an item that is not one has no
    /// identity to read, so this is the one refusal (naming the path).
    pub fn item(v: &'a Value, path: impl Into<String>, warnings: &'a Warnings) -> Result<Self> {
        let path = path.into();
        match v {
            Value::Object(map) => Ok(Obj { map, path, warnings }),
            other => Err(wrong(&path, "an object", other)),
        }
    }

    /// `v`, found at `path` inside this item, as an object; anything else is a warning.
    pub fn child(&self, v: &'a Value, path: String) -> Option<Obj<'a>> {
        match v {
            Value::Object(map) => Some(Obj { map, path, warnings: self.warnings }),
            Value::Null => None,
            other => {
                self.warnings.push(&path, "an object", other);
                None
            }
        }
    }

    /// This object's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of `key` in this object.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// Records that the value at `path` was not `expected`.
    pub fn warn(&self, path: &str, expected: &str, found: &Value) {
        self.warnings.push(path, expected, found);
    }

    /// The raw value of `key`, treating null as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value of `key` read with `read`; a value it cannot read is a warning and `None`.
    fn read<T>(&self, key: &str, expected: &str, read: fn(&Value) -> Option<T>) -> Option<T> {
        let v = self.get(key)?;
        let out = read(v);
        if out.is_none() {
            self.warn(&self.at(key), expected, v);
        }
        out
    }

    /// `v`, an element at `path` inside this item, read with `read`; else a warning.
    pub fn element<T>(&self, v: &Value, path: &str, expected: &str, read: fn(&Value) -> Option<T>) -> Option<T> {
        let out = read(v);
        if out.is_none() && !v.is_null() {
            self.warn(path, expected, v);
        }
        out
    }

    /// A whole number that cannot be negative (see [`as_u64`]).
    pub fn opt_u64(&self, key: &str) -> Option<u64> {
        self.read(key, "a whole number", as_u64)
    }

    /// A signed whole number, such as epoch milliseconds or an id with negative sentinels.
    pub fn opt_i64(&self, key: &str) -> Option<i64> {
        self.read(key, "a whole number", as_i64)
    }

    /// A number (see [`as_f64`]).
    pub fn opt_f64(&self, key: &str) -> Option<f64> {
        self.read(key, "a number", as_f64)
    }

    /// A flag (see [`as_bool`]).
    pub fn opt_bool(&self, key: &str) -> Option<bool> {
        self.read(key, "a boolean", as_bool)
    }

    /// A string; an empty string counts as absent.
    pub fn opt_str(&self, key: &str) -> Option<String> {
        self.read(key, "a string", as_text).filter(|s| !s.is_empty())
    }

    /// A nested object.
    pub fn opt_obj(&self, key: &str) -> Option<Obj<'a>> {
        self.child(self.get(key)?, self.at(key))
    }

    /// An array, with the path of its elements' parent.
    pub fn opt_array(&self, key: &str) -> Option<(&'a Vec<Value>, String)> {
        let v = self.get(key)?;
        match v {
            Value::Array(items) => Some((items, self.at(key))),
            other => {
                self.warn(&self.at(key), "an array", other);
                None
            }
        }
    }

    /// The device ids listed at `key`, each given either as an id or as a device object with
    /// its `did` (appliances write `devices` both ways); an entry that cannot be read is left out
    /// with a warning. Empty when `key` is absent.
    pub fn device_ids(&self, key: &str) -> Vec<i64> {
        let Some((items, at)) = self.opt_array(key) else { return Vec::new() };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let path = format!("{at}[{i}]");
                match d {
                    Value::Object(_) => self.child(d, path)?.opt_i64("did"),
                    _ => self.element(d, &path, "a device id", as_i64),
                }
            })
            .collect()
    }

    /// The item's identity as a whole number that cannot be negative; an error naming the path
    /// when it is missing or unreadable.
    pub fn id_u64(&self, key: &str) -> Result<u64> {
        self.id(key, "a whole number", as_u64)
    }

    /// The item's identity as a signed whole number.
    pub fn id_i64(&self, key: &str) -> Result<i64> {
        self.id(key, "a whole number", as_i64)
    }

    /// The item's identity as a non-empty string (a number's text is accepted).
    pub fn id_str(&self, key: &str) -> Result<String> {
        self.id(key, "a string", |v| as_text(v).filter(|s| !s.is_empty()))
    }

    fn id<T>(&self, key: &str, expected: &str, read: fn(&Value) -> Option<T>) -> Result<T> {
        match self.get(key) {
            None => Err(Error::UnexpectedResponse(format!(
                "the appliance's answer has no `{}`, the item's id, where {expected} was expected; \
                 the appliance version may not be supported, please report it",
                self.at(key)
            ))),
            Some(v) => read(v).ok_or_else(|| wrong(&self.at(key), &format!("{expected} (the item's id)"), v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads `v` as an item at `path` with `f`, returning what `f` read and the warnings.
    fn reading<T>(v: &Value, f: impl FnOnce(&Obj<'_>) -> T) -> (T, Vec<Warning>) {
        let w = Warnings::default();
        let out = f(&Obj::item(v, "item", &w).unwrap());
        (out, w.take())
    }

    #[test]
    fn an_unreadable_field_is_none_with_a_warning_naming_its_path() {
        let v = json!({"device": {"did": "abc", "ip": "10.0.0.1"}});
        let ((did, ip), warnings) = reading(&v, |o| {
            let d = o.opt_obj("device").unwrap();
            (d.opt_i64("did"), d.opt_str("ip"))
        });
        assert_eq!((did, ip.as_deref()), (None, Some("10.0.0.1")));
        assert_eq!(
            warnings,
            [Warning {
                path: "item.device.did".into(),
                expected: "a whole number".into(),
                found: "a string \"abc\"".into()
            }]
        );
    }

    #[test]
    fn the_shapes_real_appliances_write_are_read_without_warnings() {
        let v = json!({
            "score": "72.9", "time": "1674507235803.297", "did": -1, "sid": "-9",
            "acknowledged": {"time": 1_700_000_000_000_i64, "username": "analyst"}, "pinned": "false", "count": 3.0
        });
        let (read, warnings) = reading(&v, |o| {
            (o.opt_f64("score"), o.opt_i64("time"), o.opt_i64("did"), o.opt_i64("sid"), o.opt_bool("acknowledged"))
        });
        assert_eq!(read, (Some(72.9), Some(1_674_507_235_803), Some(-1), Some(-9), Some(true)));
        let (rest, more) = reading(&v, |o| (o.opt_bool("pinned"), o.opt_u64("count")));
        assert_eq!(rest, (Some(false), Some(3)));
        assert!(warnings.is_empty() && more.is_empty(), "{warnings:?} {more:?}");
    }

    #[test]
    fn a_negative_number_where_no_sentinel_is_possible_is_a_warning() {
        let (count, warnings) = reading(&json!({"count": -2}), |o| o.opt_u64("count"));
        assert_eq!((count, warnings[0].path.as_str()), (None, "item.count"));
    }

    #[test]
    fn what_was_found_is_described_in_at_most_200_characters() {
        let long = "x".repeat(1000);
        let (_, warnings) = reading(&json!({ "name": {"text": long} }), |o| o.opt_str("name"));
        assert!(warnings[0].found.starts_with("an object {\"text\":\"xxx"), "{:?}", warnings[0]);
        assert_eq!(warnings[0].found.chars().count(), 203);
    }

    #[test]
    fn an_unreadable_id_is_an_error_naming_its_path() {
        let w = Warnings::default();
        let v = json!({"pbid": "abc"});
        let err = Obj::item(&v, "modelbreach", &w).unwrap().id_u64("pbid").unwrap_err();
        assert_eq!(err.case(), "unexpected-response");
        assert!(err.message().contains("`modelbreach.pbid`"), "{err}");
        let err = Obj::item(&json!({}), "x", &w).unwrap().id_u64("pbid").unwrap_err();
        assert!(err.message().contains("no `x.pbid`"), "{err}");
        let err = Obj::item(&json!([1]), "status", &w).err().unwrap();
        assert!(err.message().contains("an array at `status`"), "{err}");
    }

    #[test]
    fn a_list_keeps_every_item_whose_id_it_can_read() {
        let items = json!([{"id": 1, "n": "x"}, {"id": "two"}, {"id": 3, "n": []}]);
        let refs: Vec<&Value> = items.as_array().unwrap().iter().collect();
        let read = |v: &Value, path: &str, _raw: RawText| -> Result<(u64, Vec<Warning>)> {
            let w = Warnings::default();
            let o = Obj::item(v, path, &w)?;
            let id = o.id_u64("id")?;
            let _ = o.opt_str("n");
            Ok((id, w.take()))
        };
        let out = read_list(&refs, &[], "things", &read);
        assert_eq!(out.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(out[1].1[0].path, "things[2].n");
    }

    #[test]
    fn a_list_answer_skips_padding_and_a_lone_object_is_a_single_read() {
        let read = |v: &Value, path: &str, raw: RawText| -> Result<(u64, String)> {
            let w = Warnings::default();
            Ok((Obj::item(v, path, &w)?.id_u64("id")?, raw.get().to_owned()))
        };
        let request = ApiRequest::get("/x");
        let doc = Doc::from_body(&request, br#"[{}, {"id": 1.0}, {"id": "x"}, {"id": 3}]"#.to_vec()).unwrap();
        let out = read_many(&doc.value, &doc.raw_items(&[]), "things", &read).unwrap();
        assert_eq!(out, [(1, r#"{"id": 1.0}"#.to_owned()), (3, r#"{"id": 3}"#.to_owned())]);
        let wrapped = Doc::from_body(&request, br#"{"data": [{"id": 1}]}"#.to_vec()).unwrap();
        let err = read_many(&wrapped.value, &wrapped.raw_items(&[]), "things", &read).unwrap_err();
        assert!(err.message().contains("`things[0].id`"), "{err}");
        assert!(read_many(&json!({}), &[], "things", &read).unwrap().is_empty());
        assert_eq!(read_many(&json!(7), &[], "things", &read).unwrap_err().case(), "unexpected-response");
    }

    #[test]
    fn raw_texts_are_the_answers_own_bytes() {
        let request = ApiRequest::get("/x");
        let body = br#"{"data": {"devices": [ {"did": 12345678901234567890, "score": 1.50}, {"big": 1e3} ]}}"#;
        let doc = Doc::from_body(&request, body.to_vec()).unwrap();
        let items = doc.raw_items(&["data", "devices"]);
        assert_eq!(
            items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            [r#"{"did": 12345678901234567890, "score": 1.50}"#, r#"{"big": 1e3}"#]
        );
        assert_eq!(serde_json::to_string(&items[1]).unwrap(), r#"{"big": 1e3}"#);
        assert_eq!(doc.raw_items(&["data"]).len(), 1, "an object is one item");
        assert!(doc.raw_items(&["nothing"]).is_empty());
        assert_eq!(doc.raw().get(), std::str::from_utf8(body).unwrap());
        assert_eq!(Doc::from_body(&request, b"  ".to_vec()).unwrap().raw().get(), "null");
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
}
