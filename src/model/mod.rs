//! The domain's records and enums: commands and their events, devices, rollouts, restarts, the
//! serving process's identity, and the store's durability setting.
//!
//! Plain data with their storage names and small derivations (a state's rank, a rollout's
//! failure share, a restart's progress). The store keeps them, the domain decides what happens
//! to them, and the adapters translate them. This module imports only leaves (the device
//! contract's `Action`, the `text_enum!` macro): no store, no domain module, no I/O.

pub mod clients;
pub mod commands;
pub mod durability;
pub mod process;
pub mod restart;
pub mod rollouts;
