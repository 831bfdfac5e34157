//! Shared by the end-to-end tests: one loaded component, a simulator per test, and `invoke`
//! that checks every output against the manifest.

pub use std::path::Path;
pub use std::sync::LazyLock;

pub use host_test::outbound::{Destination, Policy};
pub use host_test::runtime::{
    ConnectionParams, GuestError, Host, HostConfig, Instant, Settings, devices, model_breaches, polling,
};
pub use host_test::simulator::{Simulator, SimulatorConfig};
pub use serde_json::{Value, json};

/// One compiled component for the whole test binary: compiling is the slow part.
pub static HOST: LazyLock<Host> = LazyLock::new(|| {
    Host::load(Path::new(host_test::CONNECTOR_WASM), HostConfig::default()).expect("load the component")
});

pub static MANIFEST: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(darktrace_connector::manifest::MANIFEST).expect("manifest JSON"));

pub async fn simulator() -> (Simulator, ConnectionParams) {
    simulator_with(SimulatorConfig::default()).await
}

pub async fn simulator_with(config: SimulatorConfig) -> (Simulator, ConnectionParams) {
    let private_token = config.private_token.clone();
    let sim = Simulator::start(config).await.expect("start the simulator");
    let conn = ConnectionParams {
        api_address: sim.url(),
        public_token: sim.public_token().to_owned(),
        private_token,
        ..Default::default()
    };
    (sim, conn)
}

/// Runs an action through `invoke`, checks the output against the manifest's schema, and
/// returns it parsed.
pub async fn invoke(conn: &ConnectionParams, action: &str, input: Value) -> Result<Value, GuestError> {
    let out = HOST.invoke(conn, action, &input.to_string()).await.expect("no trap")?;
    let value: Value = serde_json::from_str(&out).expect("invoke returns JSON");
    let mut schema = MANIFEST["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == action)
        .expect("action in manifest")["output"]
        .clone();
    // The records an output's `$ref`s name are the manifest's `$defs`.
    schema["$defs"] = MANIFEST["$defs"].clone();
    let validator = jsonschema::validator_for(&schema).expect("output schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{action} output does not match the manifest: {errors:?}");
    Ok(value)
}

pub fn case(r: Result<Value, GuestError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.case(),
    }
}
