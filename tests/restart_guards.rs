//! What a hot restart must neither leave behind nor reset: a successor that never serves is
//! killed with every process it started (none keeps the port), and the restart rate limit
//! holds across the restart.

mod support;

use rebound::proto::v1 as pb;
use support::restart::{listener_holders, request, script, wait_terminal};
use support::{Server, wait_for};

/// After a rollback only the server holds its port; once it stops, nobody does and the port
/// binds again.
async fn nothing_but_the_server_holds_the_port(mut server: Server) {
    let pid = server.pid();
    wait_for("only the server to hold the listener", || async {
        (listener_holders(server.port) == [pid]).then_some(())
    })
    .await;
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit().await.code(), Some(0));
    let holders = listener_holders(server.port);
    assert!(holders.is_empty(), "still held by {holders:?} after the server stopped");
    std::net::TcpListener::bind(("127.0.0.1", server.port)).expect("the port binds again");
}

#[tokio::test]
async fn a_late_successor_is_killed_with_its_children_and_nothing_keeps_the_port() {
    let server = Server::start("[restart]\nready_timeout = \"1s\"").await;
    // Not `exec`: the shell waits for a child that inherited every descriptor.
    let slow = script(&server.dir, "slow.sh", "sleep 1000");
    let id = request(&server.addr, pb::RestartMode::Handover, &slow).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::RolledBack, "{event:?}");
    assert!(event.error.contains("not ready within 1s"), "{}", event.error);
    nothing_but_the_server_holds_the_port(server).await;
}

#[tokio::test]
async fn a_successor_that_exits_leaving_children_is_rolled_back_at_once_and_they_are_killed() {
    let server = Server::start("[restart]\nready_timeout = \"25s\"").await;
    // The child keeps the control socket open, so only the exit itself tells.
    let quitter = script(&server.dir, "quitter.sh", "sleep 1000 &\nexit 3");
    let id = request(&server.addr, pb::RestartMode::Handover, &quitter).await;
    let event = wait_terminal(&server.addr, &id).await;
    assert_eq!(event.phase(), pb::RestartPhase::RolledBack, "{event:?}");
    assert!(event.error.contains("exited with status 3"), "{}", event.error);
    nothing_but_the_server_holds_the_port(server).await;
}
