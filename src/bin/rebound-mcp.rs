//! `rebound-mcp`: the stdio MCP adapter for a rebound server (logic in `rebound::mcp`).

fn main() -> std::process::ExitCode {
    rebound::mcp::main()
}
