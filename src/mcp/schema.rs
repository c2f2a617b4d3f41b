//! The JSON Schemas `rebound-mcp` declares: each tool's `inputSchema` (from its argument
//! type, with schemars) and `outputSchema` (the structured content it returns, from the
//! protobuf descriptors of the responses, matching what [`super::json`] writes).
//!
//! Every schema is portable JSON Schema 2020-12: no type is written as an array and none
//! allows `null`. Something that may be missing is left out of `required` instead (schemars
//! writes `Option<T>` as `["T", "null"]`, which some MCP clients reject, so that is undone
//! here). This module builds schemas only; the tools in [`super::tools`] pick them.

use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use rmcp::model::JsonObject;
use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The `inputSchema` of a tool taking arguments `T`: what `T` deserializes from, with
/// optional arguments written as their type (absent or null both mean "not given").
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    let settings = SchemaSettings::draft2020_12().with_transform(NoNull);
    root(Value::from(settings.into_generator().into_root_schema_for::<T>()))
}

/// The schema of what `T` serializes to (for structured content built from Rust types).
pub fn serialized<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::draft2020_12().for_serialize().with_transform(NoNull);
    let mut schema = Value::from(settings.into_generator().into_root_schema_for::<T>());
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

/// The `outputSchema` of a tool whose structured content is `schema` (an object).
pub fn output(schema: Value) -> Arc<JsonObject> {
    let mut schema = schema;
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root(schema)
}

/// The `outputSchema` of a tool whose structured content is the response message `name`.
pub fn response(name: &str) -> Arc<JsonObject> {
    output(message(name))
}

/// The schema of the rebound.v1 message `name` (e.g. "GetHealthResponse") as the canonical
/// protobuf JSON mapping writes it with every field present: fields without presence are
/// required, fields with presence (messages, `optional`, oneof members) appear only when
/// set, enums are their value names, 64-bit integers numbers.
pub fn message(name: &str) -> Value {
    match super::json::descriptor(name) {
        Some(descriptor) => message_schema(&descriptor, &mut Vec::new()),
        None => panic!("rebound.v1.{name}: no such message in the descriptor set"),
    }
}

/// An object with the given `required` and `optional` properties (open to more).
pub fn object(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = required
        .iter()
        .chain(optional)
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    let names: Vec<&str> = required.iter().map(|(name, _)| *name).collect();
    json!({"type": "object", "properties": properties, "required": names})
}

/// `schema` with `names` no longer required at the object it describes (a tool left them out).
pub fn relax(mut schema: Value, names: &[&str]) -> Value {
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| !names.iter().any(|n| name == n));
    }
    schema
}

/// A report section: `schema`, or `{"unavailable": "why"}` when its call failed.
pub fn section(schema: Value) -> Value {
    let unavailable = object(&[("unavailable", json!({"type": "string"}))], &[]);
    json!({"anyOf": [schema, unavailable]})
}

fn root(schema: Value) -> Arc<JsonObject> {
    let Value::Object(mut object) = schema else {
        panic!("a tool schema must be a JSON object");
    };
    assert_eq!(object.get("type"), Some(&json!("object")), "MCP wants an object at the root");
    object.remove("title");
    object.remove("description");
    Arc::new(object)
}

fn message_schema(message: &MessageDescriptor, seen: &mut Vec<String>) -> Value {
    let name = message.full_name().to_owned();
    if seen.contains(&name) {
        return json!({"type": "object"}); // recursive: described once, then left open
    }
    seen.push(name);
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in message.fields() {
        properties.insert(field.name().to_owned(), field_schema(&field, seen));
        if !field.supports_presence() {
            required.push(field.name().to_owned());
        }
    }
    seen.pop();
    json!({"type": "object", "properties": properties, "required": required})
}

fn field_schema(field: &FieldDescriptor, seen: &mut Vec<String>) -> Value {
    let single = kind_schema(&field.kind(), seen);
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else { unreachable!("a map field is a message") };
        let value = kind_schema(&entry.map_entry_value_field().kind(), seen);
        json!({"type": "object", "additionalProperties": value})
    } else if field.cardinality() == Cardinality::Repeated {
        json!({"type": "array", "items": single})
    } else {
        single
    }
}

fn kind_schema(kind: &Kind, seen: &mut Vec<String>) -> Value {
    match kind {
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Int32
        | Kind::Sint32
        | Kind::Sfixed32
        | Kind::Int64
        | Kind::Sint64
        | Kind::Sfixed64 => {
            json!({"type": "integer"})
        }
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "integer", "minimum": 0})
        }
        // Non-finite values are written as strings by the JSON mapping.
        Kind::Float | Kind::Double => json!({"anyOf": [
            {"type": "number"},
            {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
        ]}),
        Kind::Enum(values) => {
            let names: Vec<String> = values.values().map(|value| value.name().to_owned()).collect();
            json!({"type": "string", "enum": names})
        }
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
            "google.protobuf.Duration" => {
                json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"})
            }
            // Other well-known types have JSON forms of their own; none is used by the API.
            other if other.starts_with("google.protobuf.") => json!({}),
            _ => message_schema(message, seen),
        },
    }
}

/// Undoes schemars' nullable forms: `"type": ["T", "null"]` becomes `"type": "T"`, and
/// `"anyOf": [S, {"type": "null"}]` becomes S.
#[derive(Clone)]
struct NoNull;

impl Transform for NoNull {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(object) = schema.as_object_mut() {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    object.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(any_of)) = object.get_mut("anyOf") {
                any_of.retain(|s| s != &json!({"type": "null"}));
                if any_of.len() == 1
                    && let Value::Object(only) = any_of.remove(0)
                {
                    object.remove("anyOf");
                    for (key, value) in only {
                        object.entry(key).or_insert(value);
                    }
                }
            }
        }
        transform_subschemas(self, schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type array anywhere in `schema`, by JSON pointer.
    fn type_arrays(schema: &Value, at: &str, found: &mut Vec<String>) {
        match schema {
            Value::Object(object) => {
                if object.get("type").is_some_and(Value::is_array) {
                    found.push(at.to_owned());
                }
                for (key, value) in object {
                    type_arrays(value, &format!("{at}/{key}"), found);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    type_arrays(value, &format!("{at}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[derive(JsonSchema, serde::Deserialize)]
    #[allow(dead_code)]
    struct Args {
        name: Option<String>,
        count: Option<u32>,
        mode: Option<Mode>,
        all: bool,
    }

    #[derive(JsonSchema, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Mode {
        Fast,
        Slow,
    }

    #[test]
    fn optional_arguments_are_their_type_and_not_required() {
        let schema = Value::Object((*input::<Args>()).clone());
        let mut found = Vec::new();
        type_arrays(&schema, "", &mut found);
        assert_eq!(found, Vec::<String>::new());
        assert_eq!(schema["properties"]["name"]["type"], "string");
        assert_eq!(schema["properties"]["count"]["type"], "integer");
        assert_eq!(schema["properties"]["mode"], json!({"$ref": "#/$defs/Mode"}));
        assert_eq!(schema["required"], json!(["all"]));
        assert!(!schema.to_string().contains("null"), "{schema}");
    }

    #[test]
    fn message_schemas_follow_the_json_mapping() {
        let health = message("GetHealthResponse");
        assert_eq!(health["properties"]["status"]["enum"][1], "SERVING_STATUS_SERVING");
        assert_eq!(health["properties"]["uptime"]["type"], "string");
        assert_eq!(health["properties"]["components"]["type"], "array");
        let required = health["required"].as_array().unwrap();
        assert!(required.contains(&json!("pid")) && required.contains(&json!("components")));
        // Messages and optional scalars are written only when set.
        assert!(!required.contains(&json!("uptime")) && !required.contains(&json!("started_at")));
        let reload = message("ReloadRequest");
        assert!(!reload["required"].as_array().unwrap().contains(&json!("content")));
    }
}
