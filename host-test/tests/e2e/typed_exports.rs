//! Every typed export of the component, called through wasmtime's dynamic component API with the
//! action's example input, gives the same answer as `invoke` with the same input. The input is
//! converted from JSON to component values by walking the export's own parameter types, and the
//! typed result is turned back into JSON the same way, so no export's conversion goes unchecked
//! and a new export is covered without writing a test for it.

use std::collections::BTreeSet;

use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Linker, ResourceTable, Type, Val};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::support::*;
use host_test::simulator::RespondState;

/// Interfaces that are not one action per function.
const NOT_TYPED: [&str; 2] = ["generic", "types"];

/// Store data for the dynamic calls: WASI and wasi:http with the default sender. The test talks
/// only to its own loopback simulator, so the host's policy layer is not needed here.
struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: wasmtime_wasi_http::default_hooks() }
    }
}

/// The component compiled once for the dynamic calls, with the linker that instantiates it.
struct Dynamic {
    engine: Engine,
    component: Component,
    linker: Linker<Ctx>,
}

static DYNAMIC: LazyLock<Dynamic> = LazyLock::new(|| {
    let engine = Engine::new(&Config::new()).expect("engine");
    let component = Component::from_file(&engine, host_test::CONNECTOR_WASM).expect("compile the component");
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link WASI");
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("link wasi:http");
    Dynamic { engine, component, linker }
});

/// `(interface export name, function name)` of every typed export, e.g.
/// `("darktrace:connector/devices@0.1.0", "get-device")`.
fn typed_exports() -> Vec<(String, String)> {
    let d = &*DYNAMIC;
    let mut found = Vec::new();
    for (interface, item) in d.component.component_type().exports(&d.engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else { continue };
        if NOT_TYPED.iter().any(|n| interface.split_once('/').is_some_and(|(_, rest)| rest.starts_with(n))) {
            continue;
        }
        for (function, item) in instance.exports(&d.engine) {
            if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                found.push((interface.to_owned(), function.to_owned()));
            }
        }
    }
    found
}

/// Calls `function` of `interface` in a fresh instance with `input` (the action's JSON input)
/// spread over its parameters, and returns the result as JSON or the error as (case, message).
async fn call_typed(
    conn: &ConnectionParams,
    interface: &str,
    function: &str,
    input: &Value,
) -> Result<Value, (String, String)> {
    let d = &*DYNAMIC;
    let wasi = WasiCtx::builder().inherit_stderr().build();
    let mut store = Store::new(&d.engine, Ctx { table: ResourceTable::new(), wasi, http: WasiHttpCtx::new() });
    let instance = d.linker.instantiate_async(&mut store, &d.component).await.expect("instantiate");
    let interface_index = instance.get_export_index(&mut store, None, interface).expect("interface export");
    let index = instance.get_export_index(&mut store, Some(&interface_index), function).expect("function export");
    let func = instance.get_func(&mut store, index).expect("a function");
    let ty: ComponentFunc = func.ty(&store);
    let connection = json!({
        "api_address": conn.api_address,
        "public_token": conn.public_token,
        "private_token": conn.private_token,
    });
    let params: Vec<Val> = ty
        .params()
        .map(|(name, ty)| {
            let value = match (name, &ty) {
                ("connection", _) => &connection,
                // A record parameter takes the whole input object (`filter`, `query`, ...)...
                (_, Type::Record(_)) => input,
                // ...any other parameter takes the input's property of the same name.
                _ => input.get(name.replace('-', "_")).unwrap_or(&Value::Null),
            };
            to_val(&ty, value).unwrap_or_else(|e| panic!("{function}: parameter `{name}` from {input}: {e}"))
        })
        .collect();
    let mut results = vec![Val::Bool(false); ty.results().len()];
    func.call_async(&mut store, &params, &mut results).await.unwrap_or_else(|e| panic!("{function} trapped: {e:?}"));
    match results.pop() {
        Some(Val::Result(Ok(Some(value)))) => Ok(to_json(&value)),
        Some(Val::Result(Err(Some(error)))) => match *error {
            Val::Variant(case, payload) => {
                let message = match payload.as_deref().map(to_json) {
                    Some(Value::String(m)) => m,
                    Some(record) => record["message"].as_str().unwrap_or_default().to_owned(),
                    None => String::new(),
                };
                Err((case, message))
            }
            other => panic!("{function}: the error is not a variant: {other:?}"),
        },
        other => panic!("{function}: not a result<T, error>: {other:?}"),
    }
}

/// Appliance words for enum cases whose WIT names differ (each case's WIT doc names its word).
const ENUM_WORDS: [(&str, &str); 8] = [
    ("co", "connections"),
    ("sizeout", "size-out"),
    ("sizein", "size-in"),
    ("connection", "block-connections"),
    ("pol", "enforce-pattern-of-life"),
    ("gpol", "enforce-group-pattern-of-life"),
    ("quarantineOutgoing", "block-outgoing"),
    ("quarantineIncoming", "block-incoming"),
];

/// `json` as a value of WIT type `ty`; record fields are the JSON properties with `-` as `_`.
fn to_val(ty: &Type, json: &Value) -> Result<Val, String> {
    let int = || json.as_i64().map(i128::from).or(json.as_u64().map(i128::from)).ok_or(format!("{json} is no integer"));
    let range = |e: std::num::TryFromIntError| format!("{json}: {e}");
    Ok(match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or(format!("{json} is no bool"))?),
        Type::U8 => Val::U8(int()?.try_into().map_err(range)?),
        Type::U16 => Val::U16(int()?.try_into().map_err(range)?),
        Type::U32 => Val::U32(int()?.try_into().map_err(range)?),
        Type::U64 => Val::U64(int()?.try_into().map_err(range)?),
        Type::S8 => Val::S8(int()?.try_into().map_err(range)?),
        Type::S16 => Val::S16(int()?.try_into().map_err(range)?),
        Type::S32 => Val::S32(int()?.try_into().map_err(range)?),
        Type::S64 => Val::S64(int()?.try_into().map_err(range)?),
        Type::Float32 => Val::Float32(json.as_f64().ok_or(format!("{json} is no number"))? as f32),
        Type::Float64 => Val::Float64(json.as_f64().ok_or(format!("{json} is no number"))?),
        Type::String => Val::String(json.as_str().ok_or(format!("{json} is no string"))?.to_owned()),
        // An omitted list is an empty one, as `invoke` reads it.
        Type::List(_) if json.is_null() => Val::List(Vec::new()),
        Type::List(list) => Val::List(
            json.as_array()
                .ok_or(format!("{json} is no array"))?
                .iter()
                .map(|item| to_val(&list.ty(), item))
                .collect::<Result<_, _>>()?,
        ),
        Type::Option(_) if json.is_null() => Val::Option(None),
        Type::Option(option) => Val::Option(Some(Box::new(to_val(&option.ty(), json)?))),
        Type::Record(record) => {
            let object = json.as_object().ok_or(format!("{json} is no object"))?;
            let fields: Vec<(String, Val)> = record
                .fields()
                .map(|f| {
                    Ok((
                        f.name.to_owned(),
                        to_val(&f.ty, object.get(&f.name.replace('-', "_")).unwrap_or(&Value::Null))?,
                    ))
                })
                .collect::<Result<_, String>>()?;
            let known: BTreeSet<String> = fields.iter().map(|(n, _)| n.replace('-', "_")).collect();
            if let Some(extra) = object.keys().find(|k| !known.contains(*k)) {
                return Err(format!("property `{extra}` is no field of the WIT record"));
            }
            Val::Record(fields)
        }
        Type::Enum(cases) => {
            let word = json.as_str().ok_or(format!("{json} is no string"))?;
            let squash = |s: &str| s.replace(['-', '_'], "").to_ascii_lowercase();
            let case = cases
                .names()
                .find(|c| squash(c) == squash(word))
                .or_else(|| {
                    let alias = ENUM_WORDS.iter().find(|(w, _)| *w == word)?.1;
                    cases.names().find(|c| *c == alias)
                })
                .ok_or(format!("{word} is no case of the enum"))?;
            Val::Enum(case.to_owned())
        }
        // The first case whose payload takes the value: `instant` is epoch-ms for a number and
        // iso8601 for a string.
        Type::Variant(variant) => variant
            .cases()
            .find_map(|c| {
                let payload = c.ty.as_ref().map(|t| to_val(t, json)).transpose().ok()?;
                Some(Val::Variant(c.name.to_owned(), payload.map(Box::new)))
            })
            .ok_or(format!("{json} fits no case of the variant"))?,
        other => return Err(format!("no JSON mapping for {other:?}")),
    })
}

/// A component value as JSON, record fields with `-` as `_`.
fn to_json(val: &Val) -> Value {
    match val {
        Val::Bool(b) => json!(b),
        Val::U8(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::S8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::Float32(n) => json!(n),
        Val::Float64(n) => json!(n),
        Val::Char(c) => json!(c),
        Val::String(s) => json!(s),
        Val::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(fields.iter().map(|(n, v)| (n.replace('-', "_"), to_json(v))).collect()),
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => to_json(v),
        Val::Enum(case) => json!(case),
        Val::Variant(case, payload) => json!({ case.as_str(): payload.as_deref().map(to_json) }),
        other => panic!("no JSON mapping for {other:?}"),
    }
}

/// `typed` compared with `invoke`'s answer: equal, except that WIT carries JSON documents (the
/// appliance's `raw` object, `filters`, ...) as JSON text, which is parsed where `invoke`
/// answers a document rather than a string. Returns the path of the first difference.
fn differs(typed: &Value, invoked: &Value, path: &str) -> Option<String> {
    match (typed, invoked) {
        (Value::String(text), other) if !other.is_string() => match serde_json::from_str::<Value>(text) {
            Ok(parsed) => differs(&parsed, other, path),
            Err(_) => Some(format!("{path}: typed {typed} vs invoke {invoked}")),
        },
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                differs(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| differs(x, y, &format!("{path}[{i}]")))
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        _ if typed == invoked || same_enum_case(typed, invoked) || same_moment(typed, invoked) => None,
        _ => Some(format!("{path}: typed {typed} vs invoke {invoked}")),
    }
}

/// An enum case as the typed export names it (`size-out`) and as `invoke` does (`sizeout`).
fn same_enum_case(typed: &Value, invoked: &Value) -> bool {
    let (Some(case), Some(word)) = (typed.as_str(), invoked.as_str()) else { return false };
    let squash = |s: &str| s.replace(['-', '_'], "").to_ascii_lowercase();
    squash(case) == squash(word) || ENUM_WORDS.contains(&(word, case))
}

/// Two readings of the clock taken by two calls made one after the other (`checked_at`, a poll's
/// `window_end`, the time a write stamps): epoch milliseconds or ISO 8601, within ten minutes.
fn same_moment(typed: &Value, invoked: &Value) -> bool {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let ms = |v: &Value| match v {
        Value::Number(n) => n.as_i64().filter(|ms| *ms > 1_000_000_000_000),
        Value::String(s) => {
            OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        }
        _ => None,
    };
    matches!((ms(typed), ms(invoked)), (Some(a), Some(b)) if (a - b).abs() < 600_000)
}

/// The example input with ids the simulator knows, so reads find something and writes change
/// something: the examples name made-up ids.
fn with_known_ids(sim: &Simulator, action: &str, mut input: Value) -> Value {
    let object = input.as_object_mut().expect("an example input is an object");
    let events = sim.incident_event_ids();
    for (key, value) in object.iter_mut() {
        match key.as_str() {
            "did" => *value = json!(sim.known_dids()[0]),
            "pbid" => *value = json!(sim.known_pbids()[0]),
            "pid" => *value = json!(sim.model_ids()[0].0),
            "uuid" | "incident_id" if action.contains("ai-analyst") => *value = json!(events[0]),
            "uuids" => *value = json!([events[0]]),
            "codeid" => {
                let state = match action {
                    "activate-respond-action" => RespondState::Pending,
                    "reactivate-respond-action" => RespondState::Expired,
                    _ => RespondState::Active,
                };
                *value = json!(sim.respond_codeids(state)[0]);
            }
            _ => {}
        }
    }
    input
}

#[tokio::test]
async fn every_typed_export_answers_as_invoke_does_for_the_example_input() {
    let exports = typed_exports();
    let manifest_actions = MANIFEST["actions"].as_array().unwrap();
    let (mut missed, mut mismatched) = (Vec::new(), Vec::new());
    let (mut answered, mut refused) = (0, 0);
    for (interface, function) in &exports {
        let Some(action) = manifest_actions.iter().find(|a| a["name"] == *function) else {
            missed.push(format!("{function} (no action of that name in the manifest)"));
            continue;
        };
        let Some(example) = example_input(function) else {
            missed.push(format!("{function} (no example input)"));
            continue;
        };
        let (sim, conn) = simulator().await;
        let input = with_known_ids(&sim, function, example);
        let invoked = invoke(&conn, function, input.clone()).await;
        // A write is compared on a simulator of its own, in the state the first one started in.
        let other = if action["read_only"] == true { None } else { Some(simulator().await) };
        let typed_conn = other.as_ref().map_or(&conn, |(_, c)| c);
        let typed = call_typed(typed_conn, interface, function, &input).await;
        match (&typed, &invoked) {
            (Ok(typed), Ok(invoked)) => {
                if let Some(difference) = differs(typed, invoked, "") {
                    mismatched.push(format!("{function} {input}: {difference}"));
                }
                answered += 1;
            }
            (Err((case, message)), Err(error)) => {
                assert_eq!((case.as_str(), message.clone()), (error.case(), error.message()), "{function} {input}");
                refused += 1;
            }
            _ => panic!("{function} {input}: typed {typed:?} vs invoke {invoked:?}"),
        }
    }
    assert!(missed.is_empty(), "typed exports not called: {missed:?}");
    assert!(mismatched.is_empty(), "typed exports that answer otherwise than invoke:\n{}", mismatched.join("\n"));
    assert_eq!(exports.len(), manifest_actions.len(), "every action has a typed export");
    eprintln!("{answered} typed exports answered as invoke did, {refused} refused as invoke did");
    // Refusals check only the input conversion; the output conversions need answers.
    assert!(refused * 5 < answered, "{refused} examples were refused, {answered} answered");
}

/// The action's example input from the table the manifest is generated from, when it has one.
fn example_input(action: &str) -> Option<Value> {
    static CATALOGUE: LazyLock<Value> = LazyLock::new(|| {
        serde_json::from_str(include_str!("../../../manifests/catalogue.json")).expect("catalogue JSON")
    });
    CATALOGUE["actions"].as_array()?.iter().find(|a| a["name"] == action)?.get("example").cloned()
}
