//! Recovery and upkeep of the durable state: retention of old finished rows, online
//! backups, restoring one while no server runs (and, at start-up, the recovery report).
//!
//! Transport-neutral: the `RecoveryService` and the CLI call in here. Nothing here decides
//! what a command state means; it only asks the store for finished rows.

pub mod backup;
pub mod report;
pub mod restore;
pub mod retention;
pub mod startup;
