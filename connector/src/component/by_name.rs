//! `by_name!`, the one way a WIT record and its Rust twin are converted into each other.

/// Builds the struct `$to` from `$value`, a `$from`, matching fields by name.
///
/// The source is destructured and the target built with every field written out, so a field
/// missing on either side does not compile, and since each field is named once for both sides,
/// two fields of the same type (`compliance` and `critical`) cannot be swapped. `field => f`
/// passes the value through `f` (a function or closure) on the way.
macro_rules! by_name {
    (@convert $field:ident) => {
        $field
    };
    (@convert $field:ident, $convert:expr) => {
        ($convert)($field)
    };
    ($value:expr, $from:path => $to:path { $($field:ident $(=> $convert:expr)?),* $(,)? }) => {{
        let $from { $($field),* } = $value;
        $to { $($field: by_name!(@convert $field $(, $convert)?)),* }
    }};
}

/// A JSON document (a parsed tree, or the appliance's own text) as the JSON text the WIT carries.
pub(super) fn text(value: impl ToString) -> String {
    value.to_string()
}

/// `f` over each item of a list.
pub(super) fn each<A, B>(f: impl Fn(A) -> B) -> impl Fn(Vec<A>) -> Vec<B> {
    move |list| list.into_iter().map(&f).collect()
}

/// `f` over an optional value.
pub(super) fn opt<A, B>(f: impl Fn(A) -> B) -> impl Fn(Option<A>) -> Option<B> {
    move |value| value.map(&f)
}
