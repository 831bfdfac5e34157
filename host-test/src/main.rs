//! The `host-test` command: runs the connector's actions, the simulator and the conformance suite
//! (see `host_test::cli`).

fn main() -> std::process::ExitCode {
    host_test::cli::main()
}
