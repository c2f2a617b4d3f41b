//! What a device does with a command payload from the broker: the agent's strict validation
//! (schema, no extra fields, my uuid, not expired, allowed action) and the shared decoder.
//! Any byte string gives a command or a contract error code, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound::agent::validate::{command_id, validate};
use rebound::mqtt::payload::decode_command;
use uuid::Uuid;

const ME: Uuid = Uuid::from_u128(0x9b2c4d1e_8f7a_4b3c_a1d2_e3f4a5b6c7d8);
/// 2026-04-05T12:50:00Z, inside the seed commands' lifetime.
const NOW_MS: i64 = 1_775_393_400_000;

fuzz_target!(|data: &[u8]| {
    let _ = decode_command(data);
    let _ = command_id(data);
    let _ = validate(data, ME, NOW_MS);
});
