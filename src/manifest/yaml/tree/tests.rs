use super::*;

const LIMITS: Limits = Limits {
    max_nodes: 1000,
    max_depth: 16,
};

fn root(source: &str) -> Node {
    parse(source, LIMITS).unwrap().root.unwrap()
}

fn text<'a>(source: &'a str, node: &Node) -> &'a str {
    &source[node.start..node.end]
}

#[test]
fn spans_cover_block_and_flow_nodes_with_quotes() {
    let source = "clients:\n  - name: \"å\" # c\n    keys:\n      - keys/a.jwk.json  # old\n      - path: 'x'\n        retire_after: 2026-01-01\n  - {name: b, keys: [x, {path: y}]}\n";
    let root = root(source);
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
fn quoted_scalars_and_block_collections_end_at_their_content() {
    // The parser's own spans run on: a quoted scalar's over the comment after it, a block
    // collection's to the next token past blank lines and comments.
    let source = "a: \"x\" # c\nb: 'y'   # d\nc:\n  - p\n  - q\n\n# trailing\nd:\n  k: v\n  # in map\n\ne: [1, \"2\"]\n";
    let root = root(source);
    assert_eq!(text(source, root.get("a").unwrap()), "\"x\"");
    assert_eq!(text(source, root.get("b").unwrap()), "'y'");
    assert_eq!(text(source, root.get("c").unwrap()), "- p\n  - q");
    assert_eq!(text(source, root.get("d").unwrap()), "k: v");
    assert_eq!(text(source, root.get("e").unwrap()), "[1, \"2\"]");
    assert_eq!(text(source, &root), source.trim_end());
}

#[test]
fn escaped_quotes_stay_inside_the_scalar() {
    let source = "a: \"say \\\"hi\\\"\" # c\nb: 'it''s' # d\n";
    let root = root(source);
    assert_eq!(text(source, root.get("a").unwrap()), "\"say \\\"hi\\\"\"");
    assert_eq!(root.get("a").unwrap().scalar(), Some("say \"hi\""));
    assert_eq!(text(source, root.get("b").unwrap()), "'it''s'");
}

#[test]
fn spans_are_byte_offsets_in_non_ascii_text() {
    let source = "description: blåbær\nname: x\n";
    let root = root(source);
    assert_eq!(text(source, root.get("description").unwrap()), "blåbær");
    assert_eq!(text(source, root.get("name").unwrap()), "x");
}

#[test]
fn anchors_tags_and_aliases_are_kept_as_written() {
    let source = "base: &b {k: v}\ncopy: *b\nn: !!str 12\n";
    let root = root(source);
    let base = root.get("base").unwrap();
    assert!(base.anchor > 0);
    let copy = root.get("copy").unwrap();
    assert!(matches!(copy.kind, NodeKind::Alias(id) if id == base.anchor));
    assert_eq!(text(source, copy), "*b");
    let n = root.get("n").unwrap();
    assert_eq!(n.scalar(), Some("12"));
    assert_eq!(n.tag.as_deref().map(|t| t.suffix.as_str()), Some("str"));
}

#[test]
fn empty_streams_have_no_root_and_a_second_document_is_reported() {
    assert!(parse("", LIMITS).unwrap().root.is_none());
    assert!(parse("# only a comment\n", LIMITS).unwrap().root.is_none());
    let document = parse("a: 1\n---\nb: 2\n", LIMITS).unwrap();
    assert_eq!(document.root.unwrap().get("a").unwrap().scalar(), Some("1"));
    assert_eq!(document.next_document, Some(5));
    assert_eq!(parse("a: 1\n", LIMITS).unwrap().next_document, None);
}

#[test]
fn limits_bound_the_nodes_and_the_depth() {
    let many = format!("[{}a]", "a, ".repeat(2 * LIMITS.max_nodes));
    let err = parse(&many, LIMITS).unwrap_err();
    assert_eq!(err.kind, TreeErrorKind::TooManyNodes);
    // Refused at the first node past the bound, not at the end of the text.
    assert!(err.at < many.len() / 2 + 10);

    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let err = parse(&deep, LIMITS).unwrap_err();
    assert_eq!(err.kind, TreeErrorKind::TooDeep);
    assert_eq!((err.at, err.len), (LIMITS.max_depth + 1, 1));
    let fits = format!("{}{}", "[".repeat(10), "]".repeat(10));
    assert!(parse(&fits, LIMITS).is_ok());
}

#[test]
fn syntax_errors_are_located() {
    let err = parse("a: [1, 2\nb: c\n", LIMITS).unwrap_err();
    assert_eq!(err.kind, TreeErrorKind::Syntax);
    assert!(err.line >= 1 && err.column >= 1);
    let err = parse("k: \"unterminated\n", LIMITS).unwrap_err();
    assert_eq!(err.kind, TreeErrorKind::Syntax);
    assert_eq!(err.line, 1);
}

proptest::proptest! {
    #[test]
    fn spans_lie_inside_the_text_on_character_boundaries(text in "[a-zé: \\-\n\\[\\]{},'\"#&*]{0,80}") {
        fn check(text: &str, node: &Node) -> Result<(), proptest::test_runner::TestCaseError> {
            proptest::prop_assert!(node.start <= node.end && node.end <= text.len());
            proptest::prop_assert!(text.is_char_boundary(node.start));
            proptest::prop_assert!(text.is_char_boundary(node.end));
            match &node.kind {
                NodeKind::Sequence { items, .. } => items.iter().try_for_each(|n| check(text, n)),
                NodeKind::Mapping { entries, .. } => entries
                    .iter()
                    .try_for_each(|(k, v)| check(text, k).and_then(|()| check(text, v))),
                _ => Ok(()),
            }
        }
        if let Ok(Document { root: Some(root), .. }) = parse(&text, LIMITS) {
            check(&text, &root)?;
        }
    }
}
