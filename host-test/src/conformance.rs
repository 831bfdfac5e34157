//! The conformance suite (`conformance/suite.json`): action calls and the outcome each must
//! have, as data, so any runtime can execute it. This module binds its `${name}` inputs, runs
//! it through wasmtime, and judges outcomes from any runtime with one set of rules.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::{ConnectionParams, Host};

/// The suite as committed.
pub const SUITE: &str = include_str!("../../conformance/suite.json");

/// A conformance suite.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// What the suite is.
    pub description: String,
    /// Values taken from the dataset before the cases run, by name.
    #[serde(default)]
    pub bindings: BTreeMap<String, Binding>,
    /// The calls, run in order on one simulator.
    pub cases: Vec<Case>,
}

/// A value read from an action's result.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// The action to run.
    pub action: String,
    /// Its input.
    pub input: Value,
    /// JSON pointer into its result.
    pub pointer: String,
}

/// One call and its expected outcome.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// Action name.
    pub action: String,
    /// Input object; string values `${name}` are replaced by bindings.
    #[serde(default)]
    pub input: Value,
    /// The expected outcome.
    pub expect: Expect,
}

/// What a case's outcome must be. With `error`, the call must fail with that case; otherwise it
/// must succeed and meet every other condition.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The expected error case, e.g. `not-found`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The result is an array with at least this many items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<usize>,
    /// JSON pointer to expected value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub equals: BTreeMap<String, Value>,
    /// JSON pointers that must exist and not be null.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<String>,
    /// For an array result: JSON pointer inside every item to its bound.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub each: BTreeMap<String, Bound>,
}

/// A bound on a value.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    /// Lowest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Exact value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
}

/// What a runtime reported for one case, in the form every runner prints (one JSON line each).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The action's JSON result.
    Ok(Value),
    /// The connector's typed error.
    Error {
        /// Error case, kebab-case.
        case: String,
        /// Its message.
        message: String,
    },
    /// The runtime failed (trap, host error).
    Failure(String),
}

/// A runner's line for one case.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaseResult {
    /// The case name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

impl Suite {
    /// The committed suite.
    pub fn committed() -> anyhow::Result<Suite> {
        serde_json::from_str(SUITE).context("conformance/suite.json is not a valid suite")
    }

    /// Runs the bindings through `host` and returns the suite with every `${name}` replaced.
    pub async fn bind(&self, host: &Host, conn: &ConnectionParams) -> anyhow::Result<Suite> {
        let mut values = BTreeMap::new();
        for (name, binding) in &self.bindings {
            let out = host
                .invoke(conn, &binding.action, &binding.input.to_string())
                .await?
                .map_err(|e| anyhow::anyhow!("binding `{name}`: {} failed: {}", binding.action, e.message()))?;
            let result: Value = serde_json::from_str(&out)?;
            let value = result
                .pointer(&binding.pointer)
                .cloned()
                .with_context(|| format!("binding `{name}`: no {} in the result", binding.pointer))?;
            values.insert(format!("${{{name}}}"), value);
        }
        let mut bound = self.clone();
        bound.bindings.clear();
        for case in &mut bound.cases {
            substitute(&mut case.input, &values);
            let mut expect = serde_json::to_value(&case.expect)?;
            substitute(&mut expect, &values);
            case.expect = serde_json::from_value(expect)?;
        }
        Ok(bound)
    }
}

fn substitute(v: &mut Value, values: &BTreeMap<String, Value>) {
    match v {
        Value::String(s) => {
            if let Some(bound) = values.get(s.as_str()) {
                *v = bound.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, values)),
        Value::Object(map) => map.values_mut().for_each(|i| substitute(i, values)),
        _ => {}
    }
}

/// Runs a bound suite through wasmtime, in order.
pub async fn run_wasmtime(host: &Host, conn: &ConnectionParams, suite: &Suite) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for case in &suite.cases {
        let outcome = match host.invoke(conn, &case.action, &case.input.to_string()).await {
            Ok(Ok(out)) => {
                serde_json::from_str(&out).map_or_else(|e| Outcome::Failure(format!("invalid JSON: {e}")), Outcome::Ok)
            }
            Ok(Err(e)) => Outcome::Error { case: e.case().to_owned(), message: e.message() },
            Err(e) => Outcome::Failure(format!("{e:#}")),
        };
        results.push(CaseResult { name: case.name.clone(), outcome });
    }
    results
}

/// Judges one outcome against its case; the error says what differs.
pub fn judge(case: &Case, outcome: &Outcome) -> Result<(), String> {
    let e = &case.expect;
    let result = match (outcome, &e.error) {
        (Outcome::Failure(f), _) => return Err(format!("runtime failure: {f}")),
        (Outcome::Error { case: got, .. }, Some(want)) if got == want => return Ok(()),
        (Outcome::Error { case: got, message }, _) => {
            return Err(format!("expected {}, got error {got}: {message}", e.error.as_deref().unwrap_or("success")));
        }
        (Outcome::Ok(_), Some(want)) => return Err(format!("expected error {want}, got a result")),
        (Outcome::Ok(v), None) => v,
    };
    if let Some(min) = e.min_items {
        let n = result.as_array().map_or(0, Vec::len);
        if n < min {
            return Err(format!("expected at least {min} items, got {n}"));
        }
    }
    for (pointer, want) in &e.equals {
        let got = result.pointer(pointer);
        if got != Some(want) {
            return Err(format!("{pointer}: expected {want}, got {}", got.map_or("nothing".into(), Value::to_string)));
        }
    }
    for pointer in &e.present {
        if result.pointer(pointer).is_none_or(Value::is_null) {
            return Err(format!("{pointer} is missing"));
        }
    }
    for (i, item) in result.as_array().into_iter().flatten().enumerate() {
        for (pointer, bound) in &e.each {
            let got = item.pointer(pointer);
            let number = got.and_then(Value::as_f64);
            let ok = bound.equals.as_ref().is_none_or(|want| got == Some(want))
                && bound.min.is_none_or(|m| number.is_some_and(|n| n >= m))
                && bound.max.is_none_or(|m| number.is_some_and(|n| n <= m));
            if !ok {
                return Err(format!(
                    "item {i}{pointer}: {} is outside {bound:?}",
                    got.map_or("nothing".into(), Value::to_string)
                ));
            }
        }
    }
    Ok(())
}

/// Judges a runner's results against the suite: one line per failing case.
pub fn judge_all(suite: &Suite, results: &[CaseResult]) -> anyhow::Result<Vec<String>> {
    if results.len() != suite.cases.len() {
        bail!("{} results for {} cases", results.len(), suite.cases.len());
    }
    let mut failures = Vec::new();
    for (case, result) in suite.cases.iter().zip(results) {
        if case.name != result.name {
            bail!("result `{}` does not belong to case `{}`", result.name, case.name);
        }
        if let Err(why) = judge(case, &result.outcome) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    Ok(failures)
}
