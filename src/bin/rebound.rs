//! `rebound`: the control-plane server (`rebound serve`) and its admin CLI.

fn main() -> std::process::ExitCode {
    rebound::cli::main()
}
