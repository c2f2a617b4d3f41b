//! `rebound demo` smoke test: the one-command demo (real mosquitto, real server child, a
//! simulated fleet of real agent sessions) completes a small canary rollout.

mod support;

use std::process::Command;

#[test]
fn demo_runs_a_rollout_to_completion() {
    // The demo finds mosquitto itself; make sure the test fails with the harness's message.
    support::mosquitto::Broker::start(&[]);
    let output = Command::new(support::rebound_bin())
        .args([
            "demo",
            "--devices",
            "8",
            "--canary",
            "2",
            "--max-per-minute",
            "6000",
            "--every",
            "300ms",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("outcome: rollout completed"), "{stdout}");
    let completed = stdout.lines().find(|l| l.trim_start().starts_with("completed")).unwrap();
    assert!(completed.trim_end().ends_with(" 8"), "{completed}");
    assert!(stdout.contains("memory per device"), "{stdout}");
}
