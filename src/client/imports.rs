//! The client side knows only the contract: `client`, the admin commands of `cli`, `mcp` and
//! `agent` import leaves (the generated proto and its helpers, the device contract, ids,
//! hex, pem, duration, systemd, exit codes, telemetry, macros) and each other, never the
//! server's internals; nor do the leaves they use. This test reads their sources and names
//! every import that breaks that.

use std::path::{Path, PathBuf};

/// Modules any client-side file may import.
const LEAVES: &[&str] =
    &["proto", "contract", "ids", "hex", "pem", "duration", "systemd", "exit", "telemetry", "macros"];

/// Client-side sources (relative to `src/`) and the client-side modules each may import
/// besides the leaves; the leaves that are not single files come last, importing only leaves.
const CLIENT_SIDE: &[(&str, &[&str])] = &[
    ("client.rs", &["client"]),
    ("client", &["client"]),
    ("mcp", &["client", "mcp"]),
    ("agent", &["agent"]),
    ("cli/mod.rs", &["client"]),
    ("cli/rpc.rs", &["client"]),
    ("cli/display.rs", &["client"]),
    ("cli/health.rs", &["client"]),
    ("cli/command.rs", &["client"]),
    ("cli/clients.rs", &["client"]),
    ("cli/rollout.rs", &["client"]),
    ("cli/restart.rs", &["client"]),
    ("cli/config.rs", &["client"]),
    ("cli/device.rs", &["agent"]),
    ("cli/device", &["agent"]),
    ("cli/fleet_sim.rs", &["agent"]),
    ("proto", &[]),
    ("contract", &[]),
    ("telemetry", &[]),
];

/// Every `.rs` file at or under `path`.
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap_or_else(|err| panic!("{}: {err}", path.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() || path.extension().is_some_and(|ext| ext == "rs") {
            files.extend(sources(&path));
        }
    }
    files
}

/// The top-level crate modules `line` names: `crate::a::b` and `crate::{a, b::c}`.
fn imported(line: &str) -> Vec<String> {
    let mut modules = Vec::new();
    for (_, rest) in line.match_indices("crate::").map(|(at, _)| line.split_at(at + 7)) {
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            modules.extend(group.split(',').map(|item| head(item.trim())));
        } else {
            modules.push(head(rest));
        }
    }
    modules.retain(|module| !module.is_empty() && module != "self");
    modules
}

/// The leading identifier of `path`.
fn head(path: &str) -> String {
    path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

#[test]
fn the_client_side_imports_only_leaves_and_itself() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (path, own) in CLIENT_SIDE {
        // This file names server modules in its examples.
        for file in sources(&src.join(path)).into_iter().filter(|file| !file.ends_with(file!())) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for module in imported(line) {
                    if !LEAVES.contains(&module.as_str()) && !own.contains(&module.as_str()) {
                        let file = file.strip_prefix(&src).unwrap().display();
                        wrong.push(format!("src/{file}:{}: crate::{module}", number + 1));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "client-side imports of server internals:\n{}", wrong.join("\n"));
}

#[test]
fn imports_are_read_from_paths_and_groups() {
    assert_eq!(imported("use crate::api::status::code_name;"), ["api"]);
    assert_eq!(imported("use crate::{config, exit::OK, self};"), ["config", "exit"]);
    assert_eq!(imported("x($crate::mcp::gateway, crate::cli::Args)"), ["mcp", "cli"]);
    assert!(imported("use super::ClientArgs;").is_empty());
}
