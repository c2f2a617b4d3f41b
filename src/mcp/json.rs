//! Responses as JSON for MCP structured content: the canonical protobuf JSON mapping (enum
//! names, RFC 3339 timestamps, durations like "1.5s"), with proto field names and every
//! field present, so what an assistant sees matches `grpcurl` and the .proto comments.
//!
//! It reflects over the crate's one descriptor pool ([`crate::proto::descriptors`]); it adds
//! no meaning of its own.

use crate::proto::descriptors;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;

/// The descriptor of the rebound.v1 message `name` (e.g. "GetHealthResponse").
pub fn descriptor(name: &str) -> Option<MessageDescriptor> {
    descriptors::pool().get_message_by_name(&format!("rebound.v1.{name}"))
}

/// `message` (of the rebound.v1 type `name`, e.g. "GetHealthResponse") as JSON; its
/// schema is [`super::schema::message`].
pub fn to_json<M: prost::Message>(name: &str, message: &M) -> Value {
    let full = format!("rebound.v1.{name}");
    let Some(descriptor) = descriptor(name) else {
        return Value::String(format!("<unknown message type {full}>"));
    };
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|err| err.to_string())
        .and_then(|dynamic| {
            dynamic
                .serialize_with_options(serde_json::value::Serializer, &options)
                .map_err(|err| err.to_string())
        })
        .unwrap_or_else(|err| Value::String(format!("<cannot render {full}: {err}>")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::v1 as pb;

    #[test]
    fn renders_enums_by_name_and_keeps_default_fields() {
        let report = pb::GetHealthResponse {
            status: pb::ServingStatus::Serving as i32,
            generation: 3,
            uptime: Some(prost_types::Duration { seconds: 1, nanos: 500_000_000 }),
            ..Default::default()
        };
        let json = to_json("GetHealthResponse", &report);
        assert_eq!(json["status"], "SERVING_STATUS_SERVING");
        assert_eq!(json["generation"], 3);
        assert_eq!(json["uptime"], "1.500s");
        assert_eq!(json["pid"], 0);
        assert_eq!(json["components"], serde_json::json!([]));
    }

    #[test]
    fn an_unknown_type_is_named_not_hidden() {
        let json = to_json("NoSuchMessage", &pb::GetHealthRequest {});
        assert_eq!(json, "<unknown message type rebound.v1.NoSuchMessage>");
    }
}
