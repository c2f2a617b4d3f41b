//! Every payload a device (or anyone holding its credentials) can publish to the server:
//! acks on both topics, health, status and service_failed, retained or not. The server
//! must answer any byte string with a value or a `Malformed` reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebound::mqtt::payload::decode;
use rebound::mqtt::topics::Inbound;
use rebound::store::commands::AckTopic;
use uuid::Uuid;

const CLIENT: Uuid = Uuid::from_u128(0x9b2c4d1e_8f7a_4b3c_a1d2_e3f4a5b6c7d8);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let kind = match selector % 5 {
        0 => Inbound::Ack(AckTopic::Canonical),
        1 => Inbound::Ack(AckTopic::Alias),
        2 => Inbound::Health,
        3 => Inbound::Status,
        _ => Inbound::ServiceFailed,
    };
    let _ = decode(kind, CLIENT, payload, selector & 0x80 != 0);
});
