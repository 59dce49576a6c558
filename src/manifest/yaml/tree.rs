//! The YAML span core: a document as a tree of nodes with exact byte spans, built from
//! `saphyr-parser` events. Both users of YAML positions build on it: manifest loading
//! ([`super::parse`]: JSON data plus a span index for diagnostics) and the in-place edits of
//! `keys rotate` (`crate::keys::manifest_edit`: where to insert text).
//!
//! The tree keeps what the text says and resolves nothing: scalars keep their text and style,
//! tags and anchors are recorded, aliases stay aliases (so expanding them, and bounding that,
//! is the caller's choice). The size and depth of what it builds are bounded by [`Limits`], so
//! no input makes it use unbounded memory or stack.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};

/// How large a document the tree may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most nodes (scalars, mapping keys included, collections and aliases) in the stream.
    pub max_nodes: usize,
    /// The deepest nesting of collections (the root is at depth 0).
    pub max_depth: usize,
}

/// A node with its byte range in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// Byte offset where the node starts: the `[`/`{` of a flow collection, the first
    /// character of a scalar including its quote; for a block sequence the `-` of its first
    /// item, or the item itself when the sequence is not indented under its key.
    pub start: usize,
    /// Byte offset just after the node's last character (for a flow collection: after the
    /// closing `]`/`}`; for a block collection: after its last content; for a quoted scalar:
    /// after its closing quote, never a comment after it).
    pub end: usize,
    pub kind: NodeKind,
    /// The node's anchor (`&name`) as the parser numbers them; 0 for none.
    pub anchor: usize,
    /// The node's tag (`!!str`, `!foo`), if it has one.
    pub tag: Option<Box<Tag>>,
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
    /// An alias (`*name`) to the anchor of this number.
    Alias(usize),
}

impl Node {
    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node of `key` in a mapping node.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(k, _)| k)
    }

    fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        match &self.kind {
            NodeKind::Mapping { entries, .. } => {
                entries.iter().find(|(k, _)| k.scalar() == Some(key))
            }
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

/// The first document of a stream.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Its root node; `None` for an empty stream.
    pub root: Option<Node>,
    /// Where a second document starts (its `---`, or its first character), if there is one.
    /// The stream after it is not read.
    pub next_document: Option<usize>,
    /// How many nodes the parser produced (mapping keys included), for sizing what is built
    /// from the tree.
    pub nodes: usize,
}

/// Why a stream could not be read as a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct TreeError {
    pub kind: TreeErrorKind,
    /// The parser's message, or which limit was passed.
    pub message: String,
    /// Byte offset where it happened.
    pub at: usize,
    /// Byte length of the event at fault (0 for a syntax error).
    pub len: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// What kind of problem a [`TreeError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeErrorKind {
    /// The text is not YAML.
    Syntax,
    /// More nodes than [`Limits::max_nodes`].
    TooManyNodes,
    /// Nesting deeper than [`Limits::max_depth`].
    TooDeep,
}

/// Parses the first document of `source` into a tree, within `limits`.
pub fn parse(source: &str, limits: Limits) -> Result<Document, TreeError> {
    let mut builder = Builder {
        source,
        events: Parser::new_from_str(source),
        offsets: ByteOffsets::new(source),
        peeked: None,
        scanned: 0,
        limits,
    };
    builder.stream()
}

/// Converts saphyr's character indices to byte offsets.
struct ByteOffsets {
    /// Byte offset of every character index, or `None` when the text is ASCII (identity).
    table: Option<Vec<usize>>,
    len: usize,
}

impl ByteOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        Self {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }

    fn range(&self, span: Span) -> (usize, usize) {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        (start, end)
    }
}

/// An event with its byte range.
type Spanned<'input> = (Event<'input>, usize, usize);

/// Builds the tree from the parser's events, one at a time.
struct Builder<'input> {
    source: &'input str,
    events: Parser<'input, StrInput<'input>>,
    offsets: ByteOffsets,
    /// The next event, once looked at.
    peeked: Option<Spanned<'input>>,
    /// Nodes the scanner has produced, for [`Limits::max_nodes`].
    scanned: usize,
    limits: Limits,
}

impl<'input> Builder<'input> {
    fn error(&self, kind: TreeErrorKind, message: String, at: usize, len: usize) -> TreeError {
        let at = at.min(self.source.len());
        let before = &self.source[..at];
        TreeError {
            kind,
            message,
            at,
            len,
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
        }
    }

    /// The next event from the scanner; a scan error, or a stream past the node limit, ends
    /// the parse. (After an error the parser would repeat it forever: it is not asked again.)
    fn pull(&mut self) -> Result<Option<Spanned<'input>>, TreeError> {
        match self.events.next() {
            None => Ok(None),
            Some(Ok((event, span))) => {
                let (start, end) = self.offsets.range(span);
                if matches!(
                    event,
                    Event::Scalar(..)
                        | Event::Alias(_)
                        | Event::SequenceStart(..)
                        | Event::MappingStart(..)
                ) {
                    self.scanned += 1;
                    if self.scanned > self.limits.max_nodes {
                        return Err(self.error(
                            TreeErrorKind::TooManyNodes,
                            format!("the document has more than {} nodes", self.limits.max_nodes),
                            start,
                            end - start,
                        ));
                    }
                }
                Ok(Some((event, start, end)))
            }
            Some(Err(e)) => {
                let at = self.offsets.byte(e.marker().index());
                Err(self.error(TreeErrorKind::Syntax, e.info().to_owned(), at, 0))
            }
        }
    }

    fn next(&mut self) -> Result<Option<Spanned<'input>>, TreeError> {
        match self.peeked.take() {
            Some(event) => Ok(Some(event)),
            None => self.pull(),
        }
    }

    fn peek(&mut self) -> Result<Option<&Spanned<'input>>, TreeError> {
        if self.peeked.is_none() {
            self.peeked = self.pull()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn stream(&mut self) -> Result<Document, TreeError> {
        let mut document = Document::default();
        let mut started = false;
        while let Some((event, start, _)) = self.next()? {
            match event {
                Event::DocumentStart(_) if started => {
                    document.next_document = Some(start);
                    break;
                }
                Event::DocumentStart(_) => {
                    started = true;
                    if let Some((event, _, _)) = self.peek()?
                        && is_node(event)
                    {
                        document.root = Some(self.node(0)?);
                    }
                }
                Event::StreamEnd => break,
                _ => {}
            }
        }
        document.nodes = self.scanned;
        Ok(document)
    }

    /// Builds the node starting at the next event, at nesting `depth`.
    fn node(&mut self, depth: usize) -> Result<Node, TreeError> {
        let Some((event, start, end)) = self.next()? else {
            let at = self.source.len();
            return Err(self.error(
                TreeErrorKind::Syntax,
                "unexpected end of the document".into(),
                at,
                0,
            ));
        };
        if depth > self.limits.max_depth {
            return Err(self.error(
                TreeErrorKind::TooDeep,
                format!(
                    "the document nests deeper than {} levels",
                    self.limits.max_depth
                ),
                start,
                end - start,
            ));
        }
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                // Quoted scalars' spans may or may not include the quotes; take them in.
                let (start, end) = self.widen_quotes(start, end, style);
                Ok(Node {
                    start,
                    end,
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    anchor,
                    tag: tag.map(|t| Box::new(t.into_owned())),
                })
            }
            Event::Alias(id) => Ok(Node {
                start,
                end,
                kind: NodeKind::Alias(id),
                anchor: 0,
                tag: None,
            }),
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    match self.peek()? {
                        Some((Event::SequenceEnd, close_start, close_end)) => {
                            // Only a flow sequence's end has a span (its `]`).
                            let flow = close_end > close_start;
                            let close_end = *close_end;
                            self.next()?;
                            let end = if flow {
                                close_end
                            } else {
                                items.last().map_or(end, |n: &Node| n.end)
                            };
                            return Ok(Node {
                                start,
                                end,
                                kind: NodeKind::Sequence {
                                    flow,
                                    items: trimmed(items),
                                },
                                anchor,
                                tag: tag.map(|t| Box::new(t.into_owned())),
                            });
                        }
                        Some(_) => items.push(self.node(depth + 1)?),
                        None => return Err(self.unterminated("sequence")),
                    }
                }
            }
            Event::MappingStart(anchor, tag) => {
                let mut entries = Vec::new();
                loop {
                    match self.peek()? {
                        Some((Event::MappingEnd, close_start, close_end)) => {
                            // Only a flow mapping's end has a span (its `}`).
                            let flow = close_end > close_start;
                            let close_end = *close_end;
                            self.next()?;
                            let end = if flow {
                                close_end
                            } else {
                                entries.last().map_or(end, |(_, v): &(Node, Node)| v.end)
                            };
                            return Ok(Node {
                                start,
                                end,
                                kind: NodeKind::Mapping {
                                    flow,
                                    entries: trimmed(entries),
                                },
                                anchor,
                                tag: tag.map(|t| Box::new(t.into_owned())),
                            });
                        }
                        Some(_) => {
                            let key = self.node(depth + 1)?;
                            let value = self.node(depth + 1)?;
                            entries.push((key, value));
                        }
                        None => return Err(self.unterminated("mapping")),
                    }
                }
            }
            _ => Err(self.error(
                TreeErrorKind::Syntax,
                "unexpected YAML event".into(),
                start,
                0,
            )),
        }
    }

    fn unterminated(&self, what: &str) -> TreeError {
        let at = self.source.len();
        self.error(TreeErrorKind::Syntax, format!("unterminated {what}"), at, 0)
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

/// A collection's children without the spare room a growing `Vec` keeps (up to as much again),
/// which would otherwise be held while the caller builds from the tree. Only large ones are
/// worth the copy.
fn trimmed<T>(mut children: Vec<T>) -> Vec<T> {
    if children.capacity() - children.len() > 256 {
        children.shrink_to_fit();
    }
    children
}

/// Whether an event starts a node.
fn is_node(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Scalar(..) | Event::Alias(_) | Event::SequenceStart(..) | Event::MappingStart(..)
    )
}

#[cfg(test)]
mod tests;
