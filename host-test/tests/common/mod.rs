//! The harness the CLI test crates share (`cli.rs`, `security.rs`): the `host-test` binary run as a
//! user runs it, with an environment of the test's own, and the private token searched for in
//! every output.

// Each test crate uses only part of the harness.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host_test::simulator::{Simulator, SimulatorConfig};

/// A private token distinctive enough that any leak is found by a plain search.
pub const SECRET: &str = "5ec7e75ec7e75ec7e0123456789abcdefdeadbee";

/// The `host-test` command with a component cache of the tests' own (tests must not depend on,
/// or write into, the user's cache), no connection from the caller's environment, and `env`.
pub fn command(env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-test"));
    cmd.env("DARKTRACE_CONNECTOR_CACHE", concat!(env!("CARGO_TARGET_TMPDIR"), "/component-cache"))
        .env_remove("DARKTRACE_API_ADDRESS")
        .env_remove("DARKTRACE_PUBLIC_TOKEN")
        .env_remove("DARKTRACE_PRIVATE_TOKEN")
        .env_remove("DARKTRACE_CONNECTIONS_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs host-test and checks the private token is in neither stream.
pub fn host_test(args: &[&str], env: &[(&str, &str)]) -> Output {
    checked(command(env).args(args).output().expect("run host-test"))
}

/// `out`, once it is checked not to show [`SECRET`] on either stream.
pub fn checked(out: Output) -> Output {
    let (stdout, stderr) = text(&out);
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "the private token was printed");
    out
}

/// An output's stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A fresh directory of the test's own, in the test target dir.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The connection store's path in `dir`.
pub fn store_in(dir: &Path) -> String {
    dir.join("connections.json").to_string_lossy().into_owned()
}

/// A simulator whose private token is [`SECRET`].
pub async fn simulator() -> Simulator {
    Simulator::start(SimulatorConfig { private_token: SECRET.into(), ..Default::default() }).await.unwrap()
}

/// Runs host-test with `args` against `sim`, the connection given in the environment with
/// `private` as its private token (off the async runtime, since the simulator runs on it).
pub async fn against(sim: &Simulator, private: &str, args: &[&str]) -> Output {
    let env = [
        ("DARKTRACE_API_ADDRESS".to_owned(), sim.url()),
        ("DARKTRACE_PUBLIC_TOKEN".to_owned(), sim.public_token().to_owned()),
        ("DARKTRACE_PRIVATE_TOKEN".to_owned(), private.to_owned()),
    ];
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        host_test(&args, &env)
    })
    .await
    .unwrap()
}
