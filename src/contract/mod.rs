//! The device contract (`contracts/mqtt-v1.md`) as both ends speak it: the actions, the
//! payload rules ([`wire`]) and how to reach the broker ([`broker`]).
//!
//! A leaf: it imports nothing of the server (config, store, domain, adapters), so that
//! `rebound-agent` builds on it without the server's dependency tree (the `server` feature).

pub mod broker;
pub mod limits;
pub mod wire;

use crate::macros::text_enum;

text_enum! {
    /// A disruptive action (`contracts/mqtt-v1.md`).
    Action { RebootHost = "reboot_host", ShutdownHost = "shutdown_host", RestartApp = "restart_app" }
}
