//! What a hot restart must neither leave behind nor reset: a successor that never serves is
//! killed with every process it started (none keeps the port), and the restart rate limit
//! holds across the restart.

mod support;

use rebound::proto::v1 as pb;
use support::restart::{
    KillOnDrop, listener_holders, request, restart_client, script, serving, wait_terminal,
};
use support::{Server, wait_for};

/// Restart into a successor script running `body` under `ready_timeout`: the restart rolls
/// back with an error containing `error`, only the server holds its port afterwards, and once
/// it stops nobody does and the port binds again.
async fn rolls_back_leaving_nothing_behind(ready_timeout: &str, body: &str, error: &str) {
    let mut server =
        Server::start(&format!("[restart]\nready_timeout = \"{ready_timeout}\"")).await;
    let successor = script(&server.dir, "successor.sh", body);
    let id = request(&server.addr, pb::RestartMode::Handover, &successor).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::RolledBack, "{event:?}");
    assert!(event.error.contains(error), "{}", event.error);
    let pid = server.pid();
    wait_for("only the server to hold the listener", || async {
        (listener_holders(server.port) == [pid]).then_some(())
    })
    .await;
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));
    let holders = listener_holders(server.port);
    assert!(holders.is_empty(), "still held by {holders:?} after the server stopped");
    // The same call `rebound serve` binds with (src/server/listeners.rs).
    std::net::TcpListener::bind(("127.0.0.1", server.port)).expect("the port binds again");
}

#[tokio::test]
async fn a_late_successor_is_killed_with_its_children_and_nothing_keeps_the_port() {
    // Not `exec`: the shell waits for a child that inherited every descriptor.
    rolls_back_leaving_nothing_behind("1s", "sleep 1000", "not ready within 1s").await;
}

#[tokio::test]
async fn a_successor_that_exits_leaving_children_is_rolled_back_at_once_and_they_are_killed() {
    // The child keeps the control socket open, so only the exit itself tells (well before
    // the ready timeout).
    rolls_back_leaving_nothing_behind("25s", "sleep 1000 &\nexit 3", "exited with status 3").await;
}

/// Ask for a restart in `mode`.
async fn restart(
    addr: &str,
    mode: pb::RestartMode,
    preserve_state: bool,
) -> Result<pb::RestartResponse, tonic::Status> {
    let request = pb::RestartRequest {
        mode: mode as i32,
        preserve_state: Some(preserve_state),
        ..Default::default()
    };
    restart_client(addr).await.restart(request).await.map(tonic::Response::into_inner)
}

/// With `restarts_per_minute = 1`, a second restart right after the first completed is
/// refused by the successor: the window crossed the restart.
async fn the_successor_refuses_a_second_restart(mode: pb::RestartMode, preserve_state: bool) {
    let server = Server::spawn("", &[("REBOUND_RATE_LIMIT__RESTARTS_PER_MINUTE", "1")]).await;
    server.wait_serving().await;
    let first = restart(&server.addr, mode, preserve_state).await.expect("first restart");
    let event = wait_terminal(&server.addr, &first.restart_id).await;
    assert_eq!(event.phase(), pb::RestartPhase::Complete, "{event:?}");
    let (pid, generation) = serving(&server.addr).await;
    let _successor = (pid != server.pid()).then(|| KillOnDrop(pid));
    assert_eq!(generation, 1, "the successor serves");

    let refused = restart(&server.addr, mode, preserve_state).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("retry after"), "{}", refused.message());
    assert_eq!(serving(&server.addr).await, (pid, 1), "no second restart ran");
}

#[tokio::test]
async fn a_handover_without_a_snapshot_keeps_the_restart_rate_limit() {
    the_successor_refuses_a_second_restart(pb::RestartMode::Handover, false).await;
}

#[tokio::test]
async fn an_exec_restart_keeps_the_restart_rate_limit() {
    the_successor_refuses_a_second_restart(pb::RestartMode::Exec, true).await;
}
