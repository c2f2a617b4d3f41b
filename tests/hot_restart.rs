//! Hot restart of the real `rebound serve` process under load: handover and exec with zero
//! failed RPCs, rollback of a successor that dies, a tampered snapshot, streams told to
//! reconnect, one restart at a time, history that survives, SIGUSR2.

mod support;

use rebound::proto::v1 as pb;
use support::restart::{
    KillOnDrop, Load, request, restart_client, serving, stop_serving, wait_terminal,
};
use support::{Server, wait_for};

/// Unary callers of the load.
const CLIENTS: usize = 4;

async fn restarts_under_load(mode: pb::RestartMode, count: usize) {
    let mut server = Server::start("").await;
    let addr = server.addr.clone();
    let load = Load::start(&addr, CLIENTS).await;
    let mut last_pid = server.pid();
    let mut guard = None;
    for round in 1..=count as u64 {
        let before = load.ok();
        let id = request(&addr, mode, "").await;
        let event = wait_terminal(&addr, &id).await;
        assert_eq!(event.phase(), pb::RestartPhase::Complete, "round {round}: {event:?}");
        assert_eq!(event.generation_after, round, "round {round}");
        assert_eq!(event.snapshot(), pb::SnapshotOutcome::Restored, "round {round}: {event:?}");
        let (pid, generation) = serving(&addr).await;
        assert_eq!(generation, round);
        match mode {
            pb::RestartMode::Exec => assert_eq!(pid, server.pid(), "exec keeps the pid"),
            _ => assert_ne!(pid, last_pid, "handover changes the pid"),
        }
        if pid != server.pid() {
            guard = Some(KillOnDrop(pid));
        }
        last_pid = pid;
        // The load kept going through the restart.
        let target = before + 10;
        wait_for("load progress", || async { (load.ok() >= target).then_some(()) }).await;
    }
    let report = load.stop().await;
    assert!(report.errors.is_empty(), "{} failed RPCs: {:?}", report.errors.len(), report.errors);
    assert!(report.ok > 100, "load ran: {report:?}");
    eprintln!("{mode:?}: {count} restarts, {} RPCs, 0 failed", report.ok);
    if mode == pb::RestartMode::Handover {
        assert_eq!(server.wait_exit().await.code(), Some(0), "the first process exits cleanly");
    }
    stop_serving(&addr).await;
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_handover_restarts_under_load_fail_no_rpc() {
    restarts_under_load(pb::RestartMode::Handover, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_exec_restarts_under_load_fail_no_rpc() {
    restarts_under_load(pb::RestartMode::Exec, 20).await;
}
