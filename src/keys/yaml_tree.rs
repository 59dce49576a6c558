//! A YAML document as a tree of nodes with their source positions, built from `saphyr-parser`
//! events: what the minimal manifest edits of `keys rotate` need to find where to write.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A node with its byte range in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte offset where the node starts: the `[`/`{` of a flow collection, the first
    /// character of a scalar including its quote; for a block sequence the `-` of its first
    /// item, or the item itself when the sequence is not indented under its key.
    pub start: usize,
    /// Byte offset just after the node's last character (for a flow collection: after the
    /// closing `]`/`}`; for a block collection: after its last content).
    pub end: usize,
    pub kind: NodeKind,
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    Sequence {
        flow: bool,
        items: Vec<Node>,
    },
    Mapping {
        flow: bool,
        entries: Vec<(Node, Node)>,
    },
    Alias,
}

impl Node {
    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Mapping { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` in a mapping node.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Mapping { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }

    /// A scalar's value.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A sequence's items.
    pub fn items(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Sequence { items, .. } => Some(items),
            _ => None,
        }
    }

    /// Whether this is a flow (`[…]`/`{…}`) collection.
    pub fn is_flow(&self) -> bool {
        matches!(
            self.kind,
            NodeKind::Sequence { flow: true, .. } | NodeKind::Mapping { flow: true, .. }
        )
    }
}

/// Why a document could not be read as a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct TreeError {
    /// The parser's message.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Parses the first document of `source`; `None` for an empty stream.
pub fn parse(source: &str) -> Result<Option<Node>, TreeError> {
    let offsets = CharOffsets::new(source);
    let mut events = Vec::new();
    for event in Parser::new_from_str(source) {
        match event {
            Ok((event, span)) => {
                let start = offsets.byte(span.start.index());
                let end = offsets.byte(span.end.index());
                events.push((event, start, end));
            }
            Err(err) => {
                return Err(TreeError {
                    message: err.info().to_owned(),
                    line: err.marker().line(),
                    column: err.marker().col() + 1,
                });
            }
        }
    }
    let mut builder = Builder {
        source,
        events,
        at: 0,
    };
    builder.document()
}

/// Maps saphyr's character indices to byte offsets.
struct CharOffsets(Vec<usize>);

impl CharOffsets {
    fn new(source: &str) -> Self {
        let mut offsets: Vec<usize> = source.char_indices().map(|(b, _)| b).collect();
        offsets.push(source.len());
        Self(offsets)
    }

    fn byte(&self, char_index: usize) -> usize {
        self.0
            .get(char_index)
            .copied()
            .unwrap_or_else(|| self.0.last().copied().unwrap_or(0))
    }
}

struct Builder<'a, 'input> {
    source: &'a str,
    events: Vec<(Event<'input>, usize, usize)>,
    at: usize,
}

impl Builder<'_, '_> {
    fn error(&self, message: &str) -> TreeError {
        let offset = self.events.get(self.at).map_or(self.source.len(), |e| e.1);
        let before = &self.source[..offset.min(self.source.len())];
        TreeError {
            message: message.to_owned(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
        }
    }

    fn document(&mut self) -> Result<Option<Node>, TreeError> {
        while let Some((event, _, _)) = self.events.get(self.at) {
            match event {
                Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => self.at += 1,
                Event::StreamEnd | Event::DocumentEnd => return Ok(None),
                _ => return self.node().map(Some),
            }
        }
        Ok(None)
    }

    fn node(&mut self) -> Result<Node, TreeError> {
        let Some((event, start, end)) = self.events.get(self.at).cloned() else {
            return Err(self.error("unexpected end of the document"));
        };
        self.at += 1;
        match event {
            Event::Scalar(value, style, _, _) => {
                // Quoted scalars' spans may or may not include the quotes; take them in.
                let (start, end) = self.widen_quotes(start, end, style);
                Ok(Node {
                    start,
                    end,
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                })
            }
            Event::Alias(_) => Ok(Node {
                start,
                end,
                kind: NodeKind::Alias,
            }),
            Event::SequenceStart(_, _) => {
                let mut items = Vec::new();
                loop {
                    match self.events.get(self.at) {
                        Some((Event::SequenceEnd, end_start, seq_end)) => {
                            // Only a flow sequence's end has a span (its `]`).
                            let flow = seq_end > end_start;
                            let seq_end = *seq_end;
                            self.at += 1;
                            let end = if flow {
                                seq_end
                            } else {
                                items.last().map_or(end, |n: &Node| n.end)
                            };
                            return Ok(Node {
                                start,
                                end,
                                kind: NodeKind::Sequence { flow, items },
                            });
                        }
                        Some(_) => items.push(self.node()?),
                        None => return Err(self.error("unterminated sequence")),
                    }
                }
            }
            Event::MappingStart(_, _) => {
                let mut entries = Vec::new();
                loop {
                    match self.events.get(self.at) {
                        Some((Event::MappingEnd, end_start, map_end)) => {
                            // Only a flow mapping's end has a span (its `}`).
                            let flow = map_end > end_start;
                            let map_end = *map_end;
                            self.at += 1;
                            let end = if flow {
                                map_end
                            } else {
                                entries.last().map_or(end, |(_, v): &(Node, Node)| v.end)
                            };
                            return Ok(Node {
                                start,
                                end,
                                kind: NodeKind::Mapping { flow, entries },
                            });
                        }
                        Some(_) => {
                            let key = self.node()?;
                            let value = self.node()?;
                            entries.push((key, value));
                        }
                        None => return Err(self.error("unterminated mapping")),
                    }
                }
            }
            _ => Err(self.error("unexpected YAML event")),
        }
    }

    /// The exact range of a quoted scalar: saphyr's span may start inside the quote and, when
    /// a comment follows, end after the comment; scan from the opening quote instead.
    fn widen_quotes(&self, start: usize, end: usize, style: ScalarStyle) -> (usize, usize) {
        let quote = match style {
            ScalarStyle::SingleQuoted => b'\'',
            ScalarStyle::DoubleQuoted => b'"',
            _ => return (start, end),
        };
        let bytes = self.source.as_bytes();
        let start = if bytes.get(start) == Some(&quote) {
            start
        } else if start > 0 && bytes.get(start - 1) == Some(&quote) {
            start - 1
        } else {
            return (start, end);
        };
        let mut at = start + 1;
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if quote == b'"' => at += 2,
                b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 2,
                byte if byte == quote => return (start, at + 1),
                _ => at += 1,
            }
        }
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<'a>(source: &'a str, node: &Node) -> &'a str {
        &source[node.start..node.end]
    }

    #[test]
    fn spans_cover_block_and_flow_nodes_with_quotes() {
        let source = "clients:\n  - name: \"å\" # c\n    keys:\n      - keys/a.jwk.json  # old\n      - path: 'x'\n        retire_after: 2026-01-01\n  - {name: b, keys: [x, {path: y}]}\n";
        let root = parse(source).unwrap().unwrap();
        let clients = root.get("clients").unwrap();
        assert!(!clients.is_flow());
        assert!(text(source, clients).starts_with("- name"));
        let first = &clients.items().unwrap()[0];
        assert_eq!(text(source, first.get("name").unwrap()), "\"å\"");
        let keys = first.get("keys").unwrap();
        assert_eq!(text(source, &keys.items().unwrap()[0]), "keys/a.jwk.json");
        assert!(text(source, keys).ends_with("retire_after: 2026-01-01"));
        assert_eq!(
            text(source, &keys.items().unwrap()[1]),
            "path: 'x'\n        retire_after: 2026-01-01"
        );
        let second = &clients.items().unwrap()[1];
        assert!(second.is_flow());
        assert_eq!(text(source, second), "{name: b, keys: [x, {path: y}]}");
        assert_eq!(text(source, second.get("keys").unwrap()), "[x, {path: y}]");
        assert_eq!(text(source, second.key_node("keys").unwrap()), "keys");
    }

    #[test]
    fn empty_and_broken_documents() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("# only a comment\n").unwrap().is_none());
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1);
    }
}
