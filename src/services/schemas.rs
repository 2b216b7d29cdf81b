//! Tenant-supplied payload schemas. Tenants are untrusted: no network or file resolving,
//! remote `$ref` refused, formats validated, linear-time regexes with bounded size, and a
//! cap on the schema's size. Draft 2020-12 by default, Draft 7 via `$schema`.
//!
//! Cost budget. A 64 KiB schema can hold a couple of thousand regular expressions, each
//! compiling to about a megabyte (`\p{L}{20}\w{30}`): seconds of CPU and gigabytes of memory.
//! Before jsonschema compiles anything, [`compile`] finds every regex it will compile
//! ([`MAX_PATTERNS`]), measures each as jsonschema will build it ([`MAX_PATTERN_BYTES`]) and
//! their sum ([`MAX_TOTAL_PATTERN_BYTES`]); [`compile_bounded`] runs all of it on the blocking
//! pool under [`COMPILE_DEADLINE`]. Refusals name the limit and point at the regex.

use std::{collections::HashSet, time::Duration};

use jsonschema::{Draft, PatternOptions, Validator};
use jsonschema_regex::Search;
use regex_automata::{meta, util::syntax, MatchKind};
use serde_json::Value;

use crate::{
    domain::{FieldError, SchemaValidation},
    error::AppError,
};

/// Largest schema accepted, in bytes of compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Most distinct regular expressions a schema may hold: `pattern` values and
/// `patternProperties` keys. Each distinct text counts once, as jsonschema compiles it once.
pub const MAX_PATTERNS: usize = 100;

/// Most memory one regex may compile to, in bytes. The pre-pass refuses a regex whose
/// automaton outgrows it, and jsonschema gets the same figure as the engine's `size_limit`
/// (the automaton) and `dfa_size_limit` (the lazy DFA's cache, filled while matching), so
/// the two refuse the same regexes.
pub const MAX_PATTERN_BYTES: usize = 512 * 1024;

/// Most memory all the regexes of a schema may compile to together, in bytes (the sum of
/// what each compiled regex reports as its memory usage).
pub const MAX_TOTAL_PATTERN_BYTES: usize = 4 * 1024 * 1024;

/// How long [`compile_bounded`] waits for a schema to be checked and compiled.
pub const COMPILE_DEADLINE: Duration = Duration::from_secs(2);

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

/// Why a schema was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The schema breaks JSON Schema (or our rules: remote `$ref`, unknown `$schema`).
    Invalid(Vec<FieldError>),
    /// The schema is over a cost limit: its size, its regexes, or the compile deadline.
    /// Each message names the limit and its value.
    OverBudget(Vec<FieldError>),
}

impl Refusal {
    pub fn into_errors(self) -> Vec<FieldError> {
        match self {
            Refusal::Invalid(errors) | Refusal::OverBudget(errors) => errors,
        }
    }

    /// The API's 400 for a refused `what` ("payload schema"); over budget, the message
    /// also names the limit.
    pub fn into_app_error(self, what: &str) -> AppError {
        match self {
            Refusal::Invalid(details) => AppError::Invalid {
                message: format!("invalid {what}"),
                details,
            },
            Refusal::OverBudget(details) => AppError::Invalid {
                message: match details.first() {
                    Some(first) => format!("{what} over a cost limit: {}", first.message),
                    None => format!("{what} over a cost limit"),
                },
                details,
            },
        }
    }
}

/// Checks a schema and builds its validator; errors locate the problem inside the schema.
/// Synchronous and CPU-bound (bounded by the cost budget): async callers use
/// [`compile_bounded`].
pub fn compile(schema: &Value) -> Result<Validator, Vec<FieldError>> {
    check(schema).map_err(Refusal::into_errors)
}

/// [`compile`] on the blocking pool, given up after [`COMPILE_DEADLINE`].
pub async fn compile_bounded(schema: Value) -> Result<Validator, Vec<FieldError>> {
    check_bounded(schema).await.map_err(Refusal::into_errors)
}

/// What "validate without saving" answers, for both doors (REST and server function): the
/// schema's problems as a `SchemaValidation`, or a 400 when it is over a cost limit.
pub async fn validation(schema: Value) -> Result<SchemaValidation, AppError> {
    let errors = match check_bounded(schema).await {
        Ok(_) => Vec::new(),
        Err(Refusal::Invalid(errors)) => errors,
        Err(over @ Refusal::OverBudget(_)) => return Err(over.into_app_error("schema")),
    };
    Ok(SchemaValidation {
        valid: errors.is_empty(),
        errors,
    })
}

/// [`check`] on the blocking pool, given up after [`COMPILE_DEADLINE`]: the async workers
/// never compile a tenant's regexes themselves.
pub async fn check_bounded(schema: Value) -> Result<Validator, Refusal> {
    let task = tokio::task::spawn_blocking(move || check(&schema));
    match tokio::time::timeout(COMPILE_DEADLINE, task).await {
        Ok(Ok(outcome)) => outcome,
        // A panic in the compiler stays a panic, as it would be when called directly.
        Ok(Err(join)) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Ok(Err(_)) => Err(Refusal::OverBudget(problem(
            "",
            "the schema's compilation was cancelled",
        ))),
        // A blocking task cannot be stopped: the thread runs `check` to its end, which the
        // budget above bounds (a fraction of a second and a few MiB of regexes on a normal
        // machine); the deadline only keeps the request from waiting on a starved pool.
        Err(_elapsed) => Err(Refusal::OverBudget(problem(
            "",
            format!(
                "the schema took too long to compile: the limit is {} s (COMPILE_DEADLINE)",
                COMPILE_DEADLINE.as_secs_f32()
            ),
        ))),
    }
}

/// Checks a schema, its cost first, and builds its validator.
pub fn check(schema: &Value) -> Result<Validator, Refusal> {
    let size = serde_json::to_vec(schema).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_SCHEMA_BYTES {
        return Err(Refusal::OverBudget(problem(
            "",
            format!("schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}"),
        )));
    }
    if !(schema.is_object() || schema.is_boolean()) {
        return Err(Refusal::Invalid(problem(
            "",
            "a schema must be a JSON object (or a boolean)",
        )));
    }
    let draft = match schema.get("$schema") {
        None => Draft::Draft202012,
        Some(Value::String(uri)) if DRAFT_2020_12.contains(&uri.as_str()) => Draft::Draft202012,
        Some(Value::String(uri)) if DRAFT_7.contains(&uri.as_str()) => Draft::Draft7,
        Some(other) => {
            return Err(Refusal::Invalid(problem(
                "/$schema",
                format!("unsupported $schema {other}: use Draft 2020-12 (the default) or Draft 7"),
            )))
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
        return Err(Refusal::Invalid(problems));
    }
    check_regex_budget(schema).map_err(Refusal::OverBudget)?;
    jsonschema::options()
        .with_draft(draft)
        .should_validate_formats(true)
        .offline()
        .with_pattern_options(
            PatternOptions::regex()
                .size_limit(MAX_PATTERN_BYTES)
                .dfa_size_limit(MAX_PATTERN_BYTES),
        )
        .build(schema)
        .map_err(|err| {
            let message = err.to_string();
            let message = if message.contains("Offline") || message.contains("retriev") {
                format!("remote or unresolvable $ref refused: {message}")
            } else {
                message
            };
            Refusal::Invalid(problem(&err.schema_path().to_string(), message))
        })
}

/// Refuses a schema whose regexes are too many or compile too big, before jsonschema
/// compiles any: counting first (no compiling), then measuring one by one, stopping at the
/// first limit crossed.
fn check_regex_budget(schema: &Value) -> Result<(), Vec<FieldError>> {
    let regexes = regexes(schema);
    if let Some(extra) = regexes.get(MAX_PATTERNS) {
        return Err(problem(
            &extra.at,
            format!(
                "the schema has {} distinct regular expressions (`pattern` values and \
                 `patternProperties` names); the limit is {MAX_PATTERNS} (MAX_PATTERNS)",
                regexes.len()
            ),
        ));
    }
    let mut total: usize = 0;
    for regex in &regexes {
        let Some(size) = compiled_size(regex.text) else {
            return Err(problem(
                &regex.at,
                format!(
                    "this regular expression compiles to more than {MAX_PATTERN_BYTES} bytes, \
                     the limit for one (MAX_PATTERN_BYTES); use smaller counted repetitions \
                     ({{n}}) of Unicode classes"
                ),
            ));
        };
        total = total.saturating_add(size);
        if total > MAX_TOTAL_PATTERN_BYTES {
            return Err(problem(
                &regex.at,
                format!(
                    "the schema's regular expressions compile to more than \
                     {MAX_TOTAL_PATTERN_BYTES} bytes together, the limit for a schema \
                     (MAX_TOTAL_PATTERN_BYTES); this one crosses it"
                ),
            ));
        }
    }
    Ok(())
}

/// The memory `pattern` compiles to, in bytes, built the way jsonschema builds it: ECMA-262
/// translated by jsonschema's own translator, its shortcuts taken (`^X{m,n}$` over one class
/// needs no regex; counts at an edge collapse to their minimum), then the `regex` crate's
/// engine with its settings and our size limit. `None` when over [`MAX_PATTERN_BYTES`].
///
/// A pattern this cannot read is not refused here: it counts as a full [`MAX_PATTERN_BYTES`]
/// and jsonschema reports what is wrong with it.
fn compiled_size(pattern: &str) -> Option<usize> {
    let Ok(translated) = jsonschema_regex::to_rust_regex(pattern) else {
        return Some(MAX_PATTERN_BYTES);
    };
    let collapsed;
    let engine_input: &str = match jsonschema_regex::search_form(pattern, &translated) {
        Some(Search::RepeatedClass(_)) => return Some(pattern.len()),
        Some(Search::Collapsed(text)) => {
            collapsed = text;
            &collapsed
        }
        None => &translated,
    };
    // As `regex::RegexBuilder::new(..).size_limit(..).dfa_size_limit(..).build()`.
    let config = meta::Config::new()
        .match_kind(MatchKind::LeftmostFirst)
        .utf8_empty(true)
        .nfa_size_limit(Some(MAX_PATTERN_BYTES))
        .hybrid_cache_capacity(MAX_PATTERN_BYTES);
    match meta::Builder::new()
        .configure(config)
        .syntax(syntax::Config::new().utf8(true))
        .build(engine_input)
    {
        Ok(regex) => Some(regex.memory_usage()),
        Err(err) if err.size_limit().is_some() => None,
        Err(_) => Some(MAX_PATTERN_BYTES),
    }
}

/// One regular expression of a schema, where it first appears (JSON pointer).
#[derive(Debug)]
struct Found<'a> {
    at: String,
    text: &'a str,
}

/// Keywords whose value is a subschema, or an array of subschemas (`items` in Draft 7).
const IN_PLACE: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "contains",
    "contentSchema",
    "else",
    "if",
    "items",
    "not",
    "oneOf",
    "prefixItems",
    "propertyNames",
    "then",
    "unevaluatedItems",
    "unevaluatedProperties",
];

/// Keywords whose value maps names to subschemas (`dependencies` also to name arrays).
const BY_NAME: &[&str] = &[
    "$defs",
    "definitions",
    "dependencies",
    "dependentSchemas",
    "patternProperties",
    "properties",
];

/// The distinct regexes jsonschema may compile for `schema`, in document order.
///
/// `pattern` is a keyword only in a schema, so the walk follows the keywords that hold
/// subschemas: a property named "pattern", or `{"pattern": …}` inside `enum`, `const`,
/// `default` or `examples`, is data and not counted. But a `$ref` may point anywhere, so:
/// a `#/json-pointer` reference is followed (against the document and against every object
/// with an `$id`, wherever the base may be) and its target walked as a schema; any other
/// reference (an `$anchor`, an `$id` URI, a pointer into another resource) makes the walk
/// count every `pattern` string and every `patternProperties` object in the whole document,
/// data included: an over-approximation (jsonschema 0.61 registers anchors and `$id`s only
/// where schemas are, but the walk does not rely on that), so such a schema may be refused
/// for a "pattern" it never compiles.
fn regexes(schema: &Value) -> Vec<Found<'_>> {
    let mut walk = Walk::default();
    walk.schemas.push((schema, String::new()));
    let mut resources: Option<Vec<(&Value, String)>> = None;
    let mut everything = false;
    loop {
        walk.run();
        if walk.refs.is_empty() {
            break;
        }
        for reference in std::mem::take(&mut walk.refs) {
            let pointer = match reference.split_once('#') {
                Some(("", "")) => continue,
                Some(("", fragment)) if fragment.starts_with('/') => percent_decode(fragment),
                _ => {
                    everything = true;
                    continue;
                }
            };
            let resources = resources.get_or_insert_with(|| {
                every_value(schema, |value| {
                    value.get("$id").is_some_and(Value::is_string)
                })
            });
            let mut roots = vec![(schema, String::new())];
            roots.extend(resources.iter().cloned());
            for (root, at) in roots {
                if let Some(target) = root.pointer(&pointer) {
                    walk.schemas.push((target, format!("{at}{pointer}")));
                }
            }
        }
    }
    if everything {
        for (object, at) in every_value(schema, Value::is_object) {
            walk.keywords_of(object, &at);
        }
    }
    walk.found
}

#[derive(Default)]
struct Walk<'a> {
    found: Vec<Found<'a>>,
    distinct: HashSet<&'a str>,
    /// Schemas already walked, by address: each is walked once, whatever points at it.
    walked: HashSet<*const Value>,
    /// Schemas still to walk, with their location; the last is walked next.
    schemas: Vec<(&'a Value, String)>,
    /// `$ref`-like references met and not yet followed.
    refs: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn run(&mut self) {
        while let Some((schema, at)) = self.schemas.pop() {
            let Value::Object(object) = schema else {
                continue;
            };
            if !self.walked.insert(schema as *const Value) {
                continue;
            }
            self.keywords_of(schema, &at);
            for keyword in ["$ref", "$dynamicRef", "$recursiveRef"] {
                if let Some(Value::String(reference)) = object.get(keyword) {
                    self.refs.push(reference);
                }
            }
            // Pushed in reverse so that they are walked in document order.
            let mut children = Vec::new();
            for (keyword, value) in object {
                let here = format!("{at}/{}", escape(keyword));
                if IN_PLACE.contains(&keyword.as_str()) {
                    match value {
                        Value::Array(items) => children.extend(
                            items
                                .iter()
                                .enumerate()
                                .map(|(i, item)| (item, format!("{here}/{i}"))),
                        ),
                        other => children.push((other, here)),
                    }
                } else if BY_NAME.contains(&keyword.as_str()) {
                    if let Value::Object(named) = value {
                        children.extend(
                            named
                                .iter()
                                .map(|(name, item)| (item, format!("{here}/{}", escape(name)))),
                        );
                    }
                }
            }
            self.schemas.extend(children.into_iter().rev());
        }
    }

    /// The regexes `object`'s own keywords hold, were it a schema.
    fn keywords_of(&mut self, object: &'a Value, at: &str) {
        if let Some(Value::String(pattern)) = object.get("pattern") {
            self.add(pattern, || format!("{at}/pattern"));
        }
        if let Some(Value::Object(patterns)) = object.get("patternProperties") {
            for name in patterns.keys() {
                self.add(name, || format!("{at}/patternProperties/{}", escape(name)));
            }
        }
    }

    fn add(&mut self, text: &'a str, at: impl FnOnce() -> String) {
        if self.distinct.insert(text) {
            self.found.push(Found { at: at(), text });
        }
    }
}

/// Every value of `document` that `keep` selects, with its location, in document order.
fn every_value(document: &Value, keep: impl Fn(&Value) -> bool) -> Vec<(&Value, String)> {
    let mut out = Vec::new();
    let mut stack = vec![(document, String::new())];
    while let Some((value, at)) = stack.pop() {
        let children: Vec<(&Value, String)> = match value {
            Value::Object(object) => object
                .iter()
                .map(|(key, child)| (child, format!("{at}/{}", escape(key))))
                .collect(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, child)| (child, format!("{at}/{i}")))
                .collect(),
            _ => Vec::new(),
        };
        if keep(value) {
            out.push((value, at));
        }
        stack.extend(children.into_iter().rev());
    }
    out
}

/// A name as a JSON pointer token.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// `%XX` escapes of a URI fragment decoded (others left as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

    /// A `patternProperties` object of `count` distinct regexes `{stem}{i}`.
    fn many_patterns(stem: &str, count: usize) -> Value {
        let patterns: serde_json::Map<String, Value> = (0..count)
            .map(|i| (format!("{stem}{i}"), json!(true)))
            .collect();
        json!({"type": "object", "patternProperties": patterns})
    }

    fn over_budget(schema: &Value) -> Vec<FieldError> {
        match check(schema) {
            Err(Refusal::OverBudget(errors)) => errors,
            other => panic!("expected a cost refusal, got {other:?}"),
        }
    }

    #[test]
    fn more_than_max_patterns_are_refused_naming_the_limit() {
        let properties: serde_json::Map<String, Value> = (0..=MAX_PATTERNS)
            .map(|i| {
                (
                    format!("p{i:03}"),
                    json!({"type": "string", "pattern": format!("^a{i}$")}),
                )
            })
            .collect();
        let errors = over_budget(&json!({"type": "object", "properties": properties}));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "/properties/p100/pattern");
        assert!(errors[0].message.contains("MAX_PATTERNS"), "{errors:?}");
        assert!(
            errors[0].message.contains(&MAX_PATTERNS.to_string()),
            "{errors:?}"
        );
        // The very costly one: 1,800 regexes, refused by counting, before compiling any.
        let started = std::time::Instant::now();
        let errors = over_budget(&many_patterns(r"\p{L}{20}\w{30}", 1800));
        assert!(errors[0].message.contains("MAX_PATTERNS"), "{errors:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_regex_repeated_is_compiled_and_counted_once() {
        let properties: serde_json::Map<String, Value> = (0..3 * MAX_PATTERNS)
            .map(|i| (format!("p{i}"), json!({"pattern": "^[a-z]+$"})))
            .collect();
        compile(&json!({"properties": properties})).unwrap();
    }

    #[test]
    fn regexes_over_the_total_budget_are_refused_naming_it() {
        // Each about 200 KB compiled: under the limit for one, over the total by the 22nd.
        let errors = over_budget(&many_patterns(r"\p{L}{4}\w{30}", 40));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.contains("MAX_TOTAL_PATTERN_BYTES")
                && errors[0]
                    .message
                    .contains(&MAX_TOTAL_PATTERN_BYTES.to_string()),
            "{errors:?}"
        );
        assert!(
            errors[0]
                .path
                .starts_with(r"/patternProperties/\p{L}{4}\w{30}"),
            "{errors:?}"
        );
    }

    #[test]
    fn one_regex_over_its_limit_is_refused_naming_it() {
        let errors = over_budget(&json!({
            "properties": {"name": {"type": "string", "pattern": r"\p{L}{20}\w{30}"}}
        }));
        assert_eq!(errors[0].path, "/properties/name/pattern");
        assert!(
            errors[0].message.contains("MAX_PATTERN_BYTES")
                && errors[0].message.contains(&MAX_PATTERN_BYTES.to_string()),
            "{errors:?}"
        );
    }

    #[test]
    fn the_pre_pass_and_jsonschema_agree_on_the_limit_for_one_regex() {
        let mut verdicts = HashSet::new();
        for count in 1..16 {
            let pattern = format!(r"\p{{L}}{{{count}}}");
            let ours = compiled_size(&pattern).is_some();
            let theirs = jsonschema::options()
                .with_pattern_options(
                    PatternOptions::regex()
                        .size_limit(MAX_PATTERN_BYTES)
                        .dfa_size_limit(MAX_PATTERN_BYTES),
                )
                .build(&json!({"pattern": pattern}))
                .is_ok();
            assert_eq!(ours, theirs, "{pattern}");
            verdicts.insert(ours);
        }
        assert_eq!(verdicts.len(), 2, "the limit falls inside the range tried");
        assert!(compiled_size(r"\p{L}{3}").is_some());
        assert!(compiled_size(r"\p{L}{20}").is_none());
    }

    #[test]
    fn ordinary_schemas_with_a_few_regexes_still_compile() {
        let validator = compile(&json!({
            "type": "object",
            "properties": {
                "key": {"type": "string", "pattern": "^[A-Z][A-Z0-9]+-[0-9]+$"},
                "name": {"type": "string", "pattern": r"^\p{L}+(\s\p{L}+){0,9}$"},
                "day": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "note": {"type": "string", "pattern": r"^[\s\S]{0,1000}$"},
                "labels": {"type": "object", "patternProperties": {r"^\w{1,64}$": {"type": "string"}}}
            }
        }))
        .unwrap();
        assert!(violations(
            &validator,
            &json!({"key": "OPS-42", "name": "Zoë Ünal", "day": "2026-01-01"})
        )
        .is_empty());
        assert_eq!(violations(&validator, &json!({"key": "ops"})).len(), 1);
    }

    #[test]
    fn ecma_only_syntax_is_left_to_jsonschema() {
        // `\c` control escapes are ECMA-262, not Rust: jsonschema translates them.
        assert!(regex_automata::meta::Regex::new(r"^\cJ$").is_err());
        let validator = compile(&json!({"pattern": r"^\cJ$"})).unwrap();
        assert!(violations(&validator, &json!("\n")).is_empty());
        // What no engine here reads is jsonschema's to refuse, as an invalid schema.
        assert_eq!(compiled_size("(?<=a)b"), Some(MAX_PATTERN_BYTES));
        match check(&json!({"pattern": "(?<=a)b"})) {
            Err(Refusal::Invalid(errors)) => assert_eq!(errors[0].path, "/pattern"),
            other => panic!("expected jsonschema's refusal, got {other:?}"),
        }
    }

    #[test]
    fn pattern_is_counted_where_it_is_a_keyword() {
        let data: Vec<Value> = (0..=MAX_PATTERNS)
            .map(|i| json!({"pattern": format!("^a{i}$"), "patternProperties": {format!("^b{i}$"): {}}}))
            .collect();
        // Data, not schemas: property names, enum, const, default and examples values.
        let schema = json!({
            "properties": {"pattern": {"type": "string"}, "patternProperties": {"type": "object"}},
            "enum": data, "const": data, "default": data, "examples": [data]
        });
        assert!(regexes(&schema).is_empty());
        compile(&schema).unwrap();
        // Every place that holds a subschema counts, nested anywhere.
        let nested = json!({
            "$defs": {"a": {"pattern": "^1$"}},
            "items": {"not": {"anyOf": [{"pattern": "^2$"}]}},
            "dependentSchemas": {"x": {"propertyNames": {"pattern": "^3$"}}},
            "properties": {"p": {"patternProperties": {"^4$": {"pattern": "^5$"}}}},
            "if": {"pattern": "^6$"}
        });
        let mut found: Vec<&str> = regexes(&nested).iter().map(|r| r.text).collect();
        found.sort_unstable();
        assert_eq!(found, ["^1$", "^2$", "^3$", "^4$", "^5$", "^6$"]);
    }

    #[test]
    fn a_ref_into_data_makes_its_patterns_count() {
        let data: Vec<Value> = (0..=MAX_PATTERNS)
            .map(|i| json!({"pattern": format!("^a{i}$")}))
            .collect();
        let items: Vec<Value> = (0..=MAX_PATTERNS)
            .map(|i| json!({"$ref": format!("#/examples/0/{i}")}))
            .collect();
        // jsonschema compiles what a JSON pointer reaches, data or not: here a regex it
        // refuses, which it would not see unless it compiled the example.
        let regex_engine = || {
            jsonschema::options()
                .with_pattern_options(PatternOptions::regex().size_limit(MAX_PATTERN_BYTES))
        };
        assert!(regex_engine()
            .build(&json!({"examples": [{"pattern": "(?<=a)b"}]}))
            .is_ok());
        assert!(regex_engine()
            .build(&json!({"examples": [{"pattern": "(?<=a)b"}], "$ref": "#/examples/0"}))
            .is_err());
        let schema = json!({"examples": [data], "allOf": items});
        let errors = over_budget(&schema);
        assert!(errors[0].message.contains("MAX_PATTERNS"), "{errors:?}");
        assert_eq!(
            regexes(&json!({"const": {"pattern": "^x$"}, "$ref": "#/const"})).len(),
            1
        );
        // Percent-encoded, and inside an embedded resource.
        assert_eq!(
            regexes(&json!({"$defs": {"a b": {"$id": "urn:x", "k": {"pattern": "^y$"}}}, "$ref": "#/%6B"}))
                .len(),
            1
        );
        // An anchor or a URI: counted everywhere, data included.
        let anchored = json!({"$ref": "#here", "const": {"pattern": "^z$"}});
        assert_eq!(regexes(&anchored).len(), 1);
    }

    #[tokio::test]
    async fn compile_bounded_compiles_off_the_runtime_and_refuses_the_costly() {
        let validator = compile_bounded(json!({"type": "string", "pattern": "^a+$"}))
            .await
            .unwrap();
        assert!(violations(&validator, &json!("aaa")).is_empty());
        let errors = compile_bounded(many_patterns(r"\p{L}{20}\w{30}", 1800))
            .await
            .unwrap_err();
        assert!(errors[0].message.contains("MAX_PATTERNS"), "{errors:?}");
        let refusal = check_bounded(many_patterns(r"\p{L}{4}\w{30}", 40))
            .await
            .unwrap_err();
        assert!(matches!(refusal, Refusal::OverBudget(_)));
    }

    #[test]
    fn catastrophic_regexes_cannot_backtrack() {
        let validator = compile(&json!({"type": "string", "pattern": "^(a+)+$"})).unwrap();
        let evil = format!("{}!", "a".repeat(50_000));
        assert_eq!(violations(&validator, &json!(evil)).len(), 1);
    }
}
