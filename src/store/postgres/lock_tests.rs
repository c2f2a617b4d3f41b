//! The device area's locks on PostgreSQL (`fleet_tx.rs`): transactions of different devices
//! run side by side, transactions of one device take turns, a device met late is locked when
//! met, and a whole-area transaction runs alone. Each test holds a transaction open and
//! watches `pg_locks` for the other one to wait (or not).

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::clock::now_ms;
use crate::contract::Action;
use crate::model::clients::ClientRecord;
use crate::model::commands::{CommandRecord, Origin};
use crate::store::commands::FleetTx;
use crate::store::test_postgres::{database, wait_for_lock_waiters};
use crate::store::{Store, open};

/// How long a transaction that must not wait may take.
const NO_WAIT: Duration = Duration::from_secs(5);

async fn store() -> Option<(String, Arc<dyn Store>)> {
    let url = database().await?;
    let store = open(&url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    Some((url, store))
}

/// Registers `devices` in one transaction.
async fn register(store: &dyn Store, devices: &[Uuid]) {
    let mut tx = store.fleet_tx().await.unwrap();
    for device in devices {
        tx.put_client(&ClientRecord::new(*device, now_ms())).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Sets `device`'s group to `group` in a transaction of its own, and commits.
async fn set_group(store: Arc<dyn Store>, device: Uuid, group: &str) -> ClientRecord {
    let mut tx = store.fleet_tx().await.unwrap();
    let mut client = tx.client(device).await.unwrap().expect("registered");
    client.group = Some(group.to_owned());
    tx.put_client(&client).await.unwrap();
    tx.commit().await.unwrap();
    client
}

#[tokio::test]
async fn transactions_of_different_devices_run_side_by_side() {
    let Some((_, store)) = store().await else { return };
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    register(store.as_ref(), &[x, y]).await;

    let mut held = store.fleet_tx().await.unwrap();
    let mut client = held.client(x).await.unwrap().unwrap();
    client.group = Some("held".into());
    held.put_client(&client).await.unwrap();

    // Under one lock for the whole area this would wait for `held` to end.
    let other = tokio::time::timeout(NO_WAIT, set_group(store.clone(), y, "other")).await;
    assert!(other.is_ok(), "a transaction of another device waited for the open one");
    held.commit().await.unwrap();
    assert_eq!(store.client(x).await.unwrap().unwrap().group.as_deref(), Some("held"));
    assert_eq!(store.client(y).await.unwrap().unwrap().group.as_deref(), Some("other"));
}

#[tokio::test]
async fn transactions_of_one_device_take_turns_and_the_second_sees_the_first() {
    let Some((url, store)) = store().await else { return };
    let x = Uuid::new_v4();
    register(store.as_ref(), &[x]).await;

    let mut first = store.fleet_tx().await.unwrap();
    let mut client = first.client(x).await.unwrap().unwrap();
    client.group = Some("first".into());
    first.put_client(&client).await.unwrap();

    // The second reads the device, appends to its group, and writes it back: were it to
    // read before the first commits, the first's group would be lost.
    let second = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.fleet_tx().await.unwrap();
            let mut client = tx.client(x).await.unwrap().unwrap();
            client.group = Some(format!("{}+second", client.group.unwrap_or_default()));
            tx.put_client(&client).await.unwrap();
            tx.commit().await.unwrap();
        }
    });
    wait_for_lock_waiters(&url, 1).await;
    first.commit().await.unwrap();
    second.await.unwrap();
    assert_eq!(store.client(x).await.unwrap().unwrap().group.as_deref(), Some("first+second"));
}

/// Stores a queued command of `device` (of `rollout`, if any) and returns it.
async fn queued(store: &dyn Store, device: Uuid, rollout: Option<Uuid>) -> CommandRecord {
    let mut command =
        CommandRecord::new(Uuid::new_v4(), device, Action::RestartApp, Origin::Api, 1, i64::MAX);
    command.rollout_id = rollout;
    let mut tx = store.fleet_tx().await.unwrap();
    tx.client(device).await.unwrap();
    tx.insert_command(&command).await.unwrap();
    tx.commit().await.unwrap();
    command
}

/// Whether a transaction of `device` waits while `held` is open, and ends once it commits.
async fn waits_for(url: &str, store: &Arc<dyn Store>, held: Box<dyn FleetTx>, device: Uuid) {
    let other = tokio::spawn(set_group(store.clone(), device, "after"));
    wait_for_lock_waiters(url, 1).await;
    assert!(!other.is_finished());
    held.commit().await.unwrap();
    other.await.unwrap();
}

#[tokio::test]
async fn the_device_of_a_command_read_by_id_is_locked_before_the_read() {
    let Some((url, store)) = store().await else { return };
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    register(store.as_ref(), &[x, y]).await;
    let command = queued(store.as_ref(), y, None).await;

    // Named X only, then reads a command of Y by its id: Y is locked from that read on.
    let mut held = store.fleet_tx().await.unwrap();
    held.prefetch(&[], &[x]).await.unwrap();
    let read = held.command(command.command_id).await.unwrap().expect("stored");
    assert_eq!(read.client_uuid, y);
    waits_for(&url, &store, held, y).await;
}

#[tokio::test]
async fn commands_found_by_their_rollout_have_their_devices_locked_when_met() {
    let Some((url, store)) = store().await else { return };
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    register(store.as_ref(), &[x, y]).await;
    let rollout = Uuid::new_v4();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO rollouts (rollout_id, action, target_json, max_per_minute, \
             abort_failure_percent, min_finished, state, created_ms, updated_ms) \
         VALUES ($1, 'restart_app', '{}', 10, 50, 1, 'running', 0, 0)",
    )
    .bind(rollout.to_string())
    .execute(&pool)
    .await
    .unwrap();
    let command = queued(store.as_ref(), y, Some(rollout)).await;

    // Reads the rollout's commands without naming their devices: the rows found are of Y,
    // which is locked when they are met (and the rows read again under the lock).
    let mut held = store.fleet_tx().await.unwrap();
    held.prefetch(&[], &[x]).await.unwrap();
    let found = held.unaccepted_rollout_commands(rollout).await.unwrap();
    assert_eq!(found.iter().map(|c| c.command_id).collect::<Vec<_>>(), [command.command_id]);
    waits_for(&url, &store, held, y).await;
}

#[tokio::test]
async fn a_whole_area_transaction_runs_alone() {
    let Some((url, store)) = store().await else { return };
    let (x, y) = (Uuid::new_v4(), Uuid::new_v4());
    register(store.as_ref(), &[x, y]).await;

    // It waits for an open device transaction…
    let mut device = store.fleet_tx().await.unwrap();
    device.client(x).await.unwrap();
    let whole = tokio::spawn({
        let store = store.clone();
        async move { store.fleet_tx_whole().await.unwrap() }
    });
    wait_for_lock_waiters(&url, 1).await;
    device.commit().await.unwrap();
    let whole = whole.await.unwrap();

    // …and a device transaction of any device waits for it.
    waits_for(&url, &store, whole, y).await;
}
