//! systemd service notifications (`Type=notify`): READY, STOPPING, MAINPID and watchdog
//! pings. Every call is a no-op when not started by systemd (`NOTIFY_SOCKET` unset).

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The service is up and serving.
pub fn ready() {
    send(&[sd_notify::NotifyState::Ready]);
}

/// The service is shutting down.
pub fn stopping() {
    send(&[sd_notify::NotifyState::Stopping]);
}

/// This process (a hot-restart successor) is the service's main process now. Needs
/// `NotifyAccess=all` in the unit, since the message comes from a child of the old main pid.
pub fn main_pid(pid: u32) {
    send(&[sd_notify::NotifyState::MainPid(pid)]);
}

/// A configuration reload starts (`Type=notify-reload`); follow it with [`ready`].
pub fn reloading() {
    match sd_notify::NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[sd_notify::NotifyState::Reloading, now]),
        Err(_) => send(&[sd_notify::NotifyState::Reloading]),
    }
}

/// A one-line status shown by `systemctl status`.
pub fn status(text: &str) {
    send(&[sd_notify::NotifyState::Status(text)]);
}

fn send(states: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(error = %err, "systemd notification failed");
    }
}

/// When `WATCHDOG_USEC` is set, ping the watchdog at half its interval until `stop` fires.
pub fn spawn_watchdog(stop: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else { return };
    let period = (interval / 2).max(Duration::from_millis(100));
    tracing::info!(period_ms = period.as_millis() as u64, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => send(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    });
}
