//! Backend-neutral tests of the rollout progress counters: kept by the transactions that
//! change members and rollout commands, they always equal a count over the members.

use uuid::Uuid;

use super::Store;
use super::tests::{backends, open_ok};
use crate::contract::Action;
use crate::model::commands::{CommandRecord, CommandState, Origin};
use crate::model::rollouts::{
    RolloutCounters, RolloutMember, RolloutRecord, RolloutState, RolloutTarget,
};

/// A rollout of `restart_app` to every device, one canary, nothing issued yet.
pub(super) fn rollout_record(rollout_id: Uuid) -> RolloutRecord {
    RolloutRecord {
        rollout_id,
        action: Action::RestartApp,
        target: RolloutTarget::All,
        canary_count: Some(1),
        canary_percent: None,
        canary_size: 1,
        max_per_minute: 60,
        abort_failure_percent: 5.0,
        min_finished: 1,
        state: RolloutState::Waves,
        reason: None,
        requested_by: None,
        principal: "p".into(),
        params_hash: "h".into(),
        expires_in_ms: 1000,
        total_members: 4,
        issued_members: 0,
        current_wave: 0,
        last_issue_ms: None,
        created_ms: 1,
        started_ms: Some(1),
        canary_finished_ms: None,
        updated_ms: 1,
        finished_ms: None,
        abort_reason: None,
        abort_cause: None,
        error: None,
    }
}

fn rollout_command(rollout_id: Uuid, client: Uuid) -> CommandRecord {
    CommandRecord {
        rollout_id: Some(rollout_id),
        ..CommandRecord::new(Uuid::new_v4(), client, Action::RestartApp, Origin::Rollout, 2, 9999)
    }
}

/// The stored counters, checked against the per-wave counts over the members.
async fn counters(store: &dyn Store, id: Uuid, waves: i64) -> RolloutCounters {
    let stored = store.rollout_counters(id, None).await.unwrap();
    let mut counted = RolloutCounters::default();
    for wave in 0..waves {
        let w = store.rollout_counters(id, Some(wave)).await.unwrap();
        counted.total += w.total;
        counted.unissued += w.unissued;
        counted.queued += w.queued;
        counted.in_flight += w.in_flight;
        counted.completed += w.completed;
        counted.failed += w.failed;
        counted.timed_out += w.timed_out;
        counted.expired += w.expired;
        counted.canceled += w.canceled;
        counted.rejected += w.rejected;
    }
    assert_eq!(stored, counted, "stored counters equal the count over the members");
    let (rollout, joined) = store.rollout_with_counters(id).await.unwrap().expect("rollout");
    assert_eq!((rollout.rollout_id, joined), (id, stored), "read with the rollout: the same");
    let listed = store.list_rollouts(&[], None, None, 100).await.unwrap();
    let in_list = listed.iter().find(|(r, _)| r.rollout_id == id).map(|(_, c)| *c);
    assert_eq!(in_list, Some(stored), "listed with the rollout: the same");
    stored
}

#[tokio::test]
async fn progress_counters_follow_members_and_command_states() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let id = Uuid::new_v4();
        let clients: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        let members: Vec<RolloutMember> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| RolloutMember { client_uuid: *c, wave: i64::from(i > 0) })
            .collect();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_rollout(&rollout_record(id)).await.unwrap();
        tx.insert_members(id, &members).await.unwrap();
        tx.commit().await.unwrap();
        let c = counters(&*store, id, 2).await;
        assert_eq!((c.total, c.unissued), (4, 4), "{url}");

        // Three issued: one queued, one rejected at issue, one queued then published in the
        // same transaction.
        let mut issued: Vec<CommandRecord> =
            clients[..3].iter().map(|c| rollout_command(id, *c)).collect();
        issued[1].state = CommandState::Rejected;
        let mut tx = store.fleet_tx().await.unwrap();
        for command in &issued {
            tx.insert_command(command).await.unwrap();
            tx.set_member_command(id, command.client_uuid, command.command_id).await.unwrap();
        }
        issued[2].state = CommandState::Published;
        tx.update_command(&issued[2]).await.unwrap();
        tx.commit().await.unwrap();
        let c = counters(&*store, id, 2).await;
        assert_eq!((c.unissued, c.queued, c.in_flight, c.rejected), (1, 1, 1, 1), "{url}");

        // Read, then moved forward twice in one transaction: counted once, as its last state.
        let mut tx = store.fleet_tx().await.unwrap();
        tx.prefetch(&[issued[2].command_id], &[]).await.unwrap();
        let mut moving = tx.command(issued[2].command_id).await.unwrap().unwrap();
        moving.state = CommandState::Accepted;
        tx.update_command(&moving).await.unwrap();
        moving.state = CommandState::Completed;
        tx.update_command(&moving).await.unwrap();
        tx.commit().await.unwrap();
        let c = counters(&*store, id, 2).await;
        assert_eq!((c.in_flight, c.completed), (0, 1), "{url}");

        // Updated without being read first: the transaction recounts the rollout.
        let mut tx = store.fleet_tx().await.unwrap();
        issued[0].state = CommandState::Canceled;
        tx.update_command(&issued[0]).await.unwrap();
        tx.commit().await.unwrap();
        let c = counters(&*store, id, 2).await;
        assert_eq!((c.queued, c.canceled, c.completed), (0, 1, 1), "{url}");

        // A transaction that is not committed changes no counter.
        let mut tx = store.fleet_tx().await.unwrap();
        let late = rollout_command(id, clients[3]);
        tx.insert_command(&late).await.unwrap();
        tx.set_member_command(id, clients[3], late.command_id).await.unwrap();
        drop(tx);
        assert_eq!(counters(&*store, id, 2).await, c, "{url}");
        store.close().await;
    }
}
