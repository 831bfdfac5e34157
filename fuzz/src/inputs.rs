//! One valid input per action, the `example` of each action in `manifests/catalogue.json` (the
//! table the manifest is generated from): `response_parsing` sends it and fuzzes the answer, and
//! the seed corpus of `invoke_input` starts from it.

use std::sync::LazyLock;

use serde_json::Value;

/// The per-action table, compiled in so a harness reads no file at run time.
const CATALOGUE: &str = include_str!("../../manifests/catalogue.json");

/// Every action of the catalogue with its example input as compact JSON text, in catalogue
/// order; the call reaches the transport.
pub static VALID_INPUTS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let catalogue: Value = serde_json::from_str(CATALOGUE).expect("manifests/catalogue.json is JSON");
    catalogue["actions"]
        .as_array()
        .expect("catalogue actions")
        .iter()
        .map(|a| {
            let name = a["name"].as_str().expect("action name").to_owned();
            let example = a.get("example").unwrap_or_else(|| panic!("`{name}` has no example in the catalogue"));
            (name, example.to_string())
        })
        .collect()
});

/// The valid input of `action`; panics for an action the catalogue lacks, which a test catches.
pub fn valid_input(action: &str) -> &'static str {
    VALID_INPUTS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, input)| input.as_str())
        .unwrap_or_else(|| panic!("no example input for `{action}`: add one to manifests/catalogue.json"))
}
