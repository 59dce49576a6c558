use super::*;
use serde_json::json;

fn end_of(span: SourceSpan) -> usize {
    span.offset() + span.len()
}

fn ok(text: &str) -> Parsed {
    match parse(text) {
        Ok(p) => p,
        Err(e) => panic!("{e:?}"),
    }
}

fn err(text: &str) -> Vec<YamlProblem> {
    match parse(text) {
        Ok(p) => panic!("parsed: {:?}", p.value),
        Err(e) => e,
    }
}

#[test]
fn resolves_scalars_by_the_yaml_1_2_core_schema() {
    let p = ok(
        "a: no\nb: off\nc: NO\nd: yes\ne: true\nf: FALSE\ng: 12\nh: -3\ni: 1.5\nj: 0x1f\nk: ~\nl:\nm: '12'\nn: \"true\"\no: 012345678\np: .inf\nq: 1e3\n",
    );
    assert_eq!(
        p.value,
        json!({"a": "no", "b": "off", "c": "NO", "d": "yes", "e": true, "f": false,
                   "g": 12, "h": -3, "i": 1.5, "j": 31, "k": null, "l": null, "m": "12",
                   "n": "true", "o": 12345678, "p": ".inf", "q": 1000.0})
    );
}

#[test]
fn records_spans_of_keys_and_values() {
    let text = "scopes:\n  - name: acme:x\n    grants: [\"974760673\"]\n";
    let p = ok(text);
    let name = p.spans.get("/scopes/0/name").unwrap();
    assert_eq!(&text[name.value.offset()..end_of(name.value)], "acme:x");
    assert_eq!(
        &text[name.key.unwrap().offset()..end_of(name.key.unwrap())],
        "name"
    );
    let grant = p.spans.get("/scopes/0/grants/0").unwrap();
    assert_eq!(
        &text[grant.value.offset()..end_of(grant.value)],
        "\"974760673\""
    );
    // A pointer below a scalar falls back to the nearest node.
    assert_eq!(p.spans.nearest("/scopes/0/name/x"), Some(name));
}

#[test]
fn pointers_follow_escaped_keys_and_stop_at_aliases_and_missing_nodes() {
    let text = "a/b: 1\n\"x~y\": 2\nlist: [p, q]\nbase: &b {k: v}\ncopy: *b\n";
    let p = ok(text);
    let at = |pointer: &str| {
        let span = p.spans.get(pointer).unwrap().value;
        &text[span.offset()..end_of(span)]
    };
    assert_eq!(at("/a~1b"), "1");
    assert_eq!(at("/x~0y"), "2");
    assert_eq!(at("/list/1"), "q");
    assert_eq!(at("/base/k"), "v");
    // An alias has its own span and no children: below it, the alias is the nearest node.
    assert_eq!(at("/copy"), "*b");
    assert_eq!(p.spans.get("/copy/k"), None);
    assert_eq!(p.spans.nearest("/copy/k"), p.spans.get("/copy"));
    // Missing or malformed segments stop at the deepest node that exists.
    assert_eq!(p.spans.get("/list/2"), None);
    assert_eq!(p.spans.nearest("/list/x"), p.spans.get("/list"));
    assert_eq!(p.spans.nearest("/nothing"), p.spans.get(""));
}

#[test]
fn spans_end_at_the_content_not_at_a_comment_after_it() {
    let text = "a: \"x\" # why\nb:\n  - p\n\n# next\nc: 'y'\n";
    let p = ok(text);
    let at = |pointer: &str| {
        let span = p.spans.get(pointer).unwrap().value;
        &text[span.offset()..end_of(span)]
    };
    assert_eq!(at("/a"), "\"x\"");
    assert_eq!(at("/b"), "- p");
    assert_eq!(at("/c"), "'y'");
}

#[test]
fn a_problem_in_the_first_document_comes_before_a_second_document() {
    assert_eq!(err("a: !foo x\n---\nb: 2\n")[0].code, Code::YamlTag);
}

#[test]
fn spans_are_byte_offsets_in_non_ascii_text() {
    let text = "description: blåbær\nname: x\n";
    let p = ok(text);
    let name = p.spans.get("/name").unwrap().value;
    assert_eq!(&text[name.offset()..end_of(name)], "x");
}

#[test]
fn duplicate_keys_are_errors_pointing_at_both() {
    let text = "a: 1\nb: 2\na: 3\n";
    let problems = err(text);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].code, Code::YamlDuplicateKey);
    assert_eq!(problems[0].span.offset(), 10);
    assert_eq!(problems[0].other.as_ref().unwrap().0.offset(), 0);
}

#[test]
fn alias_expansion_is_bounded() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, prev) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let name = ["b", "c", "d", "e", "f"][i];
        text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
    }
    let problems = err(&text);
    assert_eq!(problems[0].code, Code::YamlTooManyNodes);
}

#[test]
fn node_bound_stops_the_scan_early() {
    let text = format!("[{}a]", "a, ".repeat(2 * MAX_NODES));
    let problems = err(&text);
    assert_eq!(problems[0].code, Code::YamlTooManyNodes);
    // Refused at the first node past the bound, not at the end of the text.
    assert!(problems[0].span.offset() < text.len() / 2 + 10);
}

#[test]
fn large_documents_without_aliases_are_fine() {
    let mut text = String::from("scopes:\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "  - {{ name: \"acme:s{i}\", grants: [\"974760673\", \"889640782\"] }}\n"
        ));
    }
    assert_eq!(
        ok(&text).value["scopes"].as_array().map(Vec::len),
        Some(3000)
    );
}

#[test]
fn small_aliases_expand() {
    let p = ok("a: &x {k: v}\nb: *x\n");
    assert_eq!(p.value, json!({"a": {"k": "v"}, "b": {"k": "v"}}));
}

#[test]
fn tabs_in_indentation_get_a_clear_message() {
    let problems = err("a:\n\tb: 1\n");
    assert_eq!(problems[0].code, Code::YamlTab);
}

#[test]
fn several_documents_are_refused() {
    let problems = err("a: 1\n---\nb: 2\n");
    assert_eq!(problems[0].code, Code::YamlMultipleDocuments);
}

#[test]
fn a_second_document_is_underlined_on_character_boundaries() {
    let problems = err("a: 1\n---\nb: 2\n");
    assert_eq!((problems[0].span.offset(), problems[0].span.len()), (5, 3));
    // An implicit second document starting with a multi-byte character (found by fuzzing:
    // three bytes from `0` cut the line separator after it in two).
    let text = "\u{85}---\n...\n0\u{2028}:";
    let problems = err(text);
    assert_eq!(problems[0].code, Code::YamlMultipleDocuments);
    let span = problems[0].span;
    assert!(text.is_char_boundary(span.offset()));
    assert!(text.is_char_boundary(span.offset() + span.len()));
}

#[test]
fn custom_tags_are_refused_and_str_tag_is_honoured() {
    assert_eq!(err("a: !foo x\n")[0].code, Code::YamlTag);
    assert_eq!(ok("a: !!str 12\n").value, json!({"a": "12"}));
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(err(&text)[0].code, Code::YamlTooDeep);
}

#[test]
fn syntax_errors_are_located() {
    let problems = err("a: [1, 2\nb: 3\n");
    assert_eq!(problems[0].code, Code::YamlSyntax);
}

proptest::proptest! {
    #[test]
    fn arbitrary_yaml_like_text_never_panics(text in "[a-z0-9:&*!\\[\\]{}, \\-\n\t\"'#|>~.%@`?]{0,120}") {
        let _ = parse(&text);
    }

    #[test]
    fn spans_always_lie_inside_the_text(text in "[a-zé: \\-\n\\[\\]{},]{0,80}") {
        if let Ok(parsed) = parse(&text) {
            for span in parsed.spans.all() {
                proptest::prop_assert!(end_of(span.value) <= text.len());
                proptest::prop_assert!(text.is_char_boundary(span.value.offset()));
                proptest::prop_assert!(text.is_char_boundary(end_of(span.value)));
            }
        }
    }
}

#[test]
fn empty_documents_are_null() {
    assert_eq!(ok("").value, Value::Null);
    assert_eq!(ok("# only a comment\n").value, Value::Null);
}
