//! The device command domain: the command lifecycle of `contracts/mqtt-v1.md`, the per-device
//! safety lockout, crash detection and the recovery ladder, rollouts, and the device registry.
//!
//! It owns the rules — which transitions are legal, when a command expires or times out,
//! what proves a reboot, when the lockout refuses, when a rollout aborts — and applies them
//! through the store's [`crate::store::FleetTx`], writing every transition and its event in
//! one transaction. It does not know MQTT or gRPC: the gateway (`crate::mqtt`) reaches it
//! through [`device::Delivery`] and [`device::DeviceLink`], the API (`crate::api`) through
//! [`Fleet`]'s methods, and it never imports tonic or rumqttc.
//!
//! Background work runs as two supervised loops: the ingest loop (device messages, in
//! batches) and the scheduler (expiry, timeouts, rollout waves, crash recovery).

#[cfg(test)]
mod copies_tests;
mod counts;
mod crash;
pub mod device;
mod fleet;
mod ingest;
mod issue;
mod leader;
mod lifecycle;
#[cfg(test)]
mod lockout_tests;
mod operations;
mod ownership;
mod replicas;
mod rollout;
mod scheduler;
mod settings;
mod startup;
#[cfg(test)]
pub(crate) mod test_link;

pub use counts::Counted;
pub use fleet::{CommandChange, Fleet, Stats};
pub use ingest::MAX_BATCH;
pub use issue::{IssueRequest, Lockout};
pub use leader::step_down_if_fenced;
pub use lifecycle::terminal_timeout;
pub use operations::{CrashState, crash_state, validate_group};
pub use rollout::{Canary, RolloutRequest, is_settled, reported_counters};
pub use settings::{DeviceSettings, Settings};
pub use startup::{Found, StartupSummary, recover_at_start};
