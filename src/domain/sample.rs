//! Example payloads generated from a JSON Schema, to prefill the test-webhook editor.
//! Best effort: it follows the common keywords and gives up gracefully on the rest.
//!
//! Bounded: the schema is the tenant's, and a sample is generated on every view of the
//! agent page (on the server, and again in the browser). The output is at most
//! [`MAX_SAMPLE_BYTES`] of compact JSON, counted while it is generated, in time proportional
//! to the output and to the part of the schema read. When the budget runs low, arrays get
//! fewer items, properties are left out and values become `null`: such a sample may not
//! satisfy its schema, which an ordinary schema never comes near.

use serde::Serialize;
use serde_json::{json, Map, Number, Value};

/// Most bytes of compact JSON in a sample (pretty-printed, it is larger by its indentation).
pub const MAX_SAMPLE_BYTES: usize = 16 * 1024;
/// Longest generated string, in characters: `minLength` is honoured up to this.
pub const MAX_SAMPLE_STRING_CHARS: usize = 1024;
/// Most items of a generated array: `minItems` is honoured up to this, or fewer when the
/// budget runs low.
pub const MAX_SAMPLE_ITEMS: usize = 5;
/// Deepest nesting of subschemas followed; deeper values are `null`.
pub const MAX_SAMPLE_DEPTH: usize = 8;

/// `null`, the smallest value: every call of `sample` has at least this much budget left.
const NULL_BYTES: usize = 4;

/// A payload that satisfies common schemas: every property (required or not), the first
/// enum value, `const`, defaults and examples, formats, numeric and length bounds.
pub fn sample_payload(schema: Option<&Value>) -> Value {
    match schema {
        Some(schema) => sample(schema, 0, &mut Budget(MAX_SAMPLE_BYTES)),
        None => json!({
            "event": "test",
            "message": "Hello from agent-webhooks",
            "sent_at": "2026-01-01T00:00:00Z"
        }),
    }
}

/// Bytes of compact JSON the sample may still grow by.
struct Budget(usize);

impl Budget {
    fn take(&mut self, bytes: usize) -> bool {
        match self.0.checked_sub(bytes) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
}

/// A value for `schema`, whose compact JSON length is taken from `budget`. Called with at
/// least [`NULL_BYTES`] left, so that `null` always fits.
fn sample(schema: &Value, depth: usize, budget: &mut Budget) -> Value {
    let Some(object) = schema.as_object() else {
        return null(budget);
    };
    if depth > MAX_SAMPLE_DEPTH {
        return null(budget);
    }
    let first = |list: &str| {
        object
            .get(list)
            .and_then(Value::as_array)
            .and_then(|values| values.first())
    };
    let given = object
        .get("const")
        .or_else(|| first("enum"))
        .or_else(|| object.get("default"))
        .or_else(|| first("examples"));
    if let Some(value) = given {
        return fitting(value, budget);
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(first) = object
            .get(combinator)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return sample(first, depth + 1, budget);
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
        "object" => object_sample(object, depth, budget),
        "array" => array_sample(object, depth, budget),
        "integer" => keep(integer_sample(object), budget),
        "number" => keep(number_sample(object), budget),
        "boolean" => keep(Value::Bool(true), budget),
        "null" => null(budget),
        _ => keep(Value::String(string_sample(object)), budget),
    }
}

fn null(budget: &mut Budget) -> Value {
    budget.take(NULL_BYTES);
    Value::Null
}

/// A copy of `value` when its JSON fits the budget, else `null`: measured before copied.
fn fitting(value: &Value, budget: &mut Budget) -> Value {
    match json_len(value, budget.0) {
        Some(bytes) if budget.take(bytes) => value.clone(),
        _ => null(budget),
    }
}

/// `value` when its JSON fits the budget, else `null`.
fn keep(value: Value, budget: &mut Budget) -> Value {
    match json_len(&value, budget.0) {
        Some(bytes) if budget.take(bytes) => value,
        _ => null(budget),
    }
}

/// The length of `value` as compact JSON, or `None` past `limit` (counted no further).
fn json_len<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<usize> {
    struct Counter {
        bytes: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes = self.bytes.saturating_add(buf.len());
            if self.bytes > self.limit {
                return Err(std::io::Error::other("over the sample budget"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, limit };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.bytes)
}

/// Every property that fits, in order: a property goes in when its name and at least a
/// `null` fit.
fn object_sample(object: &Map<String, Value>, depth: usize, budget: &mut Budget) -> Value {
    // `{}` fits: `sample` has at least NULL_BYTES.
    budget.take(2);
    let mut out = Map::new();
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Value::Object(out);
    };
    for (name, property) in properties {
        let Some(name_bytes) = json_len(name.as_str(), budget.0) else {
            continue;
        };
        // The name, a colon, a comma before all but the first, and then the value.
        let overhead = name_bytes
            .saturating_add(1)
            .saturating_add(usize::from(!out.is_empty()));
        if overhead.saturating_add(NULL_BYTES) > budget.0 {
            continue;
        }
        budget.take(overhead);
        out.insert(name.clone(), sample(property, depth + 1, budget));
    }
    Value::Object(out)
}

/// `minItems` copies of one item (at least one, at most [`MAX_SAMPLE_ITEMS`]), as many as
/// the budget allows.
fn array_sample(object: &Map<String, Value>, depth: usize, budget: &mut Budget) -> Value {
    // `[]` fits: `sample` has at least NULL_BYTES.
    budget.take(2);
    if budget.0 < NULL_BYTES {
        return Value::Array(Vec::new());
    }
    let wanted = object
        .get("minItems")
        .and_then(Value::as_u64)
        .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX))
        .clamp(1, MAX_SAMPLE_ITEMS);
    let before = budget.0;
    let item = match object.get("items") {
        Some(items) => sample(items, depth + 1, budget),
        None => keep(json!("item"), budget),
    };
    // Each further copy costs as much as the first, and a comma.
    let each = before.saturating_sub(budget.0).saturating_add(1);
    let more = (wanted - 1).min(budget.0 / each);
    budget.take(more.saturating_mul(each));
    vec![item; more.saturating_add(1)].into()
}

/// The lowest integer the bounds allow (1 when they allow it), computed without overflow.
fn integer_sample(object: &Map<String, Value>) -> Value {
    let bound = |key: &str| object.get(key).and_then(as_integer_bound);
    let lower = match (bound("minimum"), bound("exclusiveMinimum")) {
        (Some((_, ceil)), None) => Some(ceil),
        (None, Some((floor, _))) => Some(floor.saturating_add(1)),
        (Some((_, ceil)), Some((floor, _))) => Some(ceil.max(floor.saturating_add(1))),
        (None, None) => None,
    };
    let upper = match (bound("maximum"), bound("exclusiveMaximum")) {
        (Some((floor, _)), None) => Some(floor),
        (None, Some((_, ceil))) => Some(ceil.saturating_sub(1)),
        (Some((floor, _)), Some((_, ceil))) => Some(floor.min(ceil.saturating_sub(1))),
        (None, None) => None,
    };
    let n = match (lower, upper) {
        (Some(lower), _) => lower,
        (None, Some(upper)) => upper.min(1),
        (None, None) => 1,
    };
    if let Ok(n) = i64::try_from(n) {
        json!(n)
    } else if let Ok(n) = u64::try_from(n) {
        json!(n)
    } else {
        // Beyond 64 bits the bound was a float: the nearest float (approximate beyond i128).
        Number::from_f64(n as f64).map_or(Value::Null, Value::Number)
    }
}

/// A numeric bound as the integers just below and just above it (equal for an integer).
fn as_integer_bound(value: &Value) -> Option<(i128, i128)> {
    if let Some(n) = value.as_i64() {
        return Some((n.into(), n.into()));
    }
    if let Some(n) = value.as_u64() {
        return Some((n.into(), n.into()));
    }
    // `as` saturates: a bound beyond i128 stays at its end.
    let f = value.as_f64().filter(|f| f.is_finite())?;
    Some((f.floor() as i128, f.ceil() as i128))
}

fn number_sample(object: &Map<String, Value>) -> Value {
    let bound = |key: &str| object.get(key).and_then(Value::as_f64);
    let n = match (bound("minimum"), bound("exclusiveMinimum")) {
        (Some(minimum), _) => minimum,
        // Past 2^53, adding 1 changes nothing: the next float up.
        (None, Some(exclusive)) if exclusive + 1.0 > exclusive => exclusive + 1.0,
        (None, Some(exclusive)) => exclusive.next_up(),
        (None, None) => 1.5,
    };
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// An example of the format (or "example"), padded with `x` to `minLength` (up to
/// [`MAX_SAMPLE_STRING_CHARS`]) and cut to `maxLength`; built in one pass.
fn string_sample(object: &Map<String, Value>) -> String {
    // All ASCII: bytes are characters.
    let base = match object.get("format").and_then(Value::as_str) {
        Some("email") => "user@example.com",
        Some("date-time") => "2026-01-01T00:00:00Z",
        Some("date") => "2026-01-01",
        Some("time") => "12:00:00Z",
        Some("uri" | "url") => "https://example.com",
        Some("uuid") => "00000000-0000-4000-8000-000000000000",
        Some("ipv4") => "192.0.2.1",
        _ => "example",
    };
    let length = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_u64)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let min = length("minLength")
        .unwrap_or(0)
        .min(MAX_SAMPLE_STRING_CHARS);
    let mut chars = base.len().max(min);
    if let Some(max) = length("maxLength") {
        chars = chars.min(max);
    }
    let mut text = String::with_capacity(chars);
    text.push_str(&base[..base.len().min(chars)]);
    text.extend(std::iter::repeat_n('x', chars - text.len()));
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

    fn compact_len(value: &Value) -> usize {
        serde_json::to_vec(value).unwrap().len()
    }

    #[test]
    fn a_huge_min_length_is_honoured_only_up_to_the_cap_and_fast() {
        let started = std::time::Instant::now();
        let payload = sample_payload(Some(&json!({"type": "string", "minLength": 1_200_000})));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
        let text = payload.as_str().unwrap();
        assert_eq!(text.len(), MAX_SAMPLE_STRING_CHARS);
        assert!(compact_len(&payload) <= MAX_SAMPLE_BYTES);
        // Beyond 32 bits (the browser build's usize), still capped, not wrapped around.
        let huge = sample_payload(Some(&json!({"type": "string", "minLength": u64::MAX})));
        assert_eq!(huge.as_str().unwrap().len(), MAX_SAMPLE_STRING_CHARS);
    }

    #[test]
    fn lengths_are_honoured_in_characters() {
        let padded = sample_payload(Some(&json!({"type": "string", "minLength": 12})));
        assert_eq!(padded, "examplexxxxx");
        let cut = sample_payload(Some(
            &json!({"type": "string", "format": "email", "maxLength": 4}),
        ));
        assert_eq!(cut, "user");
        let both = sample_payload(Some(&json!({"minLength": 3, "maxLength": 3})));
        assert_eq!(both, "exa");
    }

    #[test]
    fn deeply_nested_arrays_stay_within_the_budget() {
        let mut schema = json!({"type": "string", "minLength": 1000});
        for _ in 0..12 {
            schema = json!({"type": "array", "minItems": 1000, "items": schema});
        }
        let started = std::time::Instant::now();
        let payload = sample_payload(Some(&schema));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let len = compact_len(&payload);
        assert!(len <= MAX_SAMPLE_BYTES, "{len} bytes");
        assert!(payload.is_array());
    }

    #[test]
    fn wide_objects_and_big_constants_stay_within_the_budget() {
        let big = "y".repeat(40_000);
        let properties: Map<String, Value> = (0..3000)
            .map(|i| {
                (
                    format!("field_{i:04}"),
                    json!({"type": "string", "minLength": 900}),
                )
            })
            .collect();
        let schema = json!({
            "type": "array",
            "minItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "a_const": {"const": big},
                    "b_enum": {"enum": [[big, big]]},
                    "c_wide": {"type": "object", "properties": properties}
                }
            }
        });
        let payload = sample_payload(Some(&schema));
        let len = compact_len(&payload);
        assert!(len <= MAX_SAMPLE_BYTES, "{len} bytes");
        let first = &payload[0];
        assert_eq!(first["a_const"], Value::Null, "too big for the budget");
        assert!(first["c_wide"].as_object().unwrap().len() > 1);
    }

    #[test]
    fn extreme_numeric_bounds_do_not_overflow() {
        let at = |schema: Value| sample_payload(Some(&schema));
        assert_eq!(
            at(json!({"type": "integer", "minimum": i64::MAX})),
            json!(i64::MAX)
        );
        assert_eq!(
            at(json!({"type": "integer", "exclusiveMinimum": i64::MAX})),
            json!(i64::MAX as u64 + 1)
        );
        assert_eq!(
            at(json!({"type": "integer", "exclusiveMinimum": u64::MAX})),
            json!(u64::MAX as f64)
        );
        assert_eq!(
            at(json!({"type": "integer", "exclusiveMaximum": i64::MIN})),
            json!(i64::MIN as f64)
        );
        assert!(at(json!({"type": "integer", "minimum": 1e300})).is_number());
        assert!(at(json!({"type": "integer", "exclusiveMaximum": -1e300})).is_number());
        assert_eq!(
            at(json!({"type": "integer", "exclusiveMinimum": 2.5})),
            json!(3)
        );
        assert_eq!(at(json!({"type": "integer", "maximum": -7})), json!(-7));
        assert_eq!(
            at(json!({"type": "integer", "exclusiveMinimum": -1})),
            json!(0)
        );
        assert_eq!(
            at(json!({"type": "number", "exclusiveMinimum": 1e300})),
            json!(1e300f64.next_up())
        );
        assert_eq!(
            at(json!({"type": "number", "exclusiveMinimum": f64::MAX})),
            Value::Null,
            "no finite number is above it"
        );
        assert_eq!(at(json!({"type": "number", "minimum": -2.5})), json!(-2.5));
    }
}
