//! The minimal text edit `keys rotate` makes to a manifest file: append a key path to a
//! client's `keys` and put `retire_after` on the key it replaces, leaving every other byte
//! (comments, quoting, indentation, order) as it was.
//!
//! Every edit is an insertion at a position found from the YAML's source spans, so the rest of
//! the file cannot change; the result is parsed again and checked before it is used.

use crate::manifest::yaml::parse_tree;
use crate::manifest::yaml::tree::{Node, NodeKind, TreeError};

/// Why the manifest could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file does not parse as YAML.
    #[error("the manifest is not valid YAML: {0}")]
    Yaml(#[from] TreeError),
    /// No entry of `clients` has this `name`.
    #[error("the manifest has no client named `{0}`")]
    ClientNotFound(String),
    /// `keys` is there but not a sequence.
    #[error("the `keys` of client `{client}` is not a list")]
    KeysNotAList { client: String },
    /// An entry of `keys` is neither a scalar path nor a mapping with `path`.
    #[error("a key entry of client `{client}` is neither a path nor a mapping with `path`")]
    UnknownKeyEntry { client: String },
    /// The edit did not produce exactly the intended change (nothing is written then).
    #[error("the edited manifest does not read back as expected: {0}")]
    Verify(String),
}

/// One entry of a client's `keys`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key file, relative to the manifest.
    pub path: String,
    /// The entry's `retire_after` date, if set.
    pub retire_after: Option<String>,
}

/// Where a client's keys for one environment are declared in a manifest file.
#[derive(Debug, Clone)]
pub struct KeysSite {
    client: String,
    /// The key entries, in file order.
    pub entries: Vec<KeyEntry>,
    /// Whether the entries come from the client's `overrides.<env>.keys`.
    pub from_override: bool,
    /// Whether the client is limited to environments that do not include the one asked for.
    pub env_excluded: bool,
    /// The client's own `environments`, if it lists them.
    pub client_environments: Option<Vec<String>>,
    nodes: Vec<Node>,
    target: Target,
    client_node: Node,
}

#[derive(Debug, Clone)]
enum Target {
    /// The `keys` sequence exists.
    Sequence(Node),
    /// The client has no `keys`: add one to the client's mapping.
    Missing { client: Node },
}

/// Finds the keys of `client` that apply in `env`: its `overrides.<env>.keys` if present,
/// else its `keys`.
pub fn locate(source: &str, client: &str, env: &str) -> Result<KeysSite, EditError> {
    let root = parse_tree(source)?.ok_or_else(|| EditError::ClientNotFound(client.into()))?;
    let client_node = root
        .get("clients")
        .and_then(Node::items)
        .and_then(|items| {
            items
                .iter()
                .find(|c| c.get("name").and_then(Node::scalar) == Some(client))
        })
        .ok_or_else(|| EditError::ClientNotFound(client.into()))?
        .clone();
    let env_excluded = client_node
        .get("environments")
        .and_then(Node::items)
        .is_some_and(|envs| !envs.iter().any(|e| e.scalar() == Some(env)));
    let client_environments = client_node
        .get("environments")
        .and_then(Node::items)
        .map(|envs| {
            envs.iter()
                .filter_map(|e| e.scalar().map(str::to_owned))
                .collect()
        });
    let override_keys = client_node
        .get("overrides")
        .and_then(|o| o.get(env))
        .and_then(|o| o.get("keys"));
    let (keys, from_override) = match override_keys {
        Some(keys) => (Some(keys), true),
        None => (client_node.get("keys"), false),
    };
    let not_a_list = || EditError::KeysNotAList {
        client: client.into(),
    };
    let (target, nodes) = match keys {
        None => (
            Target::Missing {
                client: client_node.clone(),
            },
            Vec::new(),
        ),
        Some(node) => {
            let items = node.items().ok_or_else(not_a_list)?.to_vec();
            (Target::Sequence(node.clone()), items)
        }
    };
    let mut entries = Vec::new();
    for node in &nodes {
        let entry = match &node.kind {
            NodeKind::Scalar { value, .. } => KeyEntry {
                path: value.clone(),
                retire_after: None,
            },
            NodeKind::Mapping { .. } => KeyEntry {
                path: node
                    .get("path")
                    .and_then(Node::scalar)
                    .ok_or_else(|| EditError::UnknownKeyEntry {
                        client: client.into(),
                    })?
                    .to_owned(),
                retire_after: node
                    .get("retire_after")
                    .and_then(Node::scalar)
                    .map(Into::into),
            },
            _ => {
                return Err(EditError::UnknownKeyEntry {
                    client: client.into(),
                });
            }
        };
        entries.push(entry);
    }
    Ok(KeysSite {
        client: client.into(),
        entries,
        from_override,
        env_excluded,
        client_environments,
        nodes,
        target,
        client_node,
    })
}

/// An insertion of `text` at byte offset `at`.
struct Insertion {
    at: usize,
    text: String,
}

impl KeysSite {
    /// The index of the key a new key replaces: the last entry without `retire_after`.
    pub fn replaced_index(&self) -> Option<usize> {
        self.entries.iter().rposition(|e| e.retire_after.is_none())
    }

    /// The manifest text with `new_path` appended to the keys and, if `retire` is given,
    /// `retire_after: DATE` on the entry at that index. The result is checked by parsing it
    /// again.
    pub fn edit(
        &self,
        source: &str,
        env: &str,
        new_path: &str,
        retire: Option<(usize, &str)>,
    ) -> Result<String, EditError> {
        let mut insertions = Vec::new();
        if let Some((index, date)) = retire {
            let node = self
                .nodes
                .get(index)
                .ok_or_else(|| EditError::Verify(format!("no key entry #{index}")))?;
            retire_insertions(source, node, date, &mut insertions);
        }
        self.append_insertions(source, new_path, &mut insertions);
        let edited = apply(source, insertions);
        self.verify(&edited, env, new_path, retire)?;
        Ok(edited)
    }

    /// The manifest text with a new `overrides.<env>.keys` for the client: its current keys
    /// (with `retire_after: DATE` on the entry at `retire`'s index) and `new_path`, so that the
    /// new key is for `env` only and the client's own `keys` stay as they are for the other
    /// environments. For a client written in block style; the result is checked by parsing it.
    pub fn edit_as_override(
        &self,
        source: &str,
        env: &str,
        new_path: &str,
        retire: Option<(usize, &str)>,
    ) -> Result<String, EditError> {
        let by_hand = |why: &str| {
            EditError::Verify(format!(
                "{why}; add `overrides: {{{env}: {{keys: [...]}}}}` to client `{}` by hand, or rotate with --all-environments",
                self.client
            ))
        };
        if !matches!(self.client_node.kind, NodeKind::Mapping { flow: false, .. }) {
            return Err(by_hand("the client is written in flow style"));
        }
        let scalar = |text: &str| {
            serde_yaml_ng::to_string(text)
                .map(|s| s.trim_end().to_owned())
                .unwrap_or_else(|_| text.to_owned())
        };
        let mut items: Vec<String> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let retire_after = match retire {
                    Some((index, date)) if index == i => Some(date.to_owned()),
                    _ => e.retire_after.clone(),
                };
                match retire_after {
                    Some(date) => format!("{{path: {}, retire_after: {date}}}", scalar(&e.path)),
                    None => scalar(&e.path),
                }
            })
            .collect();
        items.push(scalar(new_path));
        let keys_block = |indent: &str| {
            let mut text = format!("{indent}keys:");
            for item in &items {
                text.push_str(&format!("\n{indent}  - {item}"));
            }
            text
        };
        let client_indent = indent_at(source, self.client_node.start);
        let insertion = match self.client_node.get("overrides") {
            None => Insertion {
                at: line_end(source, self.client_node.end),
                text: format!(
                    "\n{client_indent}overrides:\n{client_indent}  {env}:\n{}",
                    keys_block(&format!("{client_indent}    "))
                ),
            },
            Some(overrides) => {
                let NodeKind::Mapping {
                    flow: false,
                    entries,
                } = &overrides.kind
                else {
                    return Err(by_hand("the client's `overrides` is not a block mapping"));
                };
                let indent = entries.first().map_or_else(
                    || format!("{client_indent}  "),
                    |(k, _)| indent_at(source, k.start),
                );
                match overrides.get(env) {
                    None => Insertion {
                        at: line_end(source, overrides.end),
                        text: format!("\n{indent}{env}:\n{}", keys_block(&format!("{indent}  "))),
                    },
                    Some(node) => match &node.kind {
                        NodeKind::Mapping {
                            flow: false,
                            entries,
                        } if !entries.is_empty() => Insertion {
                            at: line_end(source, node.end),
                            text: format!(
                                "\n{}",
                                keys_block(&indent_at(source, entries[0].0.start))
                            ),
                        },
                        _ => {
                            return Err(by_hand(&format!(
                                "the client's `overrides.{env}` is not a block mapping"
                            )));
                        }
                    },
                }
            }
        };
        let edited = apply(source, vec![insertion]);
        self.verify(&edited, env, new_path, retire)?;
        // The client's own keys, used by its other environments, are unchanged.
        let own = |text: &str| {
            parse_tree(text).ok().flatten().and_then(|root| {
                root.get("clients")
                    .and_then(Node::items)
                    .and_then(|items| {
                        items.iter().find(|c| {
                            c.get("name").and_then(Node::scalar) == Some(self.client.as_str())
                        })
                    })
                    .and_then(|c| c.get("keys"))
                    .map(|k| text[k.start..k.end].to_owned())
            })
        };
        if own(&edited) != own(source) {
            return Err(EditError::Verify(
                "the client's own keys would change".into(),
            ));
        }
        Ok(edited)
    }

    fn append_insertions(&self, source: &str, path: &str, out: &mut Vec<Insertion>) {
        match &self.target {
            Target::Sequence(seq) => match seq.items() {
                Some(items) if seq.is_flow() => match items.last() {
                    Some(last) => out.push(Insertion {
                        at: last.end,
                        text: format!(", {path}"),
                    }),
                    None => out.push(Insertion {
                        at: seq.end.saturating_sub(1),
                        text: path.to_owned(),
                    }),
                },
                _ => out.push(Insertion {
                    at: line_end(source, seq.end),
                    text: format!("\n{}- {path}", dash_indent(source, seq)),
                }),
            },
            Target::Missing { client } => match &client.kind {
                NodeKind::Mapping {
                    flow: true,
                    entries,
                } => {
                    let at = entries
                        .last()
                        .map_or(client.start + 1, |(_, value)| value.end);
                    out.push(Insertion {
                        at,
                        text: format!(", keys: [{path}]"),
                    });
                }
                _ => {
                    let indent = indent_at(source, client.start);
                    out.push(Insertion {
                        at: line_end(source, client.end),
                        text: format!("\n{indent}keys:\n{indent}  - {path}"),
                    });
                }
            },
        }
    }

    /// Parses the edited text and checks that exactly the intended change was made.
    fn verify(
        &self,
        edited: &str,
        env: &str,
        new_path: &str,
        retire: Option<(usize, &str)>,
    ) -> Result<(), EditError> {
        let after =
            locate(edited, &self.client, env).map_err(|e| EditError::Verify(e.to_string()))?;
        let mut expected = self.entries.clone();
        if let Some((index, date)) = retire
            && let Some(entry) = expected.get_mut(index)
        {
            entry.retire_after = Some(date.to_owned());
        }
        expected.push(KeyEntry {
            path: new_path.to_owned(),
            retire_after: None,
        });
        if after.entries != expected {
            return Err(EditError::Verify(format!(
                "expected keys {expected:?}, found {:?}",
                after.entries
            )));
        }
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(edited)
            .map(|_| ())
            .map_err(|e| EditError::Verify(e.to_string()))
    }
}

/// Insertions that turn the key entry `node` into one with `retire_after: date`.
fn retire_insertions(source: &str, node: &Node, date: &str, out: &mut Vec<Insertion>) {
    let in_flow = is_in_flow(source, node);
    match &node.kind {
        NodeKind::Scalar { .. } if in_flow => {
            out.push(Insertion {
                at: node.start,
                text: "{path: ".into(),
            });
            out.push(Insertion {
                at: node.end,
                text: format!(", retire_after: {date}}}"),
            });
        }
        NodeKind::Scalar { .. } => {
            out.push(Insertion {
                at: node.start,
                text: "path: ".into(),
            });
            out.push(Insertion {
                at: line_end(source, node.end),
                text: format!("\n{}retire_after: {date}", indent_at(source, node.start)),
            });
        }
        NodeKind::Mapping {
            flow: true,
            entries,
        } => {
            let at = entries.last().map_or(node.start + 1, |(_, v)| v.end);
            out.push(Insertion {
                at,
                text: format!(", retire_after: {date}"),
            });
        }
        _ => out.push(Insertion {
            at: line_end(source, node.end),
            text: format!("\n{}retire_after: {date}", indent_at(source, node.start)),
        }),
    }
}

/// Whether a sequence item sits in a flow sequence: the nearest non-space character before it
/// is `[` or `,` rather than the `-` of a block item.
fn is_in_flow(source: &str, node: &Node) -> bool {
    source[..node.start]
        .chars()
        .rev()
        .find(|c| !c.is_whitespace())
        .is_some_and(|c| c == '[' || c == ',')
}

/// The offset of the end of the line holding `at` (its `\n`, or the end of the text).
fn line_end(source: &str, at: usize) -> usize {
    let at = at.min(source.len());
    source[at..].find('\n').map_or(source.len(), |i| at + i)
}

/// The indentation of a block sequence's `-`, found before its first item (a sequence not
/// indented under its key starts at the item, not the dash).
fn dash_indent(source: &str, seq: &Node) -> String {
    let first = seq
        .items()
        .and_then(<[Node]>::first)
        .map_or(seq.start, |n| n.start);
    let before = source[..first.min(source.len())].trim_end_matches([' ', '\t']);
    match before.strip_suffix('-') {
        Some(rest) => indent_at(source, rest.len()),
        None => indent_at(source, seq.start),
    }
}

/// Spaces as wide as the text before `at` on its line (so `  - name` gives four spaces for the
/// position of `name`).
fn indent_at(source: &str, at: usize) -> String {
    let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
    source[line_start..at].chars().map(|_| ' ').collect()
}

/// Applies insertions; at equal offsets, earlier insertions come first in the result.
fn apply(source: &str, mut insertions: Vec<Insertion>) -> String {
    let mut out = source.to_owned();
    let mut indexed: Vec<(usize, Insertion)> = insertions.drain(..).enumerate().collect();
    indexed.sort_by(|(ia, a), (ib, b)| b.at.cmp(&a.at).then(ib.cmp(ia)));
    for (_, insertion) in indexed {
        let at = insertion.at.min(out.len());
        out.insert_str(at, &insertion.text);
    }
    out
}

#[cfg(test)]
mod tests;
