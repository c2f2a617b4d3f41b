//! The `rebound-agent` packages of `scripts/package-agent.sh`, proved: the arm64 `.deb` holds
//! what an install needs, and its binary, run under qemu-user (Debian's qemu-user-static),
//! carries a `restart_app` command through its whole lifecycle against a real Mosquitto and a
//! real `rebound serve` (simulated executor).
//!
//! The package is built by the script, not here (scripts/test.sh runs it first). Without it
//! these tests say so and pass, except under `CI=true`, where a missing package fails them.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rebound::proto::v1 as pb;
use support::Server;
use support::agent::AgentProc;
use support::device::{event_states, issue_id, rpc, wait_client, wait_state};
use support::mosquitto::Broker;
use uuid::Uuid;

use pb::CommandState as S;

/// Where the Debian cross toolchain (libc6-arm64-cross) puts the arm64 sysroot.
const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The package for `arch`; `None` (skip) when it was not built, a failure under `CI=true`.
fn package(arch: &str) -> Option<PathBuf> {
    let deb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("target/debian/rebound-agent_{}_{arch}.deb", env!("CARGO_PKG_VERSION")));
    if deb.is_file() {
        return Some(deb);
    }
    let missing = format!("{}: missing; scripts/package-agent.sh {arch} builds it", deb.display());
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{missing}");
    eprintln!("skipped: {missing}");
    None
}

/// The package's files, extracted into a temp dir.
fn extract(deb: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb").arg("-x").arg(deb).arg(root.path()).status().unwrap();
    assert!(status.success(), "dpkg-deb -x {}", deb.display());
    root
}

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_arm64_package_holds_the_stripped_binary_units_and_conffile() {
    let Some(deb) = package("arm64") else { return };
    let deb = deb.to_str().unwrap();
    assert_eq!(output("dpkg-deb", &["--field", deb, "Architecture"]).trim(), "arm64");
    assert_eq!(
        output("dpkg-deb", &["--info", deb, "conffiles"]).trim(),
        "/etc/rebound-agent/agent.toml"
    );

    let root = extract(Path::new(deb));
    let file = |path: &str| std::fs::read_to_string(root.path().join(path)).unwrap();
    let binary = root.path().join("usr/bin/rebound-agent");
    let header = output("readelf", &["-h", binary.to_str().unwrap()]);
    assert!(header.contains("AArch64"), "{header}");
    let sections = output("readelf", &["-S", binary.to_str().unwrap()]);
    assert!(!sections.contains(".symtab") && !sections.contains(".debug_info"), "not stripped");

    let service = file("lib/systemd/system/rebound-agent.service");
    assert!(
        service.contains("ExecStart=/usr/bin/rebound-agent --config /etc/rebound-agent/agent.toml"),
        "{service}"
    );
    let notify = file("lib/systemd/system/notify-failure@.service");
    assert!(notify.contains("ExecStart=/usr/bin/rebound-agent --config /etc/rebound-agent/"));
    assert!(file("etc/rebound-agent/agent.toml").contains("password_file = \"/etc/rebound-agent/"));
    assert!(file("usr/lib/tmpfiles.d/rebound-agent.conf").contains("/var/lib/rebound-agent"));
    assert!(root.path().join("var/lib/rebound-agent").is_dir());
}

#[tokio::test]
async fn the_arm64_package_runs_a_restart_app_lifecycle_under_qemu() {
    let Some(deb) = package("arm64") else { return };
    let root = extract(&deb);
    let qemu = support::tool("qemu-aarch64-static");
    let launcher = vec![
        qemu.into(),
        "-L".into(),
        ARM64_SYSROOT.into(),
        root.path().join("usr/bin/rebound-agent").into(),
    ];
    let uuid = Uuid::new_v4();
    let broker = Broker::start(&[uuid]);
    let server = Server::start(&broker.server_config("")).await;
    let mut rpc = rpc(&server).await;
    let agent = AgentProc::start_with(launcher, &broker, uuid, "");
    wait_client(&rpc, uuid, "heartbeat from the arm64 agent", |c| c.last_health_at.is_some()).await;

    let id = issue_id(&mut rpc, uuid, pb::Action::RestartApp).await;
    let done = wait_state(&rpc, &id, S::Completed).await;
    assert_eq!(
        event_states(&done),
        [S::Queued, S::Published, S::Accepted, S::ExecutionStarted, S::Completed]
    );
    assert_eq!(agent.executions(), [format!("{id} restart_app")]);
}
