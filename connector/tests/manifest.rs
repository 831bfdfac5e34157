//! One source of truth: the manifest, the WIT functions and the dispatcher must agree.

use std::collections::BTreeSet;

use darktrace_connector::actions::{actions, invoke};
use darktrace_connector::manifest::MANIFEST;
use darktrace_connector::{Connection, Error, Result, Transport, WireRequest, WireResponse};
use serde_json::Value;

struct NeverSends;

impl Transport for NeverSends {
    fn send(&self, _: &WireRequest, _: u64) -> Result<WireResponse> {
        panic!("a manifest check must not send anything");
    }
}

fn manifest() -> Value {
    serde_json::from_str(MANIFEST).expect("manifests/darktrace.json is JSON")
}

fn manifest_actions() -> Vec<Value> {
    manifest()["actions"].as_array().expect("actions array").clone()
}

/// Function names declared in the WIT interfaces, except the generic entry points.
fn wit_functions() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../wit");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("wit directory") {
        let path = entry.expect("wit entry").path();
        if path.extension().is_none_or(|e| e != "wit") || path.file_name().is_some_and(|n| n == "generic.wit") {
            continue;
        }
        for line in std::fs::read_to_string(&path).expect("wit file").lines() {
            if let Some((name, _)) = line.trim().split_once(": func(") {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[test]
fn manifest_wit_and_dispatcher_name_the_same_actions() {
    let manifest: BTreeSet<String> =
        manifest_actions().iter().map(|a| a["name"].as_str().expect("action name").to_owned()).collect();
    let dispatcher: BTreeSet<String> = actions().map(|a| a.name.to_owned()).collect();
    assert_eq!(manifest, dispatcher, "manifest vs dispatcher");
    assert_eq!(manifest, wit_functions(), "manifest vs WIT functions");
    assert_eq!(manifest.len(), manifest_actions().len(), "duplicate action names in the manifest");
}

#[test]
fn every_action_entry_is_complete() {
    for a in manifest_actions() {
        let name = a["name"].as_str().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name} is not kebab-case");
        for key in ["title", "description"] {
            assert!(a[key].as_str().is_some_and(|s| !s.is_empty()), "{name} lacks {key}");
        }
        assert!(["test", "investigate", "correct"].contains(&a["category"].as_str().unwrap_or("")), "{name} category");
        assert!(a["read_only"].is_boolean() && a["destructive"].is_boolean(), "{name} flags");
        assert_eq!(a["input"]["type"], "object", "{name} input must be an object schema");
        assert_eq!(a["input"]["additionalProperties"], false, "{name} input must reject unknown properties");
        assert!(a["output"].is_object(), "{name} output schema");
    }
}

/// The fields an action's input type accepts, read from serde's unknown-field message.
fn accepted_fields(action: &str) -> BTreeSet<String> {
    let err = invoke(Connection::new("x", "p", "s"), &NeverSends, action, r#"{"zz_not_a_field": 1}"#).unwrap_err();
    let Error::InvalidInput(message) = err else { panic!("{action}: expected invalid-input, got {err}") };
    assert!(message.contains("unknown field `zz_not_a_field`"), "{action}: {message}");
    message
        .split_once("expected")
        .map(|(_, list)| list.split('`').skip(1).step_by(2).map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn input_schemas_list_exactly_the_fields_the_dispatcher_accepts() {
    for a in manifest_actions() {
        let name = a["name"].as_str().unwrap();
        let schema: BTreeSet<String> =
            a["input"]["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(schema, accepted_fields(name), "{name}: manifest input properties vs accepted fields");
        for required in a["input"]["required"].as_array().into_iter().flatten() {
            assert!(schema.contains(required.as_str().unwrap()), "{name}: required {required} is not a property");
        }
    }
}

#[test]
fn connection_schema_matches_the_wit_connection_record() {
    let types = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/types.wit")).unwrap();
    let record = types.split("record connection {").nth(1).unwrap().split('}').next().unwrap();
    let wit: BTreeSet<String> = record
        .lines()
        .filter_map(|l| {
            l.trim().split_once(':').filter(|_| !l.trim().starts_with("//")).map(|(k, _)| k.replace('-', "_"))
        })
        .collect();
    let m = manifest();
    let schema: BTreeSet<String> = m["connection"]["properties"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(schema, wit);
    assert_eq!(m["connection"]["properties"]["private_token"]["writeOnly"], true, "private token must be write-only");
}

#[test]
fn manifest_version_matches_the_crate_and_the_wit_package() {
    let m = manifest();
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    let world = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/world.wit")).unwrap();
    let package = m["wit_package"].as_str().unwrap();
    assert!(world.contains(&format!("package {package};")), "world.wit does not declare {package}");
}

/// The README's action table is generated from the manifest; run with `UPDATE_README=1` to
/// rewrite it after changing the manifest.
#[test]
fn readme_action_table_matches_the_manifest() {
    let mut table = String::from("| Action | What it does | Category | Read-only |\n| --- | --- | --- | --- |\n");
    for a in manifest_actions() {
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            a["name"].as_str().unwrap(),
            a["description"].as_str().unwrap(),
            a["category"].as_str().unwrap(),
            if a["read_only"] == true { "yes" } else { "no" }
        ));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (head, rest) = readme.split_once("<!-- actions:start -->\n").expect("actions:start marker in README");
    let (current, tail) = rest.split_once("<!-- actions:end -->").expect("actions:end marker in README");
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, format!("{head}<!-- actions:start -->\n{table}<!-- actions:end -->{tail}")).unwrap();
        return;
    }
    assert_eq!(
        current, table,
        "README action table is stale: run `UPDATE_README=1 cargo test -p darktrace-connector --test manifest`"
    );
}
