//! The library's top-level modules form layers, and a module uses only the layers below it:
//! manifest → api → plan → render/apply → commands. The test reads every `crate::X` path in
//! `src/` (comments aside) and fails on an edge that goes up or sideways, which is how an import
//! cycle between top-level modules starts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first. A module may use only modules of lower layers.
const LAYERS: &[&[&str]] = &[
    &["diagnostic_code", "digest", "secret"],
    &["clock"],
    &["manifest"],
    &["state"],
    &["emulator"],
    &["api"],
    &["plan"],
    &["apply", "import", "keys", "render"],
    &["engine"],
    &["bench"],
    &["cli"],
    &["printer"],
    &["commands"],
];

#[test]
fn top_level_modules_use_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = module_edges(&src);
    assert!(
        edges.contains_key(&("commands".to_owned(), "manifest".to_owned())),
        "the scan found no `crate::manifest` in src/commands: it reads nothing ({edges:?})"
    );
    let rank = |module: &str| LAYERS.iter().position(|layer| layer.contains(&module));
    let mut wrong = Vec::new();
    let modules: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    for module in modules {
        if rank(module).is_none() {
            wrong.push(format!(
                "`{module}` is in no layer: add it to LAYERS in {}",
                file!()
            ));
        }
    }
    for ((from, to), file) in &edges {
        let (Some(a), Some(b)) = (rank(from), rank(to)) else {
            continue;
        };
        if b >= a {
            wrong.push(format!(
                "{from} -> {to} (first in {file}): `{to}` is not in a layer below `{from}`"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Edges `(from, to)` between top-level modules, with the first file that makes each.
fn module_edges(src: &Path) -> BTreeMap<(String, String), String> {
    let mut edges = BTreeMap::new();
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    files.sort();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative.components().next().unwrap().as_os_str();
        let top = top.to_str().unwrap().trim_end_matches(".rs").to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .map(without_strings)
            .collect::<Vec<_>>()
            .join("\n");
        for used in used_modules(&code) {
            if used != top {
                edges
                    .entry((top.clone(), used))
                    .or_insert_with(|| relative.display().to_string());
            }
        }
    }
    edges
}

/// `line` with the contents of its string literals left out: a path in a string (a message, or
/// a test that searches source text) is not a use.
fn without_strings(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_string = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            // A quote as a character literal opens no string.
            (false, '\'') if chars.as_str().starts_with("\"'") => {
                out.push_str("'\"'");
                chars.nth(1);
            }
            (false, '"') => {
                in_string = true;
                out.push(c);
            }
            (false, _) => out.push(c),
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                out.push(c);
            }
            (true, _) => {}
        }
    }
    out
}

/// The top-level modules `code` names after `crate::`, including each of `crate::{a, b::c}`.
fn used_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group's top level on commas: nested braces belong to their item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        found.insert(ident(&group[i..]));
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn paths_in_strings_are_not_uses() {
    let line = r#"let q = '"'; let m = format!("crate::{module} \" crate::x"); crate::api::f();"#;
    let code = without_strings(line);
    let names: Vec<String> = used_modules(&code).into_iter().collect();
    assert_eq!(names, ["api"]);
}

#[test]
fn grouped_and_nested_paths_are_read() {
    let found =
        used_modules("use crate::{api::x, plan::{A, B}, state};\nlet _ = crate::render::f();");
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["api", "plan", "render", "state"]);
}
