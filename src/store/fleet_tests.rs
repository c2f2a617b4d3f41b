//! Backend-neutral tests of the device area (commands, clients, rollouts), through the
//! [`Store`] trait only, against every backend URL of the suite.

use uuid::Uuid;

use super::audit::{AuditQuery, AuditRow};
use super::commands::FleetTx;
use super::progress_tests::rollout_record;
use super::reloads::ReloadEventRow;
use super::tests::{backends, open_ok};
use crate::contract::Action;
use crate::model::clients::{ClientCounts, ClientFilter, ClientRecord, CrashFilter, ProcessStatus};
use crate::model::commands::{
    CommandEvent, CommandFilter, CommandRecord, CommandState, EventSource, Origin,
};
use crate::model::rollouts::{RolloutMember, RolloutRecord, RolloutState, RolloutTarget};

fn command(client: Uuid, issued_ms: i64, state: CommandState) -> CommandRecord {
    CommandRecord {
        state,
        ..CommandRecord::new(
            Uuid::new_v4(),
            client,
            Action::RestartApp,
            Origin::Api,
            issued_ms,
            issued_ms + 1000,
        )
    }
}

/// Move `c` to published at `at_ms` with its event, in `tx`.
async fn publish(tx: &mut dyn FleetTx, c: &mut CommandRecord, at_ms: i64) -> CommandEvent {
    c.state = CommandState::Published;
    c.published_ms = Some(at_ms);
    tx.update_command(c).await.unwrap();
    tx.insert_event(
        c.command_id,
        at_ms,
        Some(CommandState::Queued),
        CommandState::Published,
        EventSource::Mqtt,
        "puback",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn commands_round_trip_with_events_in_one_transaction() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let client = Uuid::new_v4();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        let mut c = command(client, 10, CommandState::Queued);
        c.reason = Some("why".into());
        tx.insert_command(&c).await.unwrap();
        let created = tx
            .insert_event(c.command_id, 10, None, CommandState::Queued, EventSource::Api, "issued")
            .await
            .unwrap();
        let next = publish(&mut *tx, &mut c, 11).await;
        assert!(next.id > created.id, "{url}");
        tx.commit().await.unwrap();
        assert_eq!(store.command(c.command_id).await.unwrap(), Some(c.clone()), "{url}");
        let events = store.command_events(c.command_id).await.unwrap();
        assert_eq!(events, [created, next], "{url}");

        // Dropped without commit: nothing stays.
        let mut tx = store.fleet_tx().await.unwrap();
        tx.insert_command(&command(client, 20, CommandState::Queued)).await.unwrap();
        drop(tx);
        assert_eq!(
            store.list_commands(&CommandFilter::default(), None, 10).await.unwrap().len(),
            1,
            "{url}"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn listing_pages_newest_first_filters_and_finds_due_timers() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut tx = store.fleet_tx().await.unwrap();
        for (i, client) in [a, b, a, b, a].into_iter().enumerate() {
            tx.insert_command(&command(client, i as i64, CommandState::Queued)).await.unwrap();
        }
        let mut started = command(a, 100, CommandState::ExecutionStarted);
        started.deadline_ms = Some(500);
        tx.insert_command(&started).await.unwrap();
        tx.insert_command(&command(b, 200, CommandState::Rejected)).await.unwrap();
        tx.commit().await.unwrap();

        let filter = CommandFilter { client_uuid: Some(a), ..Default::default() };
        let first = store.list_commands(&filter, None, 2).await.unwrap();
        assert_eq!(first.iter().map(|c| c.issued_ms).collect::<Vec<_>>(), [100, 4], "{url}");
        let last = first.last().unwrap();
        let rest = store
            .list_commands(&filter, Some((last.issued_ms, last.command_id)), 10)
            .await
            .unwrap();
        assert_eq!(rest.iter().map(|c| c.issued_ms).collect::<Vec<_>>(), [2, 0], "{url}");
        let states = CommandFilter { states: vec![CommandState::Rejected], ..Default::default() };
        assert_eq!(store.list_commands(&states, None, 10).await.unwrap().len(), 1, "{url}");

        // Expiry (queued, expires at issued + 1000) and the timeout deadline.
        let due = store.due_commands(1002, 100).await.unwrap();
        assert_eq!(due.len(), 4, "{url}: issued 0, 1, 2 expired and the deadline passed by 1002");
        let due = store.due_commands(500, 100).await.unwrap();
        assert_eq!(
            due.iter().map(|c| c.command_id).collect::<Vec<_>>(),
            [started.command_id],
            "{url}"
        );
        // Per device, ascending, in one read; rejected commands never count towards the
        // lockout, and a device without entries has none.
        let nobody = Uuid::new_v4();
        let all = store.lockout_entries_of(&[a, b, nobody], 0).await.unwrap();
        assert_eq!(all.len(), 2, "{url}: {all:?}");
        assert_eq!(all[&a], [0, 2, 4, 100], "{url}");
        assert_eq!(all[&b], [1, 3], "{url}");
        let since = store.lockout_entries_of(&[a, b], 3).await.unwrap();
        assert_eq!((&since[&a][..], &since[&b][..]), (&[4, 100][..], &[3][..]), "{url}");
        store.close().await;
    }
}

/// The reads of open commands: by state (oldest first), the per-state summary start-up
/// recovery reports, and a device's sent commands inside a transaction.
#[tokio::test]
async fn open_commands_are_read_by_state_summarised_and_found_per_device() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut rows = [
            command(a, 0, CommandState::Queued),
            command(a, 1, CommandState::Published),
            command(a, 2, CommandState::Accepted),
            command(a, 3, CommandState::Completed),
            command(b, 4, CommandState::ExecutionStarted),
            command(b, 5, CommandState::Queued),
        ];
        rows[2].deadline_ms = Some(5_000);
        let mut tx = store.fleet_tx().await.unwrap();
        for c in &rows {
            tx.insert_command(c).await.unwrap();
        }
        tx.commit().await.unwrap();
        let ids = |list: Vec<CommandRecord>| list.iter().map(|c| c.command_id).collect::<Vec<_>>();

        let queued = store.commands_in_states(&[CommandState::Queued], 10).await.unwrap();
        assert_eq!(ids(queued), [rows[0].command_id, rows[5].command_id], "{url}");
        let sent = [CommandState::Queued, CommandState::Published];
        let first = store.commands_in_states(&sent, 2).await.unwrap();
        assert_eq!(ids(first), [rows[0].command_id, rows[1].command_id], "{url}");

        let mut summary = store.open_command_summary(1, 0).await.unwrap();
        summary.sort_by_key(|s| s.state.as_str());
        let counts: Vec<_> =
            summary.iter().map(|s| (s.state, s.count, s.due, s.ids.len())).collect();
        assert_eq!(
            counts,
            [
                (CommandState::Accepted, 1, 0, 1),
                (CommandState::ExecutionStarted, 1, 0, 1),
                (CommandState::Published, 1, 0, 1),
                (CommandState::Queued, 2, 0, 1),
            ],
            "{url}: terminal commands are not open"
        );
        // Later, every timer has run out (the started command has no ack deadline): the
        // due counts are what `due_commands` returns, and due commands are not listed.
        let later = 1_000_000;
        let mut due = store.open_command_summary(10, later).await.unwrap();
        due.sort_by_key(|s| s.state.as_str());
        let counts: Vec<_> = due.iter().map(|s| (s.count, s.due, s.ids.len())).collect();
        assert_eq!(counts, [(1, 1, 0), (1, 0, 1), (1, 1, 0), (2, 2, 0)], "{url}");
        assert_eq!(store.due_commands(later, 100).await.unwrap().len(), 4, "{url}");
        let queued_ids = [rows[0].command_id, rows[5].command_id];
        assert!(queued_ids.contains(&summary[3].ids[0]), "{url}");
        let without_ids = store.open_command_summary(0, 0).await.unwrap();
        assert!(without_ids.iter().all(|s| s.ids.is_empty()), "{url}");

        let mut tx = store.fleet_tx().await.unwrap();
        let of_a = tx.sent_commands_for(a).await.unwrap();
        assert_eq!(ids(of_a), [rows[1].command_id, rows[2].command_id], "{url}");
        assert_eq!(ids(tx.sent_commands_for(b).await.unwrap()), [rows[4].command_id], "{url}");
        assert_eq!(tx.sent_commands_for(Uuid::new_v4()).await.unwrap(), [], "{url}");
        drop(tx);
        store.close().await;
    }
}

#[tokio::test]
async fn clients_filter_by_crash_state_and_rollouts_count_their_members() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let (fresh, stale, crashed, silent) =
            (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut tx = store.fleet_tx().await.unwrap();
        for (id, health, status) in [
            (fresh, Some(1000), ProcessStatus::Running),
            (stale, Some(10), ProcessStatus::Running),
            (crashed, Some(1000), ProcessStatus::Crashed),
        ] {
            let client = ClientRecord {
                last_health_ms: health,
                process_status: Some(status),
                ..ClientRecord::new(id, 1)
            };
            tx.put_client(&client).await.unwrap();
        }
        tx.put_client(&ClientRecord { group: Some("g".into()), ..ClientRecord::new(silent, 1) })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let only =
            |filter: CrashFilter| ClientFilter { crash: Some((filter, 500)), ..Default::default() };
        let ids =
            |list: Vec<ClientRecord>| list.into_iter().map(|c| c.client_uuid).collect::<Vec<_>>();
        assert_eq!(
            ids(store.list_clients(&only(CrashFilter::Stale), None, 10).await.unwrap()),
            [stale],
            "{url}"
        );
        assert_eq!(
            ids(store.list_clients(&only(CrashFilter::Crashed), None, 10).await.unwrap()),
            [crashed],
            "{url}"
        );
        assert_eq!(
            ids(store.list_clients(&only(CrashFilter::Healthy), None, 10).await.unwrap()),
            [fresh],
            "{url}"
        );
        let mut candidates = ids(store.crash_candidates(500).await.unwrap());
        candidates.sort();
        let mut expected = vec![stale, crashed];
        expected.sort();
        assert_eq!(candidates, expected, "{url}");
        assert_eq!(store.client_uuids(Some("g")).await.unwrap(), [silent], "{url}");
        // The counts agree with the lists (the metrics' device gauges read them).
        let count = |filter: ClientFilter| {
            let store = store.clone();
            async move { store.count_clients(&filter).await.unwrap() }
        };
        assert_eq!(count(only(CrashFilter::Crashed)).await, 1, "{url}");
        assert_eq!(count(only(CrashFilter::Stale)).await, 1, "{url}");
        assert_eq!(count(ClientFilter::default()).await, 4, "{url}");
        let grouped = ClientFilter { group: Some("g".into()), ..Default::default() };
        assert_eq!(count(grouped).await, 1, "{url}");
        // A uuid prefix (the console's search) lists and counts only the devices it starts.
        let prefix =
            |text: &str| ClientFilter { uuid_prefix: Some(text.to_owned()), ..Default::default() };
        let head = crashed.to_string()[..9].to_owned();
        let found = ids(store.list_clients(&prefix(&head), None, 10).await.unwrap());
        assert_eq!(found, [crashed], "{url}");
        assert_eq!(count(prefix(&head)).await, 1, "{url}");
        assert_eq!(count(prefix(&crashed.to_string())).await, 1, "{url}");

        let rollout_id = Uuid::new_v4();
        let rollout = RolloutRecord {
            target: RolloutTarget::Clients(vec![fresh, stale]),
            state: RolloutState::Canary,
            total_members: 2,
            issued_members: 1,
            last_issue_ms: Some(5),
            created_ms: 5,
            started_ms: Some(5),
            updated_ms: 5,
            ..rollout_record(rollout_id)
        };
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_rollout(&rollout).await.unwrap();
        let members = [
            RolloutMember { client_uuid: fresh, wave: 0 },
            RolloutMember { client_uuid: stale, wave: 1 },
        ];
        tx.insert_members(rollout_id, &members).await.unwrap();
        let mut issued = command(fresh, 6, CommandState::Published);
        issued.rollout_id = Some(rollout_id);
        tx.insert_command(&issued).await.unwrap();
        tx.set_member_command(rollout_id, fresh, issued.command_id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.rollout(rollout_id).await.unwrap(), Some(rollout.clone()), "{url}");
        let mut tx = store.fleet_tx().await.unwrap();
        assert_eq!(tx.rollout(rollout_id).await.unwrap(), Some(rollout.clone()), "{url}");
        assert_eq!(tx.rollout(Uuid::new_v4()).await.unwrap(), None, "{url}");
        drop(tx);
        let all = store.rollout_counters(rollout_id, None).await.unwrap();
        assert_eq!((all.total, all.unissued, all.in_flight), (2, 1, 1), "{url}");
        let joined = store.rollout_with_counters(rollout_id).await.unwrap();
        assert_eq!(joined, Some((rollout.clone(), all)), "{url}");
        assert_eq!(store.rollout_with_counters(Uuid::new_v4()).await.unwrap(), None, "{url}");
        let canary = store.rollout_counters(rollout_id, Some(0)).await.unwrap();
        assert_eq!((canary.total, canary.unissued), (1, 0), "{url}");
        assert_eq!(store.unissued_members(rollout_id, 10).await.unwrap(), [members[1]], "{url}");
        assert_eq!(
            store.unaccepted_rollout_commands(rollout_id).await.unwrap(),
            [issued.command_id],
            "{url}"
        );
        assert_eq!(store.active_rollouts().await.unwrap().len(), 1, "{url}");
        store.close().await;
    }
}

/// The grouped counts of the console's fleet filters agree with the per-filter counts of
/// `count_clients` (what `ListClients` totals), within a group and a uuid prefix too.
#[tokio::test]
async fn clients_are_counted_per_state_in_one_query() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        assert_eq!(
            store.client_counts(&ClientFilter::default()).await.unwrap(),
            ClientCounts::default(),
            "{url}"
        );
        let id =
            |n: u8| Uuid::parse_str(&format!("{n:02x}aaaaaa-0000-4000-8000-000000000000")).unwrap();
        let device = |n: u8, group: &str| ClientRecord {
            group: (!group.is_empty()).then(|| group.to_owned()),
            ..ClientRecord::new(id(n), 1)
        };
        let online =
            |c: ClientRecord| ClientRecord { online: Some(true), last_online_ms: Some(5), ..c };
        let offline =
            |c: ClientRecord| ClientRecord { online: Some(false), last_offline_ms: Some(5), ..c };
        let crashed =
            |c: ClientRecord| ClientRecord { process_status: Some(ProcessStatus::Crashed), ..c };
        let failed =
            |c: ClientRecord| ClientRecord { service_failed_unit: Some("app.service".into()), ..c };
        let mut tx = store.fleet_tx().await.unwrap();
        for client in [
            online(device(1, "g")),
            online(failed(device(2, "g"))),
            offline(crashed(device(3, "g"))),
            offline(device(4, "")),
            crashed(device(5, "")),
            device(6, "g"), // never seen: neither online nor offline
            online(failed(crashed(device(0x16, "")))),
        ] {
            tx.put_client(&client).await.unwrap();
        }
        tx.commit().await.unwrap();
        let everything = ClientFilter::default();
        let all = ClientCounts { total: 7, online: 3, offline: 2, crashed: 3, service_failed: 2 };
        assert_eq!(store.client_counts(&everything).await.unwrap(), all, "{url}");
        let group = ClientFilter { group: Some("g".into()), ..Default::default() };
        let in_group =
            ClientCounts { total: 4, online: 2, offline: 1, crashed: 1, service_failed: 1 };
        assert_eq!(store.client_counts(&group).await.unwrap(), in_group, "{url}");
        let prefix = ClientFilter { uuid_prefix: Some("1".into()), ..Default::default() };
        let prefixed =
            ClientCounts { total: 1, online: 1, offline: 0, crashed: 1, service_failed: 1 };
        assert_eq!(store.client_counts(&prefix).await.unwrap(), prefixed, "{url}");
        // Each state counts what ListClients' filter for it lists.
        for scope in [everything, group, prefix] {
            let counts = store.client_counts(&scope).await.unwrap();
            let count = |filter: ClientFilter| {
                let store = store.clone();
                async move { store.count_clients(&filter).await.unwrap() }
            };
            let per_filter = ClientCounts {
                total: count(scope.clone()).await,
                online: count(ClientFilter { online: Some(true), ..scope.clone() }).await,
                offline: count(ClientFilter { online: Some(false), ..scope.clone() }).await,
                crashed: count(ClientFilter {
                    crash: Some((CrashFilter::Crashed, 0)),
                    ..scope.clone()
                })
                .await,
                service_failed: count(ClientFilter { service_failed: Some(true), ..scope.clone() })
                    .await,
            };
            assert_eq!(counts, per_filter, "{url}: {scope:?}");
        }
        store.close().await;
    }
}

#[tokio::test]
async fn held_back_writes_are_read_back_in_bulk_and_a_bad_one_fails_the_commit() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let client = Uuid::new_v4();
        // More rows than one multi-row statement carries.
        let mut commands: Vec<_> =
            (0..1200).map(|i| command(client, i, CommandState::Queued)).collect();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        for c in &commands {
            tx.insert_command(c).await.unwrap();
        }
        // A query the store answers with SQL sees the writes held back before it.
        assert_eq!(tx.lockout_entries(client, 1198).await.unwrap(), [1198, 1199], "{url}");
        tx.commit().await.unwrap();

        let mut tx = store.fleet_tx().await.unwrap();
        let ids: Vec<_> = commands.iter().map(|c| c.command_id).collect();
        let unknown = Uuid::new_v4();
        tx.prefetch(&[ids.clone(), vec![unknown]].concat(), &[client]).await.unwrap();
        assert_eq!(tx.command(unknown).await.unwrap(), None, "{url}");
        assert_eq!(tx.client(client).await.unwrap().map(|c| c.first_seen_ms), Some(1), "{url}");
        tx.prefetch_lockout(&[client], 1199).await.unwrap();
        assert_eq!(tx.lockout_entries(client, 1199).await.unwrap(), [1199], "{url}");
        let mut last_event = 0;
        for c in &mut commands {
            assert_eq!(tx.command(c.command_id).await.unwrap().as_ref(), Some(&*c), "{url}");
            let event = publish(&mut *tx, c, c.issued_ms + 1).await;
            assert!(event.id > last_event, "{url}: event ids increase");
            last_event = event.id;
        }
        // The cached lockout entries follow the writes of the transaction.
        let mut extra = command(client, 1300, CommandState::Queued);
        tx.insert_command(&extra).await.unwrap();
        assert_eq!(tx.lockout_entries(client, 1199).await.unwrap(), [1199, 1300], "{url}");
        tx.commit().await.unwrap();
        assert_eq!(store.command(ids[1100]).await.unwrap(), Some(commands[1100].clone()), "{url}");
        let events = store.command_events(ids[1100]).await.unwrap();
        assert_eq!(events.len(), 1, "{url}");
        assert_eq!(events[0].to_state, CommandState::Published, "{url}");

        // A write that the database refuses fails the commit, and the whole transaction is lost.
        let mut tx = store.fleet_tx().await.unwrap();
        extra.state = CommandState::Canceled;
        tx.update_command(&extra).await.unwrap();
        tx.insert_command(&commands[0]).await.unwrap();
        assert!(tx.commit().await.is_err(), "{url}: duplicate command id");
        let stored = store.command(extra.command_id).await.unwrap().unwrap();
        assert_eq!(stored.state, CommandState::Queued, "{url}");
        store.close().await;
    }
}

#[tokio::test]
async fn updates_that_change_different_columns_read_back_whole() {
    use crate::model::commands::{AckTopic, Evidence, LateOutcome};
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let client = Uuid::new_v4();
        let mut rows: Vec<_> = (0..4).map(|i| command(client, i, CommandState::Queued)).collect();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        for c in &rows {
            tx.insert_command(c).await.unwrap();
        }
        tx.commit().await.unwrap();

        let mut tx = store.fleet_tx().await.unwrap();
        let ids: Vec<_> = rows.iter().map(|c| c.command_id).collect();
        tx.prefetch(&ids, &[client]).await.unwrap();
        // Two columns.
        publish(&mut *tx, &mut rows[0], 10).await;
        // Nearly every column, in two updates of one transaction.
        let full = &mut rows[1];
        full.state = CommandState::Accepted;
        full.accepted_ms = Some(11);
        tx.update_command(full).await.unwrap();
        full.state = CommandState::TimedOut;
        full.started_ms = Some(12);
        full.finished_ms = Some(13);
        full.deadline_ms = Some(14);
        full.offline_seen_ms = Some(15);
        full.boot_id_at_issue = Some("boot-a".into());
        full.boot_id_at_completion = Some("boot-b".into());
        full.error_code = Some("E1".into());
        full.error_message = Some("it broke".into());
        full.late_outcome = Some(LateOutcome {
            state: CommandState::Completed,
            received_ms: 16,
            error_code: Some("E2".into()),
            error_message: Some("late".into()),
            boot_id: Some("boot-c".into()),
        });
        full.completion_evidence = Some(Evidence::BootIdChanged);
        full.ignored_acks = 3;
        full.last_ack_topic = Some(AckTopic::Alias);
        full.updated_ms = 17;
        tx.update_command(full).await.unwrap();
        // Updated, written by a read that needs SQL, then updated again in another column.
        publish(&mut *tx, &mut rows[2], 18).await;
        tx.lockout_entries(client, 0).await.unwrap();
        rows[2].deadline_ms = Some(19);
        tx.update_command(&rows[2]).await.unwrap();
        // Written back unchanged: nothing to rewrite.
        tx.update_command(&rows[3]).await.unwrap();
        tx.commit().await.unwrap();
        // Updated without being read first: every column is rewritten.
        let mut tx = store.fleet_tx().await.unwrap();
        rows[3].state = CommandState::Canceled;
        rows[3].finished_ms = Some(20);
        tx.update_command(&rows[3]).await.unwrap();
        tx.commit().await.unwrap();
        for c in &rows {
            assert_eq!(store.command(c.command_id).await.unwrap().as_ref(), Some(c), "{url}");
        }
        store.close().await;
    }
}

pub(crate) fn audit_row(rpc: &str) -> AuditRow {
    AuditRow {
        id: 0,
        at: chrono::Utc::now(),
        principal: "ops".into(),
        role: Some("operator".into()),
        peer: "127.0.0.1:9".into(),
        rpc: rpc.into(),
        arguments: "{}".into(),
        outcome: "succeeded".into(),
        code: "OK".into(),
        message: None,
        trace_id: None,
        duration: std::time::Duration::from_micros(5),
    }
}

#[tokio::test]
async fn audit_rows_commit_and_roll_back_with_the_change() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let audited = || async {
            store
                .list_audit_events(&AuditQuery { limit: 10, ..AuditQuery::default() })
                .await
                .unwrap()
        };
        let client = Uuid::new_v4();

        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        tx.insert_audit(&audit_row("/rolled/Back")).await.unwrap();
        drop(tx);
        assert!(audited().await.is_empty(), "{url}: a dropped transaction keeps no audit row");

        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        tx.insert_audit(&audit_row("/fleet/Commit")).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.client(client).await.unwrap().is_some(), "{url}");

        let event = ReloadEventRow { result: "success".into(), ..ReloadEventRow::default() };
        store.insert_reload_event(&event, Some(&audit_row("/config/Reload"))).await.unwrap();
        store.insert_reload_event(&event, None).await.unwrap();
        let rpcs: Vec<String> = audited().await.into_iter().map(|row| row.rpc).collect();
        assert_eq!(rpcs, ["/config/Reload", "/fleet/Commit"], "{url}: newest first, once each");
        store.close().await;
    }
}

/// Write transactions may carry rows over from one to the next; whatever another connection
/// commits in between (retention, another process such as the other side of a hot restart)
/// must be what the next one reads, and an abandoned one must leave nothing behind.
#[tokio::test]
async fn fleet_transactions_read_what_anybody_else_committed_in_between() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let uuid = Uuid::new_v4();
        let mut c = command(uuid, 10, CommandState::Queued);
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(uuid, 1)).await.unwrap();
        tx.insert_command(&c).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.prefetch(&[c.command_id], &[uuid]).await.unwrap();
        assert_eq!(tx.command(c.command_id).await.unwrap().as_ref(), Some(&c), "{url}");
        publish(&mut *tx, &mut c, 11).await;
        tx.commit().await.unwrap();

        // Another writer moves the command on and regroups the device.
        let mut tx = store.fleet_tx().await.unwrap();
        c.state = CommandState::Accepted;
        c.accepted_ms = Some(12);
        tx.update_command(&c).await.unwrap();
        let mut device = tx.client(uuid).await.unwrap().unwrap();
        device.group = Some("lobby".into());
        tx.put_client(&device).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.prefetch(&[c.command_id], &[uuid]).await.unwrap();
        assert_eq!(tx.command(c.command_id).await.unwrap().as_ref(), Some(&c), "{url}");
        assert_eq!(tx.client(uuid).await.unwrap().as_ref(), Some(&device), "{url}");

        // Abandoned after a change: rolled back, and the next transaction starts cleanly.
        let mut done = c.clone();
        done.state = CommandState::Completed;
        tx.update_command(&done).await.unwrap();
        tx.insert_audit(&audit_row("Abandoned")).await.unwrap();
        drop(tx);
        // Other connections get the write lock back at once (not only when the next fleet
        // transaction begins).
        store.insert_audit_event(&audit_row("AfterAbandoned")).await.unwrap();
        let mut tx = store.fleet_tx().await.unwrap();
        assert_eq!(tx.command(c.command_id).await.unwrap().as_ref(), Some(&c), "{url}");
        tx.commit().await.unwrap();
        assert_eq!(store.command(c.command_id).await.unwrap().as_ref(), Some(&c), "{url}");

        // A second store on the same file stands for another process.
        if url.contains("memory") {
            store.close().await;
            continue;
        }
        let other = open_ok(&url).await;
        let mut tx = other.fleet_tx().await.unwrap();
        c.state = CommandState::ExecutionStarted;
        c.started_ms = Some(13);
        tx.update_command(&c).await.unwrap();
        tx.commit().await.unwrap();
        other.close().await;
        let mut tx = store.fleet_tx().await.unwrap();
        assert_eq!(tx.command(c.command_id).await.unwrap().as_ref(), Some(&c), "{url}");
        drop(tx);
        store.close().await;
    }
}

/// The store returns unissued members in the order the domain issues members it already holds
/// (`RolloutMember::issue_order`), whatever order they were inserted in.
#[tokio::test]
async fn unissued_members_come_in_issue_order() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let rollout_id = Uuid::new_v4();
        let mut members: Vec<RolloutMember> = (0..300)
            .map(|i| RolloutMember { client_uuid: Uuid::new_v4(), wave: (i * 7) % 3 })
            .collect();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_rollout(&rollout_record(rollout_id)).await.unwrap();
        tx.insert_members(rollout_id, &members).await.unwrap();
        tx.commit().await.unwrap();
        RolloutMember::issue_order(&mut members);
        assert_eq!(store.unissued_members(rollout_id, 1000).await.unwrap(), members, "{url}");
        let mut tx = store.fleet_tx().await.unwrap();
        for member in &members[..120] {
            let mut issued = command(member.client_uuid, 6, CommandState::Queued);
            issued.rollout_id = Some(rollout_id);
            tx.insert_command(&issued).await.unwrap();
            tx.set_member_command(rollout_id, member.client_uuid, issued.command_id).await.unwrap();
        }
        tx.commit().await.unwrap();
        let next = store.unissued_members(rollout_id, 50).await.unwrap();
        assert_eq!(next, members[120..170], "{url}");
        store.close().await;
    }
}
