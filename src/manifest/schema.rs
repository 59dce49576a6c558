//! The manifest's JSON Schema: generated from [`crate::manifest::model::Manifest`] (schemars),
//! committed as `schema/mpctl.schema.json` for editors, and used to validate every manifest file
//! (the `jsonschema` crate) before it is deserialised, so that each problem is reported with a
//! JSON pointer that [`crate::manifest::yaml::SpanIndex`] maps back to the YAML source.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::diagnostic_code::Code;
use crate::manifest::model::Manifest;
use crate::manifest::yaml::escape_pointer_segment;

/// The manifest's JSON Schema (draft 2020-12).
pub fn manifest_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(Manifest)).unwrap_or(Value::Null)
}

/// The schema as committed in `schema/mpctl.schema.json`: pretty-printed, newline-terminated.
pub fn manifest_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&manifest_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of a manifest *part*: a file of a multi-file manifest without `version`, which
/// joins the manifest in its directory. The same fields, none required, so that editors accept
/// parts (`schema/mpctl-part.schema.json`).
pub fn part_schema() -> Value {
    let mut schema = manifest_schema();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("required");
        obj.insert(
            "$id".into(),
            "https://mpctl.dev/schema/mpctl-part.schema.json".into(),
        );
        obj.insert("title".into(), "mpctl manifest part".into());
        obj.insert(
            "description".into(),
            "A part of a multi-file manifest: a file without `version` that joins the manifest (the file with `version`) in its directory or above. It may hold any of the manifest's fields; the merged manifest must have `version` and `organization`.".into(),
        );
    }
    schema
}

/// The part schema as committed in `schema/mpctl-part.schema.json`.
pub fn part_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&part_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// A schema violation, located by JSON pointer into the checked document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The node the problem is about.
    pub pointer: String,
    /// Underline the node's key (a field name) rather than its value.
    pub at_key: bool,
    /// Diagnostic code, e.g. `mpctl::manifest::schema::unknown_field`.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// How to fix it (with a "did you mean" where one fits).
    pub help: String,
}

struct Validators {
    schema: Value,
    whole: Validator,
    part: Validator,
}

fn validators() -> Option<&'static Validators> {
    static VALIDATORS: OnceLock<Option<Validators>> = OnceLock::new();
    VALIDATORS
        .get_or_init(|| {
            let schema = manifest_schema();
            let whole = jsonschema::validator_for(&schema).ok()?;
            let part = jsonschema::validator_for(&part_schema()).ok()?;
            Some(Validators {
                schema,
                whole,
                part,
            })
        })
        .as_ref()
}

/// Whether `name` is a top-level field of a manifest.
pub fn is_manifest_field(name: &str) -> bool {
    validators()
        .and_then(|v| v.schema.get("properties"))
        .and_then(Value::as_object)
        .is_some_and(|fields| fields.contains_key(name))
}

/// Checks one manifest file. A `part` (a file of a multi-file manifest without `version`) need
/// not have the top-level required fields.
pub fn check(document: &Value, part: bool) -> Vec<SchemaProblem> {
    let Some(v) = validators() else {
        return vec![SchemaProblem {
            pointer: String::new(),
            at_key: false,
            code: Code::SchemaInternal,
            message: "the manifest schema failed to compile".into(),
            help: "this is a bug in mpctl; please report it".into(),
        }];
    };
    let validator = if part { &v.part } else { &v.whole };
    let mut problems = Vec::new();
    for error in validator.iter_errors(document) {
        problems.extend(explain(&v.schema, &error));
    }
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems.dedup();
    problems
}

fn explain(schema: &Value, error: &ValidationError<'_>) -> Vec<SchemaProblem> {
    let pointer = error.instance_path().as_str().to_owned();
    let instance = error.instance();
    let field = last_segment(&pointer);
    let problem = |code, at_key, message: String, help: String| SchemaProblem {
        pointer: pointer.clone(),
        at_key,
        code,
        message,
        help,
    };
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let known = known_properties(schema, error.evaluation_path().as_str());
            unexpected
                .iter()
                .map(|name| {
                    let help = match did_you_mean(name, &known) {
                        _ if name == "<<" => {
                            "YAML 1.2 has no merge keys (`<<`): write the fields out".into()
                        }
                        Some(s) => format!("did you mean `{s}`?"),
                        None if known.is_empty() => "remove it".into(),
                        None => format!("remove it; the fields here are: {}", known.join(", ")),
                    };
                    SchemaProblem {
                        pointer: format!("{pointer}/{}", escape_pointer_segment(name)),
                        at_key: true,
                        code: Code::SchemaUnknownField,
                        message: format!("unknown field `{}`", crate::manifest::sniff::clip(name)),
                        help,
                    }
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let at = if pointer.is_empty() {
                "the manifest".to_owned()
            } else {
                format!("`{}`", describe(&pointer))
            };
            vec![problem(
                Code::SchemaMissingField,
                !pointer.is_empty(),
                format!("{at} is missing the required field `{name}`"),
                required_help(name),
            )]
        }
        ValidationErrorKind::Type { kind } => {
            vec![type_problem(&pointer, &type_name(kind), instance)]
        }
        ValidationErrorKind::Enum { options } => {
            let allowed: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            vec![enum_problem(&pointer, instance, &allowed)]
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            vec![problem(
                Code::SchemaRange,
                false,
                format!("`{field}` is {}, below the minimum {limit}", show(instance)),
                format!("use a value of at least {limit}"),
            )]
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            let help = if pointer == "/version" {
                "this mpctl reads manifest version 1: set `version: 1`".to_owned()
            } else {
                format!("use a value of at most {limit}")
            };
            vec![problem(
                Code::SchemaRange,
                false,
                format!("`{field}` is {}, above the maximum {limit}", show(instance)),
                help,
            )]
        }
        ValidationErrorKind::Pattern { pattern } if pattern == ORGNO_PATTERN => {
            vec![orgno_problem(&pointer, false, instance)]
        }
        ValidationErrorKind::Pattern { pattern } => vec![problem(
            Code::SchemaPattern,
            false,
            format!(
                "{} does not have the form `{}` needs",
                show(instance),
                describe(&pointer)
            ),
            pattern_help(pattern),
        )],
        ValidationErrorKind::PropertyNames { error } => {
            let key = error.instance();
            let name = key.as_str().unwrap_or_default();
            vec![orgno_problem(
                &format!("{pointer}/{}", escape_pointer_segment(name)),
                true,
                key,
            )]
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let mut leaves = Vec::new();
            for errs in context {
                for e in errs {
                    collect_leaves(e, &mut leaves);
                }
            }
            let consts: Vec<String> = leaves
                .iter()
                .filter_map(|e| match e.kind() {
                    ValidationErrorKind::Constant { expected_value } => {
                        expected_value.as_str().map(str::to_owned)
                    }
                    _ => None,
                })
                .collect();
            let only_types_and_consts = leaves.iter().all(|e| {
                matches!(
                    e.kind(),
                    ValidationErrorKind::Type { .. } | ValidationErrorKind::Constant { .. }
                )
            });
            // An organisation number (a string or an unquoted integer): say what is wrong with
            // the number, whichever alternative got further.
            let orgno = leaves.iter().any(|e| {
                matches!(e.kind(), ValidationErrorKind::Pattern { pattern } if pattern == ORGNO_PATTERN)
            });
            if orgno && (instance.is_string() || instance.is_number()) {
                return vec![orgno_problem(&pointer, false, instance)];
            }
            if only_types_and_consts && !consts.is_empty() {
                return vec![enum_problem(&pointer, instance, &consts)];
            }
            // Report the alternative that got furthest: not a mere type mismatch, with the
            // deepest errors, then the fewest. "Matches none of" becomes the concrete problem.
            let best = context
                .iter()
                .filter(|errs| !errs.is_empty() && !errs.iter().all(is_type_mismatch))
                .min_by_key(|errs| {
                    let depth = errs.iter().map(error_depth).max().unwrap_or(0);
                    (usize::MAX - depth, errs.len())
                });
            match best {
                Some(errs) => errs.iter().flat_map(|e| explain(schema, e)).collect(),
                None => {
                    let expected = expected_of_leaves(&leaves);
                    vec![type_problem(&pointer, &expected, instance)]
                }
            }
        }
        _ => vec![problem(
            Code::SchemaInvalid,
            false,
            format!(
                "`{}` is invalid: {}",
                describe(&pointer),
                // The validator's text quotes the whole value: quote only its short prefix.
                error
                    .to_string()
                    .replace(&instance.to_string(), &show(instance))
            ),
            "see the manifest reference in docs/manifest.md".into(),
        )],
    }
}

fn collect_leaves<'a>(
    error: &'a ValidationError<'static>,
    out: &mut Vec<&'a ValidationError<'static>>,
) {
    match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            for e in context.iter().flatten() {
                collect_leaves(e, out);
            }
        }
        _ => out.push(error),
    }
}

fn is_type_mismatch(error: &ValidationError<'static>) -> bool {
    let mut leaves = Vec::new();
    collect_leaves(error, &mut leaves);
    leaves
        .iter()
        .all(|e| matches!(e.kind(), ValidationErrorKind::Type { .. }))
}

/// How deep into the instance an error is; an unknown field counts as one level below.
fn error_depth(error: &ValidationError<'_>) -> usize {
    let depth = error.instance_path().as_str().matches('/').count();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { .. } | ValidationErrorKind::Required { .. } => {
            depth + 1
        }
        _ => depth,
    }
}

fn type_name(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .filter(|t| t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn expected_of_leaves(leaves: &[&ValidationError<'static>]) -> String {
    let mut kinds: Vec<String> = Vec::new();
    for e in leaves {
        if let ValidationErrorKind::Type { kind } = e.kind() {
            let name = type_name(kind);
            if name != "null" && !kinds.contains(&name) {
                kinds.push(name);
            }
        }
    }
    if kinds.is_empty() {
        "a different value".into()
    } else {
        kinds.join(" or ")
    }
}

fn enum_problem(pointer: &str, instance: &Value, allowed: &[String]) -> SchemaProblem {
    let field = last_segment(pointer);
    let listed = allowed
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = match instance.as_str().and_then(|s| did_you_mean(s, allowed)) {
        Some(s) => format!("did you mean `{s}`? allowed: {listed}"),
        None => format!("use one of {listed}"),
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        at_key: false,
        code: Code::SchemaEnum,
        message: format!("{} is not an allowed value of `{field}`", show(instance)),
        help,
    }
}

fn type_problem(pointer: &str, expected: &str, instance: &Value) -> SchemaProblem {
    let field = last_segment(pointer);
    let mut help = format!("write {} here", article(expected));
    if pointer.is_empty() && instance.is_null() {
        help = "the file is empty: a manifest starts with `version: 1` and `organization:`".into();
    }
    if expected.contains("boolean")
        && let Some(s) = instance.as_str()
        && matches!(
            s.to_ascii_lowercase().as_str(),
            "yes" | "no" | "on" | "off" | "y" | "n"
        )
    {
        help =
            format!("YAML 1.2 reads `{s}` as a string: the only booleans are `true` and `false`");
    } else if expected.contains("string") && (instance.is_number() || instance.is_boolean()) {
        help = format!(
            "quote the value to make it a string: \"{}\"",
            crate::manifest::sniff::clip(&instance.to_string())
        );
    } else if expected == "array" && instance.is_object() {
        help = format!("write a list: each entry of `{field}` on its own line, starting with `- `");
    } else if expected == "array" && !instance.is_array() {
        help = format!("write a list, e.g. `{field}: [{}]`", show_plain(instance));
    }
    SchemaProblem {
        pointer: pointer.to_owned(),
        // A block mapping or list starts on the line below its key: underline the key.
        at_key: instance.is_object() || instance.is_array(),
        code: Code::SchemaType,
        message: format!(
            "`{field}` must be {}, found {}",
            article(expected),
            kind_of(instance)
        ),
        help,
    }
}

fn article(kind: &str) -> String {
    match kind {
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "string" => "a string".into(),
        "integer" => "an integer".into(),
        "number" => "a number".into(),
        "boolean" => "`true` or `false`".into(),
        other => other
            .replace("object", "a mapping")
            .replace("array", "a list"),
    }
}

fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string \"{}\"", crate::manifest::sniff::clip(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{}`", crate::manifest::sniff::clip(s)),
        other => format!("`{}`", crate::manifest::sniff::clip(&other.to_string())),
    }
}

fn show_plain(value: &Value) -> String {
    match value {
        Value::String(s) => crate::manifest::sniff::clip(s),
        Value::Null => String::new(),
        other => crate::manifest::sniff::clip(&other.to_string()),
    }
}

fn last_segment(pointer: &str) -> String {
    let seg = pointer.rsplit('/').next().unwrap_or_default();
    let seg = seg.replace("~1", "/").replace("~0", "~");
    if seg.is_empty() {
        "manifest".into()
    } else {
        seg
    }
}

/// A readable path: `/scopes/0/grants/1` → `scopes[0].grants[1]`.
pub fn describe(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() {
        "manifest".into()
    } else {
        out
    }
}

fn required_help(name: &str) -> String {
    match name {
        "version" => "add `version: 1` at the top of the file".into(),
        "organization" => {
            "add `organization: \"<9-digit organisation number>\"`, the organisation the manifest acts for".into()
        }
        "name" => "add `name:`; a scope's name is `prefix:subscope`, a client's its client_name".into(),
        "description" => "add `description:`, the text consumers see".into(),
        "org" => "add `org: \"<9-digit organisation number>\"`".into(),
        "path" => "add `path:`, the key file relative to this manifest".into(),
        "email" => "add `email:`, where invoices go".into(),
        other => format!("add `{other}:`"),
    }
}

/// The pattern of an organisation number in the schema (see [`crate::manifest::orgno::OrgNo`]).
const ORGNO_PATTERN: &str = "^[0-9]{9}$";

/// An organisation number of the wrong form, said as what is wrong with it (its length, or a
/// character that is not a digit) rather than as a pattern.
fn orgno_problem(pointer: &str, at_key: bool, instance: &Value) -> SchemaProblem {
    let text = match instance {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let message = match crate::manifest::orgno::OrgNo::new_unchecked(text.clone()).check() {
        Err(e) => format!("invalid organisation number: {e}"),
        Ok(()) => format!("invalid organisation number `{text}`"),
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        at_key,
        code: Code::OrgnoFormat,
        message,
        help: pattern_help(ORGNO_PATTERN),
    }
}

fn pattern_help(pattern: &str) -> String {
    match pattern {
        "^[0-9]{9}$" => "an organisation number has exactly 9 digits, e.g. \"974760673\"".into(),
        r"^\d{4}-\d{2}-\d{2}$" => "write a date as YYYY-MM-DD, e.g. 2026-01-31".into(),
        other => format!("the value must match the pattern `{other}`"),
    }
}

/// The closest candidate to `name` (Jaro–Winkler ≥ 0.8, or a small edit distance).
pub fn did_you_mean(name: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| {
            *score >= 0.8 || strsim::damerau_levenshtein(name, c) <= name.len().min(c.len()) / 3
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

/// The property names allowed where an `additionalProperties` error was raised, found by
/// walking the schema along the error's evaluation path (following `$ref`s).
fn known_properties(schema: &Value, evaluation_path: &str) -> Vec<String> {
    let mut node = schema;
    let segments: Vec<&str> = evaluation_path.split('/').skip(1).collect();
    let Some((_, parents)) = segments.split_last() else {
        return props(schema);
    };
    for seg in parents {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg == "$ref" {
            let Some(target) = node.get("$ref").and_then(Value::as_str) else {
                return Vec::new();
            };
            let Some(found) = target.strip_prefix('#').and_then(|p| schema.pointer(p)) else {
                return Vec::new();
            };
            node = found;
            continue;
        }
        let next = match node {
            Value::Object(map) => map.get(&seg),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return Vec::new(),
        }
    }
    props(node)
}

fn props(node: &Value) -> Vec<String> {
    node.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(doc: Value) -> Vec<(String, Code, String)> {
        check(&doc, false)
            .into_iter()
            .map(|p| (p.pointer, p.code, p.help))
            .collect()
    }

    #[test]
    fn a_minimal_manifest_is_valid() {
        assert!(check(&json!({"version": 1, "organization": "974760673"}), false).is_empty());
    }

    #[test]
    fn unknown_fields_suggest_the_closest_known_one() {
        let problems = codes(json!({
            "version": 1, "organization": "974760673",
            "scopes": [{"name": "a:b", "descripton": "x"}]
        }));
        assert!(
            problems.contains(&(
                "/scopes/0/descripton".into(),
                Code::SchemaUnknownField,
                "did you mean `description`?".into()
            )),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_required_fields_are_reported_on_their_parent() {
        let problems = codes(json!({"version": 1}));
        assert_eq!(problems[0].0, "");
        assert_eq!(problems[0].1, Code::SchemaMissingField);
    }

    #[test]
    fn yaml_1_1_booleans_get_a_specific_hint() {
        let problems = codes(json!({
            "version": 1, "organization": "974760673", "settings": {"prune": "yes"}
        }));
        assert_eq!(problems[0].0, "/settings/prune");
        assert!(problems[0].2.contains("YAML 1.2"), "{problems:?}");
    }

    #[test]
    fn grants_report_the_concrete_problem_of_the_closest_alternative() {
        let problems = codes(json!({
            "version": 1, "organization": "974760673",
            "scopes": [{"name": "a:b", "description": "x", "grants": [{"org": "974760673", "env": ["test"]}]}]
        }));
        assert!(
            problems
                .iter()
                .any(|p| p.0 == "/scopes/0/grants/0/env" && p.1 == Code::SchemaUnknownField),
            "{problems:?}"
        );
    }

    #[test]
    fn parts_need_no_version() {
        assert!(check(&json!({"scopes": []}), true).is_empty());
        assert!(!check(&json!({"scopes": []}), false).is_empty());
    }

    #[test]
    fn enum_values_suggest() {
        let problems = codes(json!({
            "version": 1, "organization": "974760673",
            "scopes": [{"name": "a:b", "description": "x", "visibility": "PUBLC"}]
        }));
        assert_eq!(problems[0].1, Code::SchemaEnum);
        assert!(problems[0].2.contains("PUBLIC"), "{problems:?}");
    }

    #[test]
    fn merge_keys_are_explained() {
        let problems = codes(json!({"version": 1, "organization": "974760673", "<<": {}}));
        assert_eq!(problems[0].1, Code::SchemaUnknownField);
        assert!(problems[0].2.contains("merge keys"), "{problems:?}");
    }

    #[test]
    fn describe_makes_pointers_readable() {
        assert_eq!(describe("/scopes/0/grants/1"), "scopes[0].grants[1]");
        assert_eq!(describe(""), "manifest");
    }
}
