//! Example payloads generated from a JSON Schema, to prefill the test-webhook editor.
//! Best effort: it follows the common keywords and gives up gracefully on the rest.

use serde_json::{json, Map, Value};

/// A payload that satisfies common schemas: every property (required or not), the first
/// enum value, `const`, defaults and examples, formats, numeric and length bounds.
pub fn sample_payload(schema: Option<&Value>) -> Value {
    match schema {
        Some(schema) => sample(schema, 0),
        None => json!({
            "event": "test",
            "message": "Hello from agent-webhooks",
            "sent_at": "2026-01-01T00:00:00Z"
        }),
    }
}

fn sample(schema: &Value, depth: usize) -> Value {
    let Some(object) = schema.as_object() else {
        return Value::Null;
    };
    if depth > 8 {
        return Value::Null;
    }
    if let Some(value) = object.get("const") {
        return value.clone();
    }
    if let Some(first) = object
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    if let Some(value) = object.get("default") {
        return value.clone();
    }
    if let Some(first) = object
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(first) = object
            .get(combinator)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return sample(first, depth + 1);
        }
    }
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null"),
        _ if object.contains_key("properties") => "object",
        _ if object.contains_key("items") => "array",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(properties) = object.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    out.insert(name.clone(), sample(property, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item = object
                .get("items")
                .map_or(json!("item"), |items| sample(items, depth + 1));
            let count = object
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; count.min(5) as usize])
        }
        "integer" => json!(object
            .get("minimum")
            .and_then(Value::as_i64)
            .or_else(|| object
                .get("exclusiveMinimum")
                .and_then(Value::as_i64)
                .map(|n| n + 1))
            .unwrap_or(1)),
        "number" => json!(object.get("minimum").and_then(Value::as_f64).unwrap_or(1.5)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!(string_sample(object)),
    }
}

fn string_sample(object: &Map<String, Value>) -> String {
    let base = match object.get("format").and_then(Value::as_str) {
        Some("email") => "user@example.com".to_owned(),
        Some("date-time") => "2026-01-01T00:00:00Z".to_owned(),
        Some("date") => "2026-01-01".to_owned(),
        Some("time") => "12:00:00Z".to_owned(),
        Some("uri" | "url") => "https://example.com".to_owned(),
        Some("uuid") => "00000000-0000-4000-8000-000000000000".to_owned(),
        Some("ipv4") => "192.0.2.1".to_owned(),
        _ => "example".to_owned(),
    };
    let min = object.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = object
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let mut text = base;
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = max {
        text = text.chars().take(max).collect();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_follow_types_enums_and_formats() {
        let schema = json!({
            "type": "object",
            "required": ["ticket_id", "priority", "reporter"],
            "properties": {
                "ticket_id": {"type": "integer", "minimum": 1000},
                "priority": {"enum": ["low", "high"]},
                "reporter": {"type": "string", "format": "email"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "urgent": {"type": "boolean"},
                "code": {"type": "string", "minLength": 10}
            }
        });
        let payload = sample_payload(Some(&schema));
        assert_eq!(payload["ticket_id"], 1000);
        assert_eq!(payload["priority"], "low");
        assert_eq!(payload["reporter"], "user@example.com");
        assert_eq!(payload["tags"], json!(["example"]));
        assert_eq!(payload["urgent"], true);
        assert!(payload["code"].as_str().unwrap().len() >= 10);
    }

    #[test]
    fn without_a_schema_a_generic_event_is_offered() {
        assert_eq!(sample_payload(None)["event"], "test");
    }
}
