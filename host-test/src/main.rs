fn main() -> std::process::ExitCode {
    host_test::cli::main()
}
