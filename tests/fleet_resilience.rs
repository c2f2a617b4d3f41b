//! Rollouts across a server restart and an operator abort, and crash detection by a stale
//! heartbeat, against a real broker.

mod support;

use rebound::proto::v1 as pb;
use support::device::{Device, get, rpc, wait_registered, wait_state};
use support::mosquitto::Broker;
use support::{Server, wait_for};
use uuid::Uuid;

const FAST: &str = "[scheduler]\ntick = \"100ms\"\n";

async fn rollout(rpc: &support::device::Rpc, id: &str) -> pb::Rollout {
    rpc.clone()
        .get_rollout(pb::GetRolloutRequest { rollout_id: id.into() })
        .await
        .unwrap()
        .into_inner()
        .rollout
        .unwrap()
}

#[tokio::test]
async fn rollout_progress_survives_a_restart_and_an_abort_cancels_what_was_not_accepted() {
    let uuids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    let broker = Broker::start(&uuids);
    let config = format!("{}{FAST}", broker.server_config(""));
    let mut first = Server::start(&config).await;
    let rpc_first = rpc(&first).await;
    // Silent devices: they receive commands but never accept them.
    let mut devices = Vec::new();
    for uuid in &uuids {
        devices.push(Device::connect(&broker, *uuid).await);
        wait_registered(&rpc_first, *uuid).await;
    }
    let request = pb::StartRolloutRequest {
        action: pb::Action::RestartApp as i32,
        target: Some(pb::RolloutTarget {
            target: Some(pb::rollout_target::Target::Clients(pb::ClientUuidList {
                client_uuids: uuids.iter().map(Uuid::to_string).collect(),
            })),
        }),
        canary: Some(pb::start_rollout_request::Canary::CanaryCount(0)),
        max_per_minute: 30, // one command now, then one every 2 s
        ..Default::default()
    };
    let started = rpc_first.clone().start_rollout(request).await.unwrap().into_inner();
    let id = started.rollout.unwrap().rollout_id;
    let issued_before = wait_for("first wave issued", || async {
        let r = rollout(&rpc_first, &id).await;
        let c = r.counters.unwrap();
        (c.in_flight >= 1 && c.pending >= 1).then_some(c.pending)
    })
    .await;

    first.signal(libc::SIGTERM);
    assert!(first.wait_exit().await.success());
    let second = Server::spawn_in(&first.dir, &config, &[]).await;
    second.wait_serving().await;
    let rpc_second = rpc(&second).await;
    // Issued (pending 0) and published (queued 0): a wave's commands are stored first and
    // published right after their commit.
    let resumed = wait_for("the rest issued and published after the restart", || async {
        let r = rollout(&rpc_second, &id).await;
        let c = r.counters.unwrap();
        (c.pending == 0 && c.queued == 0).then_some(r)
    })
    .await;
    assert!(issued_before > 0);
    assert_eq!(resumed.state(), pb::RolloutState::Waves);
    assert_eq!(resumed.counters.unwrap().in_flight, 3, "published, never accepted");

    let aborted = rpc_second
        .clone()
        .abort_rollout(pb::AbortRolloutRequest {
            rollout_id: id.clone(),
            reason: "wrong build".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rollout
        .unwrap();
    assert_eq!(aborted.state(), pb::RolloutState::Aborted);
    assert_eq!(aborted.abort_cause(), pb::RolloutAbortCause::Operator);
    assert!(aborted.abort_reason.ends_with("wrong build"), "{}", aborted.abort_reason);
    assert_eq!(aborted.counters.unwrap().canceled, 3);
    let commands = rpc_second
        .clone()
        .list_commands(pb::ListCommandsRequest { rollout_id: id.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .commands;
    for command in commands {
        let mut rpc = rpc_second.clone();
        let full = get(&mut rpc, &command.command_id).await;
        assert_eq!(full.state(), pb::CommandState::Canceled);
        assert_eq!(full.events.last().unwrap().detail, "canceled by rollout abort");
    }
    let again = rpc_second
        .clone()
        .abort_rollout(pb::AbortRolloutRequest { rollout_id: id, reason: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.rollout.unwrap().state(),
        pb::RolloutState::Aborted,
        "aborting twice is a no-op"
    );
}

#[tokio::test]
async fn a_stale_heartbeat_counts_as_a_crash_and_starts_recovery() {
    let uuids = vec![Uuid::new_v4()];
    let broker = Broker::start(&uuids);
    let extra = "[crash_recovery]\nenabled = true\nstale_after = \"1s\"\n";
    let server = Server::start(&format!("{}{FAST}{extra}", broker.server_config(""))).await;
    let rpc = rpc(&server).await;
    let mut device = Device::connect(&broker, uuids[0]).await;
    device.health("running", Some("b")).await;
    // No further heartbeat: after crash_recovery.stale_after the ladder issues restart_app.
    let command = device.next_command().await;
    assert_eq!(command.action, "restart_app");
    let stored =
        wait_state(&rpc, &command.command_id.to_string(), pb::CommandState::Published).await;
    assert_eq!(stored.origin(), pb::CommandOrigin::CrashRecovery);
    let client = wait_registered(&rpc, uuids[0]).await;
    assert_eq!(client.crash_state(), pb::CrashState::Stale);
    assert_eq!(client.crash_recovery.unwrap().step(), pb::CrashRecoveryStep::RestartApp);
}
