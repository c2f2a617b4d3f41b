//! OS signals, translated into lifecycle requests on one channel.
//!
//! SIGTERM and SIGINT ask for shutdown; SIGHUP asks for a configuration reload; SIGUSR2 asks
//! for a hot restart (handover). Handlers are
//! installed once, early, so a signal never takes the default (fatal) action mid-start.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What a received signal asks the process to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGTERM / SIGINT: drain and exit.
    Shutdown(&'static str),
    /// SIGHUP: reload the configuration.
    Reload,
    /// SIGUSR2: hot restart (handover mode).
    Restart(&'static str),
}

/// Install the handlers and return the channel their requests arrive on.
pub fn listen() -> std::io::Result<mpsc::Receiver<Request>> {
    let (tx, rx) = mpsc::channel(8);
    let kinds = [
        (SignalKind::terminate(), Request::Shutdown("SIGTERM")),
        (SignalKind::interrupt(), Request::Shutdown("SIGINT")),
        (SignalKind::hangup(), Request::Reload),
        (SignalKind::user_defined2(), Request::Restart("SIGUSR2")),
    ];
    for (kind, request) in kinds {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(request).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(rx)
}
