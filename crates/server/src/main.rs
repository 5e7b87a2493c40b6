use std::process::ExitCode;

fn main() -> ExitCode {
    techtrade_server::cli::main()
}
