//! Reload manager tests against a real (in-memory SQLite) store and real observers.

use super::*;
use crate::config::{ConfigObserver, load};
use std::sync::Mutex;

/// Records every apply; refuses or panics on demand.
struct Recorder {
    name: &'static str,
    applied: Mutex<Vec<(u64, u64)>>,
    behaviour: Behaviour,
}

#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    Refuse,
    Panic,
}

impl Recorder {
    fn new(name: &'static str, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self { name, applied: Mutex::new(Vec::new()), behaviour })
    }

    /// (old, new) drain timeouts in seconds, per call.
    fn calls(&self) -> Vec<(u64, u64)> {
        self.applied.lock().unwrap().clone()
    }
}

impl ConfigObserver for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }

    fn apply(
        &self,
        old: &crate::config::Config,
        new: &crate::config::Config,
    ) -> Result<(), String> {
        match self.behaviour {
            Behaviour::Refuse if new.server.drain_timeout != Duration::from_secs(30) => {
                return Err("cannot follow this change".into());
            }
            Behaviour::Panic if new.server.drain_timeout != Duration::from_secs(30) => {
                panic!("observer bug");
            }
            _ => {}
        }
        let secs = |c: &crate::config::Config| c.server.drain_timeout.as_secs();
        self.applied.lock().unwrap().push((secs(old), secs(new)));
        Ok(())
    }

    fn refresh(&self, config: &crate::config::Config) -> Result<(), String> {
        match self.behaviour {
            Behaviour::Accept => {
                let secs = config.server.drain_timeout.as_secs();
                self.applied.lock().unwrap().push((secs, secs));
                Ok(())
            }
            _ => Err("its file is unreadable".into()),
        }
    }
}

async fn manager(file: Option<PathBuf>) -> ReloadManager {
    let store = crate::store::open("sqlite::memory:").await.unwrap();
    let loaded = load(file.as_deref(), []).unwrap();
    ReloadManager::new(ConfigHandle::new(loaded), Observers::default(), store, file, Vec::new())
}

fn inline(content: &str) -> ReloadRequest {
    ReloadRequest {
        content: Some(content.into()),
        ..ReloadRequest::from_file(Trigger::Rpc, "test")
    }
}

const FAST_DRAIN: &str = "version = 1\n[server]\ndrain_timeout = \"5s\"\n";

#[tokio::test]
async fn a_live_change_is_swapped_in_notified_and_recorded() {
    let manager = manager(None).await;
    let observer = Recorder::new("recorder", Behaviour::Accept);
    manager.observers.register(observer.clone());
    let mut watch = manager.subscribe();

    let event = manager.reload(inline(FAST_DRAIN)).await.unwrap();
    assert_eq!(event.result, ReloadResult::Success);
    assert_eq!((event.version_before, event.version_after), (1, 2));
    assert_eq!(event.changes.len(), 1);
    assert_eq!(event.changes[0].path, "server.drain_timeout");
    assert_eq!(manager.handle().config().server.drain_timeout, Duration::from_secs(5));
    assert_eq!(observer.calls(), [(30, 5)]);
    assert_eq!(watch.recv().await.unwrap().id, event.id);

    let again = manager.reload(inline(FAST_DRAIN)).await.unwrap();
    assert_eq!(again.result, ReloadResult::Unchanged);
    let history =
        manager.history(&ReloadEventQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(
        history.iter().map(|e| e.result).collect::<Vec<_>>(),
        [ReloadResult::Unchanged, ReloadResult::Success]
    );
}

#[tokio::test]
async fn invalid_content_is_rejected_with_every_field_path_and_the_old_config_stays() {
    let manager = manager(None).await;
    let event = manager
        .reload(inline("version = 1\n[server]\nlisten = \"x\"\ndrain_timeout = \"0s\"\n"))
        .await
        .unwrap();
    assert_eq!(event.result, ReloadResult::ValidationFailed);
    let paths: Vec<_> = event.validation_errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["server.listen", "server.drain_timeout"]);
    assert_eq!(manager.handle().load().version, 1);

    let syntax = manager.reload(inline("version = \n")).await.unwrap();
    assert_eq!(syntax.result, ReloadResult::ValidationFailed);
    assert_eq!(syntax.validation_errors[0].line, Some(1));
}

#[tokio::test]
async fn restart_only_keys_are_refused_and_nothing_is_applied() {
    let manager = manager(None).await;
    let event = manager
        .reload(inline("version = 1\n[server]\nlisten = \"127.0.0.1:1\"\ndrain_timeout = \"5s\"\n"))
        .await
        .unwrap();
    assert_eq!(event.result, ReloadResult::RestartRequired);
    assert_eq!(event.restart_required(), ["server.listen"]);
    assert_eq!(
        manager.handle().config().server.drain_timeout,
        Duration::from_secs(30),
        "not half-applied"
    );
}

#[tokio::test]
async fn a_refusing_observer_rolls_back_and_the_others_are_told() {
    for behaviour in [Behaviour::Refuse, Behaviour::Panic] {
        let manager = manager(None).await;
        let first = Recorder::new("first", Behaviour::Accept);
        let failing = Recorder::new("failing", behaviour);
        manager.observers.register(first.clone());
        manager.observers.register(failing.clone());
        let event = manager.reload(inline(FAST_DRAIN)).await.unwrap();
        assert_eq!(event.result, ReloadResult::RolledBack);
        assert_eq!(event.failed_observer.as_deref(), Some("failing"));
        assert_eq!(event.version_after, 1);
        assert_eq!(manager.handle().load().version, 1);
        assert_eq!(manager.handle().config().server.drain_timeout, Duration::from_secs(30));
        assert_eq!(first.calls(), [(30, 5), (5, 30)], "applied, then rolled back");
    }
}

#[tokio::test]
async fn an_unchanged_reload_lets_observers_reread_their_files() {
    let manager = manager(None).await;
    let reader = Recorder::new("reader", Behaviour::Accept);
    manager.observers.register(reader.clone());
    let event = manager.reload(inline("version = 1\n")).await.unwrap();
    assert_eq!(event.result, ReloadResult::Unchanged);
    assert_eq!(reader.calls(), [(30, 30)], "refreshed, not applied");
    manager.observers.register(Recorder::new("broken", Behaviour::Refuse));
    let event = manager.reload(inline("version = 1\n")).await.unwrap();
    assert_eq!(event.result, ReloadResult::RolledBack);
    assert_eq!(event.failed_observer.as_deref(), Some("broken"));
    assert!(event.error.unwrap().contains("its file is unreadable"));
}

#[tokio::test]
async fn a_missing_file_is_file_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rebound.toml");
    std::fs::write(&path, FAST_DRAIN).unwrap();
    let manager = manager(Some(path.clone())).await;
    std::fs::remove_file(&path).unwrap();
    let request = ReloadRequest { content: None, ..inline("") };
    let event = manager.reload(request).await.unwrap();
    assert_eq!(event.result, ReloadResult::FileNotFound);
    assert_eq!(event.source_path.as_deref(), Some(path.as_path()));
}

#[tokio::test]
async fn concurrent_reloads_never_interleave() {
    let manager = Arc::new(manager(None).await);
    let guard = manager.running.lock().await;
    let refused = manager.reload(inline(FAST_DRAIN)).await.unwrap();
    assert_eq!(refused.result, ReloadResult::AlreadyInProgress);
    drop(guard);
    let contents: Vec<String> =
        (1..=8).map(|s| format!("version = 1\n[server]\ndrain_timeout = \"{s}s\"\n")).collect();
    let runs = contents.into_iter().map(|c| {
        let manager = manager.clone();
        tokio::spawn(async move { manager.reload(inline(&c)).await.unwrap().result })
    });
    let results = futures::future::join_all(runs).await;
    let applied = results.iter().filter(|r| *r.as_ref().unwrap() == ReloadResult::Success).count();
    let refused =
        results.iter().filter(|r| *r.as_ref().unwrap() == ReloadResult::AlreadyInProgress).count();
    assert_eq!(applied + refused, 8);
    assert_eq!(manager.handle().load().version, 1 + applied as u64);
}

#[tokio::test]
async fn validate_reports_without_applying() {
    let manager = manager(None).await;
    let validation = manager.validate(None, Some(FAST_DRAIN.into())).await;
    assert_eq!(validation.result, ReloadResult::Success);
    assert_eq!(validation.changes.len(), 1);
    assert_eq!(manager.handle().load().version, 1);
    let stats = reload_stats(manager.store().as_ref(), None).await.unwrap();
    assert_eq!(stats.total, 0, "validation records no event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_the_handle_see_old_or_new_never_a_mix() {
    let manager = Arc::new(manager(None).await);
    let variants = [
        (
            "version = 1\n[server]\ndrain_timeout = \"5s\"\n[telemetry]\nlog_level = \"debug\"\n",
            5,
            "debug",
        ),
        (
            "version = 1\n[server]\ndrain_timeout = \"6s\"\n[telemetry]\nlog_level = \"warn\"\n",
            6,
            "warn",
        ),
    ];
    let allowed = [(30, "info"), (5, "debug"), (6, "warn")];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let handle = manager.handle().clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let current = handle.load();
                    let config = &current.loaded.config;
                    let pair = (
                        config.server.drain_timeout.as_secs(),
                        config.telemetry.log_level.as_str(),
                    );
                    assert!(allowed.contains(&pair), "mixed config observed: {pair:?}");
                    assert_eq!(current.loaded.hash, crate::config::hash_config(config));
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for round in 0..200 {
        let (content, _, _) = variants[round % 2];
        assert_eq!(manager.reload(inline(content)).await.unwrap().result, ReloadResult::Success);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("a reader saw a mixed config") > 0);
    }
    let last = manager.handle().config();
    assert_eq!(
        (last.server.drain_timeout.as_secs(), last.telemetry.log_level.as_str()),
        (variants[1].1, variants[1].2)
    );
}
