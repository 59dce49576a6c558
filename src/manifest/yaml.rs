//! YAML with source positions: a manifest file's text becomes a [`serde_json::Value`] plus a
//! [`SpanIndex`] from JSON pointers (`/scopes/0/name`) to byte spans in the file.
//!
//! Why our own tree over `saphyr-parser` events: `serde_yaml` is archived upstream and its forks
//! drop positions once deserialised; `saphyr-parser` is maintained, implements YAML 1.2 and gives
//! every event a span. Building the value ourselves, from the span tree of [`tree`] (the core
//! shared with the in-place edits of `keys rotate`), gives exact control over the hazards a
//! manifest must refuse or pin down:
//! - duplicate keys are errors pointing at both occurrences;
//! - aliases are expanded with a bound on the nodes they add (no "billion laughs");
//! - scalars resolve by the YAML 1.2 core schema: only `true`/`false` (and their `True`/`TRUE`
//!   spellings) are booleans, so `no`, `off` and `NO` stay strings; quoted scalars are always
//!   strings; integers and floats follow the core schema's patterns;
//! - tabs in indentation, several documents in one file, custom tags and deep nesting get clear
//!   messages instead of a parser's.

pub mod tree;

use std::collections::HashMap;

use miette::SourceSpan;
use saphyr_parser::{ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use crate::diagnostic_code::Code;
use tree::{Node, NodeKind};

/// The most nodes alias expansion may add to a document (the file size bounds the rest).
pub const MAX_ALIAS_NODES: usize = 10_000;

/// The most nodes (scalars, mapping keys included, and collections) a document may have before
/// alias expansion. A real manifest spends well over ten bytes per node, so no file under the
/// size bound comes near this; it stops text built to be nothing but tiny nodes (`[a, a, a, …`)
/// from costing a hundred times its size in memory.
pub const MAX_NODES: usize = 150_000;

/// The deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed document: its value and where each part of it is in the source.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The document as JSON data (YAML 1.2 core schema).
    pub value: Value,
    /// Where each node of `value` is in the text.
    pub spans: SpanIndex,
}

/// Where a node is: the span of its value and, for a mapping's value, the span of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// The node itself (a scalar, or a whole mapping or sequence).
    pub value: SourceSpan,
    /// The key the node is the value of, in a mapping.
    pub key: Option<SourceSpan>,
}

/// Where every node of a document is, looked up by JSON pointer (`/scopes/0/name`). An alias
/// has the alias's span and no children.
///
/// A tree of spans shaped like the document, not a map from pointer strings: building a pointer
/// for every node of a large manifest cost more than parsing it, and a diagnostic needs only a
/// few lookups.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    /// The root (the document) first, then every node in document order.
    nodes: Vec<SpanNode>,
}

#[derive(Debug, Clone)]
struct SpanNode {
    span: NodeSpan,
    children: Children,
}

#[derive(Debug, Clone, Default)]
enum Children {
    #[default]
    None,
    /// A sequence's items, by index.
    Items(Vec<usize>),
    /// A mapping's entries, in document order.
    Entries(Vec<(Box<str>, usize)>),
}

impl SpanIndex {
    /// The exact node at `pointer`, if it exists in the source.
    pub fn get(&self, pointer: &str) -> Option<NodeSpan> {
        let (node, rest) = self.walk(pointer)?;
        rest.then_some(self.nodes[node].span)
    }

    /// The node at `pointer` or its nearest ancestor that has a position (the document root
    /// always does).
    pub fn nearest(&self, pointer: &str) -> Option<NodeSpan> {
        self.walk(pointer).map(|(node, _)| self.nodes[node].span)
    }

    /// What to underline for the node at `pointer`: its key when it has one (a mapping entry),
    /// else its value.
    pub fn key_or_value(&self, pointer: &str) -> Option<SourceSpan> {
        self.nearest(pointer).map(|s| s.key.unwrap_or(s.value))
    }

    /// The value's span (or the nearest ancestor's).
    pub fn value(&self, pointer: &str) -> Option<SourceSpan> {
        self.nearest(pointer).map(|s| s.value)
    }

    /// Follows `pointer` from the root as far as the document goes: the deepest node reached,
    /// and whether that is the whole pointer.
    fn walk(&self, pointer: &str) -> Option<(usize, bool)> {
        self.nodes.first()?;
        let mut node = 0;
        let segments = pointer.strip_prefix('/').map(|p| p.split('/'));
        for segment in segments.into_iter().flatten() {
            let child = match &self.nodes[node].children {
                Children::None => None,
                Children::Items(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i).copied()),
                Children::Entries(entries) => {
                    let key = unescape_pointer_segment(segment);
                    entries
                        .iter()
                        .find(|(k, _)| **k == *key)
                        .map(|(_, child)| *child)
                }
            };
            match child {
                Some(child) => node = child,
                None => return Some((node, false)),
            }
        }
        Some((node, true))
    }

    /// Adds a node with no span yet, returning its id.
    fn open(&mut self) -> usize {
        self.nodes.push(SpanNode {
            span: NodeSpan {
                value: SourceSpan::new(0.into(), 0),
                key: None,
            },
            children: Children::None,
        });
        self.nodes.len() - 1
    }

    /// Every node's span, in document order.
    #[cfg(test)]
    fn all(&self) -> impl Iterator<Item = NodeSpan> + '_ {
        self.nodes.iter().map(|n| n.span)
    }
}

/// Undoes [`escape_pointer_segment`].
fn unescape_pointer_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// Escapes one JSON-pointer segment (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A problem in a YAML document, located by byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    /// Diagnostic code, e.g. `mpctl::yaml::duplicate_key`.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// Where.
    pub span: SourceSpan,
    /// Text under the underline.
    pub label: String,
    /// A second location (the first occurrence of a duplicate key).
    pub other: Option<(SourceSpan, String)>,
}

impl YamlProblem {
    fn new(code: Code, message: String, help: &str, span: SourceSpan, label: &str) -> Self {
        Self {
            code,
            message,
            help: help.into(),
            span,
            label: label.into(),
            other: None,
        }
    }
}

/// The bounds of a manifest document, for [`parse`] and [`parse_tree`].
const LIMITS: tree::Limits = tree::Limits {
    max_nodes: MAX_NODES,
    max_depth: MAX_DEPTH,
};

/// Parses one YAML document. Returns every duplicate key at once; other problems stop parsing.
pub fn parse(text: &str) -> Result<Parsed, Vec<YamlProblem>> {
    let document = tree::parse(text, LIMITS).map_err(|e| vec![tree_problem(text, e)])?;
    let mut builder = Builder {
        anchors: HashMap::new(),
        nodes: 0,
        expanded: 0,
        // At most one span per node (mapping keys have none) and the root: sized once, as a
        // large document's index is large.
        spans: SpanIndex {
            nodes: Vec::with_capacity(document.nodes + 1),
        },
        problems: Vec::new(),
    };
    // The root: the whole document once there is one, an empty span at the start if not.
    let root = builder.spans.open();
    let value = match document.root {
        Some(node) => builder.node(node, root, None)?,
        None => Value::Null,
    };
    // Reported once the first document is read, as a problem found in it comes first.
    if let Some(offset) = document.next_document {
        return Err(vec![YamlProblem::new(
            Code::YamlMultipleDocuments,
            "a manifest file holds one YAML document, this one has several".into(),
            "split the documents into separate files (a directory of files merges into one manifest)",
            document_marker(text, offset),
            "second document starts here",
        )]);
    }
    if builder.problems.is_empty() {
        Ok(Parsed {
            value,
            spans: builder.spans,
        })
    } else {
        Err(builder.problems)
    }
}

/// The span tree of a manifest file's first document (`None` for an empty file), within the
/// same bounds as [`parse`]: for edits of the text in place.
pub fn parse_tree(text: &str) -> Result<Option<Node>, tree::TreeError> {
    tree::parse(text, LIMITS).map(|document| document.root)
}

/// The diagnostic for a document the span tree refused.
fn tree_problem(text: &str, e: tree::TreeError) -> YamlProblem {
    let span = SourceSpan::new(e.at.into(), e.len);
    match e.kind {
        tree::TreeErrorKind::Syntax => scan_problem(text, e.at, &e.message),
        tree::TreeErrorKind::TooManyNodes => YamlProblem::new(
            Code::YamlTooManyNodes,
            e.message,
            "split the manifest into several files in one directory; they merge into one manifest",
            span,
            "the limit is passed here",
        ),
        tree::TreeErrorKind::TooDeep => YamlProblem::new(
            Code::YamlTooDeep,
            e.message,
            "a manifest is a few levels deep; check the indentation",
            span,
            "too deep",
        ),
    }
}

fn scan_problem(text: &str, at: usize, info: &str) -> YamlProblem {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
    if let Some(tab) = line[..indent_len].find('\t') {
        return YamlProblem::new(
            Code::YamlTab,
            "a tab character in the indentation".into(),
            "YAML indents with spaces only: replace the tab with spaces",
            SourceSpan::new((line_start + tab).into(), 1),
            "tab",
        );
    }
    if info.contains("unknown anchor") {
        let len = text[at.min(text.len())..]
            .find(|c: char| c.is_whitespace() || c == ',' || c == ']' || c == '}')
            .unwrap_or(0);
        return YamlProblem::new(
            Code::YamlAlias,
            "an alias to an unknown anchor".into(),
            "define the anchor (`&name`) before using it (`*name`)",
            SourceSpan::new(at.min(text.len()).into(), len),
            "unknown anchor",
        );
    }
    if info.contains("tab") {
        let tab = text[at.min(text.len())..]
            .find('\t')
            .map(|i| at + i)
            .or_else(|| line.find('\t').map(|i| line_start + i))
            .unwrap_or(at);
        return YamlProblem::new(
            Code::YamlTab,
            format!("a tab character where YAML does not allow one ({info})"),
            "YAML indents with spaces only: replace the tab with spaces",
            SourceSpan::new(tab.into(), 1),
            "tab",
        );
    }
    let len = text[at.min(text.len())..]
        .chars()
        .next()
        .map_or(0, char::len_utf8);
    YamlProblem::new(
        Code::YamlSyntax,
        format!("invalid YAML: {info}"),
        "check the indentation and quoting around this position",
        SourceSpan::new(at.min(text.len()).into(), len),
        "here",
    )
}

/// What to underline where a document starts at `offset`: its `---` marker, or else (an implicit
/// document) its first character, whole even when it takes several bytes.
fn document_marker(text: &str, offset: usize) -> SourceSpan {
    let rest = text.get(offset..).unwrap_or_default();
    let len = if rest.starts_with("---") {
        3
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    };
    SourceSpan::new(offset.min(text.len()).into(), len)
}

/// Turns the span tree into the value and the span index, resolving scalars, expanding
/// aliases (within [`MAX_ALIAS_NODES`]) and refusing what a manifest may not hold.
struct Builder {
    /// Anchor id → (value, node count).
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes built so far, aliases counted by the size of what they expand to.
    nodes: usize,
    /// Nodes added by alias expansion.
    expanded: usize,
    spans: SpanIndex,
    problems: Vec<YamlProblem>,
}

type Fatal = Vec<YamlProblem>;

fn span_of(node: &Node) -> SourceSpan {
    SourceSpan::new(node.start.into(), node.end - node.start)
}

impl Builder {
    /// Accounts for `n` nodes added by expanding an alias.
    fn expand(&mut self, n: usize, span: SourceSpan) -> Result<(), Fatal> {
        self.nodes += n;
        self.expanded += n;
        if self.expanded > MAX_ALIAS_NODES {
            return Err(vec![YamlProblem::new(
                Code::YamlTooManyNodes,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                "aliases (`*name`) are expanded in place; a manifest this large is almost certainly an alias bomb — write the values out or split the manifest",
                span,
                "expansion passes the limit here",
            )]);
        }
        Ok(())
    }

    /// Builds the value of `node` and records its span as node `id`.
    fn node(&mut self, node: Node, id: usize, key: Option<SourceSpan>) -> Result<Value, Fatal> {
        let span = span_of(&node);
        let start_nodes = self.nodes;
        self.nodes += 1;
        let value = match node.kind {
            NodeKind::Scalar { value, style } => {
                self.scalar(value, style, node.tag.as_deref(), span)?
            }
            NodeKind::Alias(alias) => {
                let Some(size) = self.anchors.get(&alias).map(|(_, size)| *size) else {
                    return Err(vec![YamlProblem::new(
                        Code::YamlAlias,
                        "an alias to an unknown anchor".into(),
                        "define the anchor (`&name`) before using it (`*name`)",
                        span,
                        "unknown anchor",
                    )]);
                };
                self.expand(size, span)?;
                self.anchors
                    .get(&alias)
                    .map(|(v, _)| v.clone())
                    .unwrap_or_default()
            }
            NodeKind::Sequence { items, .. } => {
                check_collection_tag(node.tag.as_deref(), "seq", span)?;
                let mut values = Vec::with_capacity(items.len());
                let mut children = Vec::with_capacity(items.len());
                for item in items {
                    let child = self.spans.open();
                    children.push(child);
                    values.push(self.node(item, child, None)?);
                }
                self.spans.nodes[id].children = Children::Items(children);
                Value::Array(values)
            }
            NodeKind::Mapping { entries, .. } => {
                check_collection_tag(node.tag.as_deref(), "map", span)?;
                Value::Object(self.mapping(id, entries)?)
            }
        };
        if node.anchor > 0 {
            self.anchors
                .insert(node.anchor, (value.clone(), self.nodes - start_nodes));
        }
        self.spans.nodes[id].span = NodeSpan { value: span, key };
        Ok(value)
    }

    /// The entries of the mapping node `id`.
    fn mapping(
        &mut self,
        id: usize,
        entries: Vec<(Node, Node)>,
    ) -> Result<Map<String, Value>, Fatal> {
        let mut map = Map::new();
        let mut children: Vec<(Box<str>, usize)> = Vec::new();
        for (key_node, value_node) in entries {
            let key_span = span_of(&key_node);
            let key = match key_node.kind {
                NodeKind::Scalar { value, .. } => value,
                NodeKind::Alias(alias) => match self.anchors.get(&alias) {
                    Some((Value::String(s), _)) => s.clone(),
                    Some((Value::Number(n), _)) => n.to_string(),
                    Some((Value::Bool(b), _)) => b.to_string(),
                    _ => return Err(vec![complex_key(key_span)]),
                },
                _ => return Err(vec![complex_key(key_span)]),
            };
            let child = self.spans.open();
            let value = self.node(value_node, child, Some(key_span))?;
            if map.contains_key(&key) {
                let first = children
                    .iter()
                    .find(|(k, _)| **k == *key)
                    .and_then(|(_, first)| self.spans.nodes[*first].span.key)
                    .unwrap_or(key_span);
                let mut problem = YamlProblem::new(
                    Code::YamlDuplicateKey,
                    format!("the key `{key}` appears twice in the same mapping"),
                    "remove one of them: YAML keeps only one value per key, and which one differs between tools",
                    key_span,
                    "duplicate key",
                );
                problem.other = Some((first, "first defined here".into()));
                self.problems.push(problem);
                continue;
            }
            children.push((key.as_str().into(), child));
            map.insert(key, value);
        }
        self.spans.nodes[id].children = Children::Entries(children);
        Ok(map)
    }

    fn scalar(
        &self,
        text: String,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: SourceSpan,
    ) -> Result<Value, Fatal> {
        if let Some(tag) = tag {
            if !tag.is_yaml_core_schema() {
                return Err(vec![unsupported_tag(tag, span)]);
            }
            return match tag.suffix.as_str() {
                "str" => Ok(Value::String(text)),
                "int" | "float" | "bool" | "null" => {
                    let value = resolve_plain(&text);
                    let fits = match tag.suffix.as_str() {
                        "int" => value.is_i64() || value.is_u64(),
                        "float" => value.is_number(),
                        "bool" => value.is_boolean(),
                        _ => value.is_null(),
                    };
                    if fits {
                        Ok(value)
                    } else {
                        Err(vec![YamlProblem::new(
                            Code::YamlTag,
                            format!("`{text}` is not a valid !!{}", tag.suffix),
                            "remove the tag or correct the value",
                            span,
                            "value does not match its tag",
                        )])
                    }
                }
                _ => Err(vec![unsupported_tag(tag, span)]),
            };
        }
        Ok(match style {
            ScalarStyle::Plain => match resolve_plain_non_string(&text) {
                Some(value) => value,
                None => Value::String(text),
            },
            _ => Value::String(text),
        })
    }
}

fn complex_key(span: SourceSpan) -> YamlProblem {
    YamlProblem::new(
        Code::YamlKey,
        "a mapping key must be a plain string".into(),
        "use a simple name as the key; sequences and mappings cannot be keys in a manifest",
        span,
        "not a string key",
    )
}

fn check_collection_tag(tag: Option<&Tag>, allowed: &str, span: SourceSpan) -> Result<(), Fatal> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == allowed => Ok(()),
        Some(t) => Err(vec![unsupported_tag(t, span)]),
    }
}

fn unsupported_tag(tag: &Tag, span: SourceSpan) -> YamlProblem {
    YamlProblem::new(
        Code::YamlTag,
        format!(
            "the YAML tag `{}{}` is not supported",
            tag.handle, tag.suffix
        ),
        "remove the tag: a manifest uses plain values (quote a value to make it a string)",
        span,
        "unsupported tag",
    )
}

/// Resolves a plain (unquoted) scalar by the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> Value {
    resolve_plain_non_string(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

/// What a plain scalar is when it is not a string: null, a boolean or a number.
fn resolve_plain_non_string(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(n) = resolve_int(text) {
        return Some(n);
    }
    if is_core_float(text)
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Some(Value::Number(n));
    }
    None
}

fn resolve_int(text: &str) -> Option<Value> {
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(hex) = text.strip_prefix("0x") {
        return digits(hex, 16)
            .then(|| u64::from_str_radix(hex, 16).ok().map(Value::from))
            .flatten();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return digits(oct, 8)
            .then(|| u64::from_str_radix(oct, 8).ok().map(Value::from))
            .flatten();
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits(unsigned, 10) {
        return None;
    }
    if text.starts_with('-') {
        text.parse::<i64>().ok().map(Value::from)
    } else {
        unsigned.parse::<u64>().ok().map(Value::from)
    }
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (infinities and NaN have no JSON
/// form and stay strings).
fn is_core_float(text: &str) -> bool {
    let s = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests;
