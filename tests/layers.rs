//! The layer check: every `crate::` path in `src/` runs down the layers drawn in `src/lib.rs`'s
//! crate doc, and no top-level modules import each other in a loop.
//!
//! It reads the source text (no compiler involved): for each file, the top-level module it
//! belongs to, and every `crate::name` it mentions outside comments, test code included. A
//! failure names the file, the line and the rule broken. A new top-level module must be given
//! a layer in [`LAYERS`] (the check fails on a module it does not know).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a top-level module stands, from the bottom up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// Ids, errors of the wire, hex and pem, the generated proto, the device contract, small
    /// runtime helpers: they import only other leaves.
    Leaf,
    /// The domain's records and enums.
    Model,
    /// The `Store` traits and backends.
    Store,
    /// Commands, config, lifecycle, recovery, health, auth, audit: they may import each other,
    /// without a loop.
    Domain,
    /// gRPC (`api`) and MQTT (`mqtt`): translations to the domain, independent of each other.
    Adapter,
    /// Wires it all; nothing below imports it.
    Server,
    /// `cli` and `bench`: may import anything.
    Entry,
    /// `client`, `mcp`, `agent` and the admin half of `cli`: they know the contract and the
    /// leaves, never the server's internals.
    ClientSide,
}

/// Every top-level module of `src/` and its layer.
const LAYERS: &[(&str, Layer)] = &[
    ("clock", Layer::Leaf),
    ("contract", Layer::Leaf),
    ("duration", Layer::Leaf),
    ("exit", Layer::Leaf),
    ("hex", Layer::Leaf),
    ("ids", Layer::Leaf),
    ("macros", Layer::Leaf),
    ("metrics", Layer::Leaf),
    ("mosquitto", Layer::Leaf),
    ("pem", Layer::Leaf),
    ("proto", Layer::Leaf),
    ("systemd", Layer::Leaf),
    ("tasks", Layer::Leaf),
    ("telemetry", Layer::Leaf),
    ("testing", Layer::Leaf),
    ("model", Layer::Model),
    ("store", Layer::Store),
    ("audit", Layer::Domain),
    ("cluster", Layer::Domain),
    ("auth", Layer::Domain),
    ("commands", Layer::Domain),
    ("config", Layer::Domain),
    ("error", Layer::Domain),
    ("health", Layer::Domain),
    ("lifecycle", Layer::Domain),
    ("recovery", Layer::Domain),
    ("api", Layer::Adapter),
    ("http", Layer::Adapter),
    ("mqtt", Layer::Adapter),
    ("server", Layer::Server),
    ("bench", Layer::Entry),
    ("cli", Layer::Entry),
    ("agent", Layer::ClientSide),
    ("client", Layer::ClientSide),
    ("mcp", Layer::ClientSide),
];

/// Files of `cli` that are its admin half (talking to a server over gRPC): client-side rules.
const CLI_ADMIN: &[&str] = &[
    "cli/auth.rs",
    "cli/clients.rs",
    "cli/command.rs",
    "cli/config.rs",
    "cli/display.rs",
    "cli/health.rs",
    "cli/restart.rs",
    "cli/restart_all.rs",
    "cli/rollout.rs",
    "cli/rpc.rs",
];

/// Client-side modules may import the leaves and this shared client module.
const CLIENT_SHARED: &str = "client";

/// One `crate::` path found in a file.
#[derive(Debug, Clone)]
struct Import {
    /// Relative to `src/`, with `/`.
    file: String,
    line: usize,
    from: String,
    to: String,
}

impl fmt::Display for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "src/{}:{}: {} imports {}", self.file, self.line, self.from, self.to)
    }
}

/// The top-level module a file (relative to `src/`) belongs to; `None` for the crate root and
/// the binaries (entry points outside the library).
fn module_of(file: &str) -> Option<String> {
    let first = file.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "bin")).then(|| name.to_owned())
}

/// The top-level modules `line` names through `crate::` (also `crate::{a, b}` on one line).
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::` inside a macro, or part of a longer name
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String =
                    item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.push(name);
                }
            }
        } else {
            let name: String =
                rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// Every cross-module `crate::` path of `files` (path relative to `src/`, text).
fn imports(files: &[(String, String)]) -> Vec<Import> {
    let mut all = Vec::new();
    for (file, text) in files {
        let Some(from) = module_of(file) else { continue };
        for (index, line) in text.lines().enumerate() {
            for to in crate_paths(line) {
                if to != from {
                    all.push(Import {
                        file: file.clone(),
                        line: index + 1,
                        from: from.clone(),
                        to,
                    });
                }
            }
        }
    }
    all
}

fn layer_of(module: &str) -> Option<Layer> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

/// The layer rules `import` breaks, if any, for the server side (everything but the
/// client-side modules and the admin half of `cli`).
fn server_side_violation(import: &Import) -> Option<String> {
    let from = layer_of(&import.from)?;
    let Some(to) = layer_of(&import.to) else {
        return Some(format!("{import}: `{}` has no layer in tests/layers.rs", import.to));
    };
    if from == Layer::ClientSide || is_cli_admin(&import.file) {
        return None;
    }
    let rule = match (from, to) {
        (Layer::Entry, _) => return None,
        (_, Layer::ClientSide) => "only entry points import the client side",
        (_, Layer::Entry) => "only entry points import entry points",
        (Layer::Server, _) => return None,
        (_, Layer::Server) => "nothing below `server` imports it",
        (Layer::Adapter, Layer::Adapter) => "adapters do not import each other",
        (from, to) if to > from => "an import runs up the layers",
        (Layer::Leaf, Layer::Leaf) => return None,
        (Layer::Leaf, _) => "a leaf imports only leaves",
        _ => return None,
    };
    Some(format!("{import}: {rule} ({from:?} -> {to:?})"))
}

fn is_cli_admin(file: &str) -> bool {
    CLI_ADMIN.contains(&file)
}

/// The rule `import` breaks, if any, for the client side: `client`, `mcp`, `agent` and the
/// admin half of `cli` import only leaves and the shared client module.
fn client_side_violation(import: &Import) -> Option<String> {
    let client_side =
        layer_of(&import.from) == Some(Layer::ClientSide) || is_cli_admin(&import.file);
    if !client_side || import.to == CLIENT_SHARED || layer_of(&import.to) == Some(Layer::Leaf) {
        return None;
    }
    Some(format!("{import}: the client side imports only leaves and `{CLIENT_SHARED}`"))
}

/// The loops among top-level modules: each strongly connected group of two or more, with one
/// import per edge inside it as evidence.
fn cycles(imports: &[Import]) -> Vec<String> {
    let mut edges: BTreeMap<&str, BTreeMap<&str, &Import>> = BTreeMap::new();
    for import in imports {
        edges.entry(&import.from).or_default().entry(&import.to).or_insert(import);
    }
    let nodes: BTreeSet<&str> =
        imports.iter().flat_map(|i| [i.from.as_str(), i.to.as_str()]).collect();
    let reaches = |start: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            for next in edges.get(node).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(*next) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&str, BTreeSet<&str>> = nodes.iter().map(|n| (*n, reaches(n))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for node in &nodes {
        if done.contains(node) || !reach[node].contains(node) {
            continue;
        }
        let group: BTreeSet<&str> =
            reach[node].iter().copied().filter(|other| reach[other].contains(node)).collect();
        done.extend(group.iter().copied());
        let evidence: Vec<String> = group
            .iter()
            .flat_map(|from| edges.get(from).into_iter().flat_map(|e| e.iter()))
            .filter(|(to, _)| group.contains(*to))
            .map(|(_, import)| format!("  {import}"))
            .collect();
        let names: Vec<&str> = group.into_iter().collect();
        found.push(format!("loop among {}:\n{}", names.join(", "), evidence.join("\n")));
    }
    found
}

/// Every `.rs` file under `dir`, with its path relative to `root` (with `/`) and its text.
fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn source() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    files
}

fn report(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}: {} problem(s)\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let files = source();
    let unknown: BTreeSet<String> = files
        .iter()
        .filter_map(|(file, _)| module_of(file))
        .filter(|module| layer_of(module).is_none())
        .map(|module| format!("src/{module}: no layer in tests/layers.rs"))
        .collect();
    report("modules without a layer", unknown.into_iter().collect());
}

#[test]
fn server_side_imports_run_down_the_layers() {
    let problems = imports(&source()).iter().filter_map(server_side_violation).collect();
    report("imports against the layers", problems);
}

#[test]
fn no_loop_among_top_level_modules() {
    report("loops among top-level modules", cycles(&imports(&source())));
}

#[test]
fn client_side_imports_only_leaves() {
    let problems = imports(&source()).iter().filter_map(client_side_violation).collect();
    report("client-side imports of server internals", problems);
}

/// The checks themselves, on made-up files: they catch what they are meant to catch.
mod checks {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect()
    }

    #[test]
    fn paths_in_code_count_and_comments_and_macro_paths_do_not() {
        assert_eq!(crate_paths("use crate::store::Store;"), ["store"]);
        assert_eq!(crate_paths("    use crate::{model, store::Store};"), ["model", "store"]);
        assert_eq!(crate_paths("let now = crate::clock::now_ms();"), ["clock"]);
        assert!(crate_paths("//! see [`crate::server`]").is_empty());
        assert!(crate_paths("$crate::macros::text_enum! {").is_empty());
    }

    #[test]
    fn an_upward_import_is_named_with_its_file_line_and_rule() {
        let found = imports(&files(&[("store/sqlite.rs", "\nuse crate::lifecycle::Tasks;\n")]));
        let problems: Vec<_> = found.iter().filter_map(server_side_violation).collect();
        assert_eq!(
            problems,
            ["src/store/sqlite.rs:2: store imports lifecycle: an import runs up the layers \
              (Store -> Domain)"]
        );
    }

    #[test]
    fn the_domain_importing_server_and_adapters_importing_each_other_are_refused() {
        let found = imports(&files(&[
            ("health.rs", "use crate::server::ServerContext;"),
            ("mqtt/mod.rs", "use crate::api::status;"),
            ("model/commands.rs", "use crate::store::StoreError;"),
            ("server/run.rs", "use crate::api::Services;"),
        ]));
        let problems: Vec<_> = found.iter().filter_map(server_side_violation).collect();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("nothing below `server` imports it"));
        assert!(problems[1].contains("adapters do not import each other"));
        assert!(problems[2].contains("an import runs up the layers"));
    }

    #[test]
    fn the_client_side_may_import_leaves_and_the_client_module_only() {
        let found = imports(&files(&[
            (
                "mcp/mod.rs",
                "use crate::cli::Args;\nuse crate::proto::v1;\nuse crate::client::Connection;",
            ),
            ("cli/rpc.rs", "use crate::api::methods;"),
            ("cli/serve.rs", "use crate::server::run;"),
        ]));
        let problems: Vec<_> = found.iter().filter_map(client_side_violation).collect();
        assert_eq!(
            problems,
            [
                "src/mcp/mod.rs:1: mcp imports cli: the client side imports only leaves and `client`",
                "src/cli/rpc.rs:1: cli imports api: the client side imports only leaves and `client`",
            ]
        );
    }

    #[test]
    fn a_loop_is_reported_with_one_import_per_edge() {
        let found = imports(&files(&[
            ("config/watch.rs", "use crate::lifecycle::Tasks;"),
            ("lifecycle/restart.rs", "use crate::config::Config;"),
            ("commands/mod.rs", "use crate::config::Config;"),
        ]));
        assert_eq!(
            cycles(&found),
            ["loop among config, lifecycle:\n  \
              src/config/watch.rs:1: config imports lifecycle\n  \
              src/lifecycle/restart.rs:1: lifecycle imports config"]
        );
    }
}
