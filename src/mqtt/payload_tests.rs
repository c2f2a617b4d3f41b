//! Unit tests of the wire format.

use super::*;
use crate::contract::Action;
use crate::model::commands::AckTopic;

fn reason(result: Result<Option<DeviceMessage>, Malformed>) -> Reason {
    result.unwrap_err().reason
}

#[test]
fn command_round_trips_with_every_field_and_rejects_extras() {
    let command = OutboundCommand {
        command_id: Uuid::new_v4(),
        client_uuid: Uuid::new_v4(),
        action: Action::RebootHost,
        issued_ms: 1_775_393_290_000,
        expires_ms: 1_775_393_530_000,
        requested_by: Some(1),
        reason: None,
    };
    let bytes = encode_command(&command);
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["issued_at"], "2026-04-05T12:48:10Z");
    assert_eq!(value["reason"], serde_json::Value::Null, "null, not absent");
    assert_eq!(value.as_object().unwrap().len(), 8);
    let wire = decode_command(&bytes).unwrap();
    assert_eq!((wire.command_id, wire.action.as_str()), (command.command_id, "reboot_host"));
    let mut extra = value.clone();
    extra["extra"] = serde_json::json!(1);
    let err = decode_command(&serde_json::to_vec(&extra).unwrap()).unwrap_err();
    assert_eq!(err.reason, Reason::WrongSchema);
    let mut missing = value;
    missing.as_object_mut().unwrap().remove("reason");
    assert_eq!(
        decode_command(&serde_json::to_vec(&missing).unwrap()).unwrap_err().reason,
        Reason::WrongSchema
    );
}

#[test]
fn acks_ignore_unknown_fields_and_validate_known_ones() {
    let id = Uuid::new_v4();
    let text = format!(
        r#"{{"command_id":"{id}","status":"completed","error_code":null,"error_message":null,"boot_id":"b","x":1}}"#
    );
    let message = decode(Inbound::Ack(AckTopic::Canonical), Uuid::nil(), text.as_bytes(), false)
        .unwrap()
        .unwrap();
    let DeviceMessage::Ack { ack, .. } = message else { panic!("not an ack") };
    assert_eq!((ack.status, ack.boot_id.as_deref()), (AckStatus::Completed, Some("b")));
    let ack_kind = Inbound::Ack(AckTopic::Alias);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), b"{not json", false)), Reason::InvalidJson);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), b"[1]", false)), Reason::WrongSchema);
    let bad = format!(r#"{{"command_id":"{id}","status":"done"}}"#);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), bad.as_bytes(), false)), Reason::WrongSchema);
    let bad_id = r#"{"command_id":"nope","status":"accepted"}"#;
    assert_eq!(
        reason(decode(ack_kind, Uuid::nil(), bad_id.as_bytes(), false)),
        Reason::WrongSchema
    );
}

#[test]
fn broken_json_is_invalid_json_even_where_the_shape_fails_first() {
    let ack_kind = Inbound::Ack(AckTopic::Canonical);
    let id = Uuid::new_v4();
    // The typed read stops at `"status": 5`; the syntax error comes after it.
    let text = format!(r#"{{"command_id":"{id}","status":5,"#);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), text.as_bytes(), false)), Reason::InvalidJson);
    let trailing = format!(r#"{{"command_id":"{id}","status":"accepted"}} x"#);
    assert_eq!(
        reason(decode(ack_kind, Uuid::nil(), trailing.as_bytes(), false)),
        Reason::InvalidJson
    );
    // Valid JSON, but a positional array of the right values is still not an object.
    let array = format!(r#" ["{id}","accepted",null,null,null]"#);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), array.as_bytes(), false)), Reason::WrongSchema);
    assert_eq!(reason(decode(ack_kind, Uuid::nil(), b"\"text\"", false)), Reason::WrongSchema);
    let spaced = format!("\n\t {{\"command_id\":\"{id}\",\"status\":\"accepted\"}}\n");
    assert!(decode(ack_kind, Uuid::nil(), spaced.as_bytes(), false).is_ok());
}

#[test]
fn health_checks_schema_version_and_client() {
    let me = Uuid::new_v4();
    let health = |version: &str, client: Uuid| {
        format!(
            r#"{{"schema_version":"{version}","client_uuid":"{client}","sent_at":"2026-04-05T12:48:10Z",
            "boot_id":"b1","uptime_s":5,"app_version":"2.3.1","process_status":"crashed",
            "broker_connection":{{"reconnect_count":2,"last_disconnect_at":"2026-04-05T12:00:00Z"}},"extra":true}}"#
        )
    };
    let ok = decode(Inbound::Health, me, health("1.0", me).as_bytes(), false).unwrap().unwrap();
    let DeviceMessage::Health(h) = ok else { panic!("not health") };
    assert_eq!((h.process_status, h.reconnect_count), (ProcessStatus::Crashed, Some(2)));
    assert!(h.last_disconnect_ms.is_some());
    assert_eq!(
        reason(decode(Inbound::Health, me, health("2.0", me).as_bytes(), false)),
        Reason::UnsupportedSchema
    );
    let other = Uuid::new_v4();
    assert_eq!(
        reason(decode(Inbound::Health, me, health("1.0", other).as_bytes(), false)),
        Reason::WrongClient
    );
}

#[test]
fn status_and_service_failed_accept_empty_retained_clears() {
    let me = Uuid::new_v4();
    assert_eq!(decode(Inbound::Status, me, b"", true).unwrap(), None);
    assert_eq!(decode(Inbound::ServiceFailed, me, b"", true).unwrap(), None);
    let online = decode(Inbound::Status, me, br#"{"state":"online","ip":"x"}"#, true).unwrap();
    assert_eq!(online, Some(DeviceMessage::Status { online: true, retained: true }));
    assert_eq!(
        reason(decode(Inbound::Status, me, br#"{"state":"away"}"#, false)),
        Reason::WrongSchema
    );
    let failed = br#"{"unit":"infoscreen-app.service","failed_at":"2026-04-05T12:48:10Z"}"#;
    let message = decode(Inbound::ServiceFailed, me, failed, false).unwrap().unwrap();
    assert!(
        matches!(message, DeviceMessage::ServiceFailed { ref unit, .. } if unit == "infoscreen-app.service")
    );
    assert_eq!(reason(decode(Inbound::Health, me, b"", false)), Reason::InvalidJson);
}
