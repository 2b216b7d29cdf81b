//! Tenant-supplied payload schemas. Tenants are untrusted: no network or file resolving,
//! remote `$ref` refused, formats validated, linear-time regexes with bounded size, and a
//! cap on the schema's size. Draft 2020-12 by default, Draft 7 via `$schema`.

use jsonschema::{Draft, PatternOptions, Validator};
use serde_json::Value;

use crate::domain::FieldError;

pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const DRAFT_2020_12: &[&str] = &[
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2020-12/schema#",
];
const DRAFT_7: &[&str] = &[
    "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft-07/schema",
    "https://json-schema.org/draft-07/schema#",
];

fn problem(path: &str, message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError {
        path: path.to_owned(),
        message: message.into(),
    }]
}

/// Checks a schema and builds its validator; errors locate the problem inside the schema.
pub fn compile(schema: &Value) -> Result<Validator, Vec<FieldError>> {
    let size = serde_json::to_vec(schema).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_SCHEMA_BYTES {
        return Err(problem(
            "",
            format!("schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}"),
        ));
    }
    if !(schema.is_object() || schema.is_boolean()) {
        return Err(problem("", "a schema must be a JSON object (or a boolean)"));
    }
    let draft = match schema.get("$schema") {
        None => Draft::Draft202012,
        Some(Value::String(uri)) if DRAFT_2020_12.contains(&uri.as_str()) => Draft::Draft202012,
        Some(Value::String(uri)) if DRAFT_7.contains(&uri.as_str()) => Draft::Draft7,
        Some(other) => {
            return Err(problem(
                "/$schema",
                format!("unsupported $schema {other}: use Draft 2020-12 (the default) or Draft 7"),
            ))
        }
    };
    let meta = match draft {
        Draft::Draft7 => jsonschema::draft7::meta::validator(),
        _ => jsonschema::draft202012::meta::validator(),
    };
    let problems: Vec<FieldError> = meta
        .iter_errors(schema)
        .map(|err| FieldError {
            path: err.instance_path().to_string(),
            message: err.to_string(),
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .offline()
        .with_pattern_options(
            PatternOptions::regex()
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT),
        )
        .build(schema)
        .map_err(|err| {
            let message = err.to_string();
            let message = if message.contains("Offline") || message.contains("retriev") {
                format!("remote or unresolvable $ref refused: {message}")
            } else {
                message
            };
            problem(&err.schema_path().to_string(), message)
        })
}

/// Every violation of `instance`, located by JSON pointer into the payload.
pub fn violations(validator: &Validator, instance: &Value) -> Vec<FieldError> {
    validator
        .iter_errors(instance)
        .map(|err| FieldError {
            path: err.instance_path().to_string(),
            message: err.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_good_schema_compiles_and_reports_every_violation_with_its_path() {
        let validator = compile(&json!({
            "type": "object",
            "required": ["ticket_id", "priority"],
            "properties": {
                "ticket_id": {"type": "integer"},
                "priority": {"enum": ["low", "high"]},
                "reporter": {"type": "string", "format": "email"}
            }
        }))
        .unwrap();
        assert!(violations(&validator, &json!({"ticket_id": 1, "priority": "low"})).is_empty());
        let errors = violations(
            &validator,
            &json!({"ticket_id": "x", "priority": "urgent", "reporter": "nope"}),
        );
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/ticket_id"), "{errors:?}");
        assert!(paths.contains(&"/priority"), "{errors:?}");
        assert!(
            paths.contains(&"/reporter"),
            "formats are validated: {errors:?}"
        );
    }

    #[test]
    fn invalid_schemas_are_refused_with_a_location() {
        let errors = compile(&json!({"type": "objekt"})).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].path.contains("type"), "{errors:?}");
        assert!(compile(&json!([1, 2])).is_err());
        assert!(compile(&json!({"$schema": "http://example.com/my-meta"})).is_err());
    }

    #[test]
    fn every_problem_of_a_schema_is_reported() {
        let errors = compile(&json!({"type": "objekt", "properties": {"n": {"minimum": "one"}}}))
            .unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(
            paths.contains(&"/type") && paths.contains(&"/properties/n/minimum"),
            "{errors:?}"
        );
    }

    #[test]
    fn remote_references_are_refused() {
        let errors = compile(&json!({"$ref": "https://example.com/schema.json"})).unwrap_err();
        assert!(!errors.is_empty());
    }

    #[test]
    fn draft_7_is_chosen_by_its_schema_uri() {
        let draft7 = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "array",
            "items": [{"type": "string"}],
            "additionalItems": false
        });
        let validator = compile(&draft7).unwrap();
        assert!(violations(&validator, &json!(["a"])).is_empty());
        assert!(!violations(&validator, &json!(["a", 1])).is_empty());
    }

    #[test]
    fn oversized_schemas_are_refused() {
        let big = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(compile(&big).unwrap_err()[0].message.contains("limit"));
    }

    #[test]
    fn catastrophic_regexes_cannot_backtrack() {
        let validator = compile(&json!({"type": "string", "pattern": "^(a+)+$"})).unwrap();
        let evil = format!("{}!", "a".repeat(50_000));
        assert_eq!(violations(&validator, &json!(evil)).len(), 1);
    }
}
