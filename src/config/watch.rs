//! The config file watcher: turns changes of the file on disk into reloads, debounced.
//!
//! It watches the file's directory (editors replace files by renaming over them), filters
//! for the file's name, waits for `config.watch_debounce` of quiet, and then asks the reload
//! manager for a reload with trigger `watch`. `config.watch` is read at each change, so
//! turning watching on or off is itself a live reload.

use super::reload::{ReloadManager, ReloadRequest, Trigger};
use crate::tasks::Tasks;
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {}: {source}", path.display())]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

/// Start watching `file` as a background loop of `tasks`.
pub fn spawn(tasks: &Tasks, manager: Arc<ReloadManager>, file: &Path) -> Result<(), WatchError> {
    let fail = |source| WatchError { path: file.to_owned(), source };
    let file = std::path::absolute(file).map_err(|e| fail(notify::Error::io(e)))?;
    let dir = file.parent().map(Path::to_owned).unwrap_or_else(|| PathBuf::from("/"));
    let name = file.file_name().map(ToOwned::to_owned);
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
            let _ = tx.send(());
        }
    })
    .map_err(fail)?;
    watcher.watch(&dir, RecursiveMode::NonRecursive).map_err(fail)?;
    if manager.handle().config().config.watch {
        tracing::info!(file = %file.display(), "watching the config file");
    } else {
        tracing::debug!(file = %file.display(), "config.watch is off: file changes are ignored");
    }

    tasks.spawn("config.watch", move |mut control| async move {
        let _watcher = watcher; // dropping it stops the notifications
        loop {
            tokio::select! {
                _ = control.changed() => {
                    if !control.checkpoint().await { return; }
                    continue;
                }
                changed = rx.recv() => if changed.is_none() { return },
            }
            let config = manager.handle().config().config;
            // Debounce: wait until the file has been quiet for the configured time.
            while let Ok(Some(())) = tokio::time::timeout(config.watch_debounce, rx.recv()).await {}
            if !config.watch || !control.checkpoint().await {
                continue;
            }
            if let Err(err) =
                manager.reload(ReloadRequest::from_file(Trigger::Watch, "watch")).await
            {
                tracing::error!(error = %err, "config reload from the watcher failed");
            }
        }
    });
    Ok(())
}
