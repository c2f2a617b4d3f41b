//! Process exit codes shared by every binary (sysexits-style, as DESIGN.md fixes them).

/// Success.
pub const OK: u8 = 0;
/// Any other failure.
pub const FAILURE: u8 = 1;
/// Usage or configuration error (`EX_USAGE`).
pub const USAGE: u8 = 64;
/// A needed service is unavailable: port in use, server unreachable or not serving (`EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;
