//! `rebound-agent`: the device agent (see `rebound::agent`).

fn main() -> std::process::ExitCode {
    rebound::agent::main()
}
