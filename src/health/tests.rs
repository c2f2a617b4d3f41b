//! The store component against a real SQLite file whose writes start failing and recover.

use super::*;
use crate::model::clients::ClientRecord;
use crate::store::writes::write_protect;

async fn write_a_client(store: &dyn Store) -> Result<(), crate::store::StoreError> {
    let mut tx = store.fleet_tx().await?;
    tx.put_client(&ClientRecord::new(uuid::Uuid::new_v4(), 1)).await?;
    tx.commit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_writes_make_the_store_unhealthy_until_writes_work_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rebound.db");
    let store = crate::store::open(&format!("sqlite://{}", db.display())).await.unwrap();
    assert_eq!(store_component(store.as_ref()).await.status, ComponentStatus::Healthy);

    write_protect(&db, true);
    let refused = write_a_client(store.as_ref()).await.unwrap_err();
    assert_eq!(refused.kind(), StoreErrorKind::Internal, "{refused}");
    let store_now = store_component(store.as_ref()).await;
    assert_eq!(store_now.status, ComponentStatus::Unhealthy, "{store_now:?}");
    assert!(store_now.detail.starts_with("writes failing for "), "{store_now:?}");
    assert!(store_now.detail.contains("internal database error"), "{store_now:?}");
    assert_eq!(overall(false, &[store_now]), Overall::NotServing);

    // Nothing else writes: the report's own probe finds out that writes work again.
    write_protect(&db, false);
    let store_now = store_component(store.as_ref()).await;
    assert_eq!(store_now.status, ComponentStatus::Healthy, "{store_now:?}");
    assert_eq!(overall(false, &[store_now]), Overall::Serving);
    write_a_client(store.as_ref()).await.unwrap();
    store.close().await;
}

#[test]
fn busy_writes_degrade_and_other_failures_make_the_store_unhealthy() {
    assert_eq!(write_status(StoreErrorKind::Unavailable), ComponentStatus::Degraded);
    assert_eq!(write_status(StoreErrorKind::ResourceExhausted), ComponentStatus::Unhealthy);
    assert_eq!(write_status(StoreErrorKind::Internal), ComponentStatus::Unhealthy);
    let degraded =
        Component { name: "store", status: ComponentStatus::Degraded, detail: "".into() };
    assert_eq!(overall(false, std::slice::from_ref(&degraded)), Overall::Serving);
    assert_eq!(overall(true, &[degraded]), Overall::Draining);
}

#[test]
fn the_git_sha_is_the_full_commit_as_documented() {
    let sha = super::GIT_SHA;
    let full = sha.len() == 40 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    assert!(full || sha == "unknown", "{sha}");
}
