//! Backend-neutral tests of the history areas (reload events, recovery reports), maintenance
//! (retention, backups) and the whole-store calls the health report uses (write probe, busy),
//! through the [`Store`] trait only, against every backend URL of the suite.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::AuditQuery;
use super::fleet_tests::audit_row;
use super::maintenance::RetentionTable;
use super::progress_tests::rollout_record;
use super::recovery::RecoveryReportRow;
use super::reloads::{ReloadEventQuery, ReloadEventRow};
use super::tests::{backends, open_ok};
use super::{RestartQuery, Store, StoreErrorKind};
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandFilter, CommandState, EventSource};
use crate::model::restart::{Outcome, sample_record};
use crate::model::rollouts::RolloutMember;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("time")
}

fn reload(ms: i64, trigger: &str, result: &str, duration_ms: u64) -> ReloadEventRow {
    ReloadEventRow {
        at: at(ms),
        trigger: trigger.into(),
        principal: Some("ops".into()),
        result: result.into(),
        version_before: 1,
        version_after: 2,
        content_hash: Some("sha256:ab".into()),
        diff_json: r#"["server.grpc_addr"]"#.into(),
        restart_required_json: "[]".into(),
        validation_errors_json: "[]".into(),
        duration: Duration::from_millis(duration_ms),
        source: "file".into(),
        source_path: Some("/etc/rebound/rebound.toml".into()),
        ..ReloadEventRow::default()
    }
}

#[tokio::test]
async fn reload_events_page_newest_first_filter_and_add_up() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let mut events = Vec::new();
        for (ms, trigger, result, duration_ms) in [
            (1_000, "startup", "success", 3),
            (2_000, "signal", "validation_failed", 5),
            (3_000, "rpc", "success", 7),
            (4_000, "signal", "unchanged", 1),
        ] {
            let mut event = reload(ms, trigger, result, duration_ms);
            if result == "validation_failed" {
                event.validation_errors_json = r#"["server: unknown key"]"#.into();
                event.error = Some("invalid config".into());
                event.failed_observer = Some("mqtt".into());
                event.restart_id = Some("r-1".into());
            }
            event.id = store.insert_reload_event(&event, None).await.unwrap();
            assert!(events.last().is_none_or(|e: &ReloadEventRow| event.id > e.id), "{url}");
            events.push(event);
        }
        let list = |before_id, limit, results: &[&str], trigger: Option<&str>| {
            let query = ReloadEventQuery {
                before_id,
                limit,
                results: results.iter().map(|r| (*r).to_owned()).collect(),
                trigger: trigger.map(str::to_owned),
            };
            let store = &store;
            async move { store.list_reload_events(&query).await.unwrap() }
        };
        let newest_first: Vec<_> = events.iter().rev().cloned().collect();
        assert_eq!(list(None, 10, &[], None).await, newest_first, "{url}: read back whole");
        assert_eq!(list(None, 2, &[], None).await, newest_first[..2], "{url}");
        assert_eq!(list(Some(events[2].id), 2, &[], None).await, newest_first[2..], "{url}");
        let succeeded = list(None, 10, &["success"], None).await;
        assert_eq!(succeeded, [events[2].clone(), events[0].clone()], "{url}");
        let signals = list(None, 10, &[], Some("signal")).await;
        assert_eq!(signals, [events[3].clone(), events[1].clone()], "{url}");

        let stats = store.reload_stats(None).await.unwrap();
        let by_result = [("success", 2), ("unchanged", 1), ("validation_failed", 1)];
        let by_result: Vec<_> = by_result.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect();
        assert_eq!(stats.by_result, by_result, "{url}");
        assert_eq!(stats.last, Some(("unchanged".to_owned(), at(4_000))), "{url}");
        assert_eq!((stats.last_success_at, stats.oldest_at), (Some(at(3_000)), Some(at(1_000))));
        let ms = |d: &[Duration]| d.iter().map(Duration::as_millis).collect::<Vec<_>>();
        assert_eq!(ms(&stats.recent_durations), [1, 7, 5, 3], "{url}: newest first");
        let recent = store.reload_stats(Some(at(2_500))).await.unwrap();
        assert_eq!(recent.by_result, [("success".into(), 1), ("unchanged".into(), 1)], "{url}");
        assert_eq!((recent.oldest_at, ms(&recent.recent_durations)), (Some(at(3_000)), vec![1, 7]));
        store.close().await;
    }
}

#[tokio::test]
async fn recovery_reports_read_back_newest_first_and_filter_by_previous_run() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        assert_eq!(store.get_recovery_report(None).await.unwrap(), None, "{url}");
        let mut reports = Vec::new();
        let mut previous = None;
        for (pid, ended) in [(1, "none"), (2, "crashed"), (3, "clean")] {
            let run = store.begin_run(pid, 0).await.unwrap();
            let mut report = RecoveryReportRow {
                id: 0,
                run_id: run.run_id,
                started_at: at(1_000 * i64::from(pid)),
                duration: Duration::from_micros(1_500),
                previous_run: ended.into(),
                previous_run_id: previous,
                report_json: format!(r#"{{"pid":{pid}}}"#),
            };
            report.id = store.insert_recovery_report(&report).await.unwrap();
            previous = Some(run.run_id);
            reports.push(report);
        }
        let newest = store.get_recovery_report(None).await.unwrap();
        assert_eq!(newest.as_ref(), Some(&reports[2]), "{url}");
        let first = store.get_recovery_report(Some(reports[0].id)).await.unwrap();
        assert_eq!(first.as_ref(), Some(&reports[0]), "{url}");
        assert_eq!(store.get_recovery_report(Some(reports[2].id + 100)).await.unwrap(), None);
        let all = store.list_recovery_reports(None, 10, None).await.unwrap();
        assert_eq!(all, [reports[2].clone(), reports[1].clone(), reports[0].clone()], "{url}");
        let page = store.list_recovery_reports(Some(reports[2].id), 1, None).await.unwrap();
        assert_eq!(page, [reports[1].clone()], "{url}");
        let crashed = store.list_recovery_reports(None, 10, Some("crashed")).await.unwrap();
        assert_eq!(crashed, [reports[1].clone()], "{url}");
        // A check finishing after the report was stored replaces its body, only that.
        store.update_recovery_report(reports[1].id, r#"{"late":true}"#).await.unwrap();
        reports[1].report_json = r#"{"late":true}"#.into();
        let updated = store.get_recovery_report(Some(reports[1].id)).await.unwrap();
        assert_eq!(updated.as_ref(), Some(&reports[1]), "{url}");
        let unknown = store.update_recovery_report(reports[2].id + 100, "{}").await;
        assert!(unknown.is_err(), "{url}: no such report");
        assert_eq!(store.get_recovery_report(None).await.unwrap().as_ref(), Some(&reports[2]));
        assert_eq!(store.integrity_problems().await.unwrap(), Vec::<String>::new(), "{url}");
        store.close().await;
    }
}

/// Retention deletes only finished rows older than the cutoff, in bounded batches, commands
/// with their events and their rollout members' reference to them (no orphan is left, with or
/// without foreign keys); the dry run counts the same rows.
#[tokio::test]
async fn retention_deletes_only_old_finished_rows_in_batches() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        let cutoff = at(5_000);
        let client = Uuid::new_v4();
        let mut tx = store.fleet_tx().await.unwrap();
        tx.put_client(&ClientRecord::new(client, 1)).await.unwrap();
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for (state, finished_ms) in [
            (CommandState::Completed, Some(1_000)),
            (CommandState::Failed, Some(1_000)),
            (CommandState::Rejected, Some(1_000)),
            (CommandState::Accepted, None),
            (CommandState::Completed, Some(9_000)),
        ] {
            let mut c = crate::model::commands::CommandRecord::new(
                Uuid::new_v4(),
                client,
                crate::contract::Action::RestartApp,
                crate::model::commands::Origin::Api,
                1_000,
                2_000,
            );
            (c.state, c.finished_ms) = (state, finished_ms);
            tx.insert_command(&c).await.unwrap();
            tx.insert_event(c.command_id, 1_000, None, state, EventSource::Api, "t").await.unwrap();
            if finished_ms == Some(1_000) { &mut gone } else { &mut kept }.push(c.command_id);
        }
        // One rollout's member points to a command retention deletes, another's to one it keeps.
        let member = [RolloutMember { client_uuid: client, wave: 0 }];
        let (dropped, held) = (Uuid::new_v4(), Uuid::new_v4());
        for (rollout, command) in [(dropped, gone[0]), (held, kept[0])] {
            tx.put_rollout(&rollout_record(rollout)).await.unwrap();
            tx.insert_members(rollout, &member).await.unwrap();
            tx.set_member_command(rollout, client, command).await.unwrap();
        }
        tx.commit().await.unwrap();
        for ms in [1_000, 2_000, 9_000] {
            store.insert_reload_event(&reload(ms, "rpc", "success", 1), None).await.unwrap();
            store
                .insert_audit_event(&super::audit::AuditRow { at: at(ms), ..audit_row("/a/B") })
                .await
                .unwrap();
        }
        let mut finished_old = sample_record(1_000);
        finished_old.finish(Outcome::Succeeded, None, 1_500, 500);
        let mut finished_new = sample_record(8_000);
        finished_new.finish(Outcome::Succeeded, None, 9_000, 500);
        let running = sample_record(1_000);
        for record in [&finished_old, &finished_new, &running] {
            store.save_restart(record, None).await.unwrap();
        }

        let count = |table| store.count_expired(table, cutoff);
        assert_eq!(count(RetentionTable::Commands).await.unwrap(), 3, "{url}");
        assert_eq!(count(RetentionTable::ReloadEvents).await.unwrap(), 2, "{url}");
        assert_eq!(count(RetentionTable::AuditEvents).await.unwrap(), 2, "{url}");
        assert_eq!(count(RetentionTable::RestartEvents).await.unwrap(), 1, "{url}");
        let delete = |table| store.delete_expired(table, cutoff, 2, None);
        assert_eq!(delete(RetentionTable::Commands).await.unwrap(), 2, "{url}");
        assert_eq!(delete(RetentionTable::Commands).await.unwrap(), 1, "{url}");
        assert_eq!(delete(RetentionTable::Commands).await.unwrap(), 0, "{url}");
        for table in [
            RetentionTable::ReloadEvents,
            RetentionTable::AuditEvents,
            RetentionTable::RestartEvents,
        ] {
            assert!(delete(table).await.unwrap() > 0, "{url}: {table:?}");
            assert_eq!(count(table).await.unwrap(), 0, "{url}: {table:?}");
        }

        let mut left: Vec<_> = store
            .list_commands(&CommandFilter::default(), None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.command_id)
            .collect();
        left.sort();
        kept.sort();
        assert_eq!(left, kept, "{url}");
        for id in gone {
            assert_eq!(store.command_events(id).await.unwrap(), [], "{url}: events go too");
        }
        // No member points to a deleted command: it is unissued again, as after SET NULL.
        assert_eq!(store.unissued_members(dropped, 10).await.unwrap(), member, "{url}");
        assert_eq!(store.unissued_members(held, 10).await.unwrap(), [], "{url}");
        assert_eq!(store.command_events(kept[0]).await.unwrap().len(), 1, "{url}");
        let reloads = ReloadEventQuery { limit: 10, ..Default::default() };
        assert_eq!(store.list_reload_events(&reloads).await.unwrap().len(), 1, "{url}");
        let audit = AuditQuery { limit: 10, ..AuditQuery::default() };
        assert_eq!(store.list_audit_events(&audit).await.unwrap().len(), 1, "{url}");
        let restarts = RestartQuery { limit: 10, ..Default::default() };
        let restarts = store.list_restarts(&restarts).await.unwrap().records;
        let mut restarts: Vec<_> = restarts.iter().map(|r| r.id).collect();
        restarts.sort();
        let mut expected = vec![finished_new.id, running.id];
        expected.sort();
        assert_eq!(restarts, expected, "{url}");
        store.close().await;
    }
}

/// A backup is a copy of the whole database that never overwrites a file; a backend that
/// cannot copy itself from inside the server (PostgreSQL) says which tool does.
#[tokio::test]
async fn backup_writes_a_new_copy_or_names_the_tool() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        store.begin_run(1, 0).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("copy");
        match store.backup(&dest).await {
            Ok(size) => {
                assert_eq!(size, std::fs::metadata(&dest).unwrap().len(), "{url}");
                assert!(size > 0, "{url}");
                assert!(store.backup(&dest).await.is_err(), "{url}: never overwritten");
            }
            Err(e) => {
                assert_eq!(store.backend(), "postgres", "{url}: {e}");
                assert!(e.to_string().contains("pg_dump"), "{url}: {e}");
                assert!(!dest.exists(), "{url}");
            }
        }
        store.close().await;
    }
}

/// Waits (with a deadline) until the store holds no connection checked out.
async fn settled(store: &dyn Store) {
    let idle = async {
        while store.busy() != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), idle).await.expect("busy back to 0");
}

/// What the health report reads: the write probe commits, a write refused by a constraint is
/// a conflict (the database works, so it is no write failure), and no call keeps a connection
/// after it returned.
#[tokio::test]
async fn the_write_probe_commits_and_a_conflict_is_no_write_failure() {
    for (url, _tmp) in backends().await {
        let store = open_ok(&url).await;
        store.begin_run(1, 0).await.unwrap();
        store.probe_write().await.unwrap();
        assert!(store.write_failure().is_none(), "{url}");
        let client = Uuid::new_v4();
        let c = crate::model::commands::CommandRecord::new(
            Uuid::new_v4(),
            client,
            crate::contract::Action::RestartApp,
            crate::model::commands::Origin::Api,
            1,
            2,
        );
        let mut tx = store.fleet_tx().await.unwrap();
        tx.insert_command(&c).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.fleet_tx().await.unwrap();
        let twice = match tx.insert_command(&c).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        let err = twice.expect_err("the same command id twice");
        assert_eq!(err.kind(), StoreErrorKind::Conflict, "{url}: {err}");
        assert!(store.write_failure().is_none(), "{url}: {:?}", store.write_failure());
        store.probe_write().await.unwrap();
        store.list_commands(&CommandFilter::default(), None, 10).await.unwrap();
        settled(&*store).await;
        store.close().await;
    }
}
