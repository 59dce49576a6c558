//! Fuzzing the manifest loader and validator with generated input: arbitrary bytes, "YAML soup"
//! (random text over YAML's significant characters), valid manifests mutated in their structure
//! (YAML tree edits: deleted, replaced, wrapped, renamed and duplicated nodes) and in their text,
//! deep nesting in every collection style, and anchor/alias graphs (bombs, merge keys, aliases as
//! keys, undefined and self-referencing aliases).
//!
//! Every case is loaded from a file through [`mpctl::manifest::load::load_at`] and its diagnostics
//! rendered, on a worker thread with a default-sized stack, with a time limit and an allocation
//! limit (a counting global allocator measures the worker's peak heap). Invariants: no panic, no
//! hang, bounded memory, and every rejected manifest gets at least one error, each error with a
//! help line and a position inside its file.
//!
//! Budget: `MPCTL_FUZZ_CASES` cases per generator (default 64, which keeps this file well under
//! 20 s in a debug build), always the same cases by default so that CI is reproducible. Run
//! longer by hand, e.g. `MPCTL_FUZZ_CASES=20000 cargo test --test bench_fuzz`: new cases each
//! time (`MPCTL_FUZZ_SEED=N` fixes them). A failing input is saved in a
//! `fuzz-crash-<test>` directory of the target's temporary directory (the message names it); once
//! fixed it is committed under `tests/fixtures/fuzz/`, whose every file
//! [`committed_regression_inputs_load_without_panicking`] loads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mpctl::manifest::Diagnostics;
use mpctl::manifest::diagnostics::Severity;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Allocation accounting: per-thread current and peak heap bytes.

/// Wraps the system allocator and counts, per thread, the bytes it holds and their peak.
struct CountingAllocator;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note_allocation(delta: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping only touches
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_allocation(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) };
        note_allocation(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_allocation(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's pointer, layout and size.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note_allocation(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

// ---------------------------------------------------------------------------------------------
// Running one case.

/// The longest one case may take (debug build, two busy cores shared with other work).
const CASE_TIME_LIMIT: Duration = Duration::from_secs(20);
/// The most heap one case may hold at once beyond what its thread held when it started.
const CASE_HEAP_LIMIT: isize = 64 * 1024 * 1024;
/// A fixed "now" so that key-expiry checks do not depend on the day the test runs.
const NOW: i64 = 1_795_564_800;

/// What one case did, measured on its worker thread.
struct Outcome {
    elapsed: Duration,
    peak_heap: isize,
    /// A broken invariant of the diagnostics, if any.
    broken: Option<String>,
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A fresh directory holding `files` (relative path → bytes) and the example key files under
/// `keys/`, so that mutated key references can resolve to real keys.
fn case_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let keys = dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap_or_else(|e| panic!("keys directory: {e}"));
    let example_keys = examples_dir().join("multi-env/keys");
    for entry in std::fs::read_dir(&example_keys)
        .unwrap_or_else(|e| panic!("{}: {e}", example_keys.display()))
        .flatten()
    {
        let _ = std::fs::copy(entry.path(), keys.join(entry.file_name()));
    }
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    dir
}

/// Checks what the loader said about an input: a rejected manifest has errors, and each error
/// says how to fix it and where.
fn diagnostics_invariants(
    result: &Result<(mpctl::manifest::LoadedManifest, Diagnostics), Diagnostics>,
) -> Option<String> {
    let diagnostics = match result {
        Ok((_, warnings)) => warnings,
        Err(problems) => {
            if !problems.has_errors() {
                return Some("rejected without an error".into());
            }
            problems
        }
    };
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    for d in diagnostics.iter() {
        let mut out = String::new();
        if let Err(e) = handler.render_report(&mut out, d) {
            return Some(format!("{}: rendering failed: {e}", d.code));
        }
        let _ = d.to_json();
        let _ = d.github_annotation();
        if d.severity == Severity::Error && d.help.as_deref().is_none_or(str::is_empty) {
            return Some(format!("{} has no help: {}", d.code, d.message));
        }
        for label in &d.labels {
            let text = label.file.text();
            let end = label.span.offset() + label.span.len();
            if end > text.len()
                || !text.is_char_boundary(label.span.offset())
                || !text.is_char_boundary(end)
            {
                return Some(format!(
                    "{}: span {:?} outside the text of {} ({} bytes)",
                    d.code,
                    label.span,
                    label.file.name(),
                    text.len()
                ));
            }
        }
    }
    None
}

/// Loads the manifest in `dir` on a worker thread and measures it.
fn run_case(dir: &Path) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    let path = dir.to_path_buf();
    let worker = std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let start_heap = HELD.with(Cell::get);
            PEAK.with(|p| p.set(start_heap));
            let started = Instant::now();
            let result = mpctl::manifest::load::load_at(&[path], NOW);
            let broken = diagnostics_invariants(&result);
            drop(result);
            let outcome = Outcome {
                elapsed: started.elapsed(),
                peak_heap: PEAK.with(Cell::get) - start_heap,
                broken,
            };
            let _ = tx.send(outcome);
        })
        .map_err(|e| format!("cannot start a worker: {e}"))?;
    match rx.recv_timeout(CASE_TIME_LIMIT) {
        Ok(outcome) => {
            let _ = worker.join();
            Ok(outcome)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("no answer within {CASE_TIME_LIMIT:?} (hang?)"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker.join().err().map_or_else(
                || "worker ended without an answer".to_owned(),
                |p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_else(|| "panic".into())
                },
            );
            Err(format!("panicked: {panic}"))
        }
    }
}

/// Writes a failing input where it can be picked up and committed as a regression fixture: one
/// directory per test, overwritten while proptest shrinks, so it ends holding the minimal input.
fn save_failure(files: &[(&str, &[u8])]) -> PathBuf {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", "-");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-crash-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    for (name, bytes) in files {
        let _ = std::fs::write(dir.join(name), bytes);
    }
    dir
}

/// Runs one input (one or more files) and fails the property on any broken invariant.
fn check_files(files: &[(&str, &[u8])]) -> Result<(), TestCaseError> {
    let dir = case_dir(files);
    let failure = match run_case(dir.path()) {
        Err(e) => Some(e),
        Ok(o) if o.elapsed > CASE_TIME_LIMIT / 2 => Some(format!("took {:?}", o.elapsed)),
        Ok(o) if o.peak_heap > CASE_HEAP_LIMIT => {
            Some(format!("held {} MiB of heap", o.peak_heap / (1024 * 1024)))
        }
        Ok(o) => o.broken,
    };
    match failure {
        None => Ok(()),
        Some(why) => {
            let saved = save_failure(files);
            Err(TestCaseError::fail(format!(
                "{why}; input saved in {}",
                saved.display()
            )))
        }
    }
}

fn check_text(text: &[u8]) -> Result<(), TestCaseError> {
    check_files(&[("mpctl.yaml", text)])
}

/// The seed of the suite's own run: the same cases on every `cargo test`, so that a CI run is
/// reproducible. Runs by hand explore instead.
const SUITE_SEED: u64 = 0x6d70_6374_6c5f_667a;

fn config() -> Config {
    let by_hand = std::env::var("MPCTL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    // `MPCTL_FUZZ_SEED=N` replays a run; a run by hand (`MPCTL_FUZZ_CASES`) otherwise draws new
    // cases each time.
    let rng_seed = match std::env::var("MPCTL_FUZZ_SEED")
        .ok()
        .map(|v| v.parse::<u64>())
    {
        Some(Ok(seed)) => RngSeed::Fixed(seed),
        _ if by_hand.is_some() => RngSeed::Random,
        _ => RngSeed::Fixed(SUITE_SEED),
    };
    Config {
        cases: by_hand.unwrap_or(64),
        rng_seed,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        max_shrink_iters: 256,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Seeds: every example and every invalid fixture.

/// The seed corpus: (name, bytes) of the files of one manifest. Bytes, not text: a fixture that
/// is not UTF-8 is a seed too.
fn seeds() -> Vec<Vec<(String, Vec<u8>)>> {
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut seeds = Vec::new();
    for name in [
        "quickstart.yaml",
        "provider-only.yaml",
        "consumer-only.yaml",
    ] {
        seeds.push(vec![(
            "mpctl.yaml".to_owned(),
            read(examples_dir().join(name)),
        )]);
    }
    seeds.push(vec![
        (
            "mpctl.yaml".to_owned(),
            read(examples_dir().join("multi-env/mpctl.yaml")),
        ),
        (
            "clients.yaml".to_owned(),
            read(examples_dir().join("multi-env/clients.yaml")),
        ),
    ]);
    let invalid = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    // A missing directory or an unreadable fixture fails the suite: seeds never go silently.
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&invalid)
        .unwrap_or_else(|e| panic!("{}: {e}", invalid.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", invalid.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    fixtures.sort();
    assert!(
        !fixtures.is_empty(),
        "{} holds no invalid fixtures",
        invalid.display()
    );
    for f in fixtures {
        seeds.push(vec![("mpctl.yaml".to_owned(), read(f))]);
    }
    seeds
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// Field names of the manifest and words that matter to it: structural edits use these so that
/// mutated documents get deep into validation instead of stopping at the first unknown field.
const WORDS: &[&str] = &[
    "version",
    "organization",
    "prefixes",
    "environments",
    "settings",
    "contacts",
    "scopes",
    "clients",
    "overrides",
    "name",
    "description",
    "long_description",
    "visibility",
    "token_type",
    "at_max_age",
    "authorization_max_lifetime",
    "allowed_integration_types",
    "accessible_for_all",
    "enforced_aud_for_access_token",
    "delegation_source",
    "grants",
    "org",
    "protected",
    "keys",
    "path",
    "retire_after",
    "client_ids",
    "renamed_from",
    "access_token_lifetime",
    "notifications",
    "invoice",
    "email",
    "reference",
    "preset",
    "api_url",
    "token_url",
    "audience",
    "prune",
    "mass_destroy_percent",
    "warn_expiry_days",
    "key_refresh_days",
    "local",
    "test",
    "prod",
    "staging",
    "<<",
];

/// Scalars that exercise validation rules and the YAML 1.2 core schema.
fn interesting_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from("974760673")),
        Just(Value::from("910753282")),
        Just(Value::from("123456789")),
        Just(Value::from(974_760_673_u64)),
        Just(Value::from(0)),
        Just(Value::from(-1)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(1)),
        Just(Value::from(1.5)),
        Just(Value::Null),
        Just(Value::Bool(true)),
        Just(Value::Bool(false)),
        Just(Value::from("")),
        Just(Value::from("acme:orders.read")),
        Just(Value::from("acme:")),
        Just(Value::from(":x")),
        Just(Value::from("ACME:Orders")),
        Just(Value::from("keys/order-sync-2027.jwk.json")),
        Just(Value::from("keys/reporting.pub.pem")),
        Just(Value::from("keys")),
        Just(Value::from("../../../../etc/passwd")),
        Just(Value::from("/dev/zero")),
        Just(Value::from("/proc/self/mem")),
        Just(Value::from("2027-01-31")),
        Just(Value::from("2027-13-45")),
        Just(Value::from("9999-99-99")),
        Just(Value::from("a@b.no")),
        Just(Value::from("not an email")),
        Just(Value::from("PUBLIC")),
        Just(Value::from("OPAQUE")),
        Just(Value::from("maskinporten")),
        Just(Value::from("https://example.test/api/v1")),
        Just(Value::from("http://[::1")),
        Just(Value::from("no")),
        Just(Value::from("blåbær ✓ \u{202e}")),
        Just(Value::from("x".repeat(5000))),
        "[a-z:./_-]{0,24}".prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
    ]
}

/// A small random value: scalars, and lists and maps of them.
fn small_value() -> impl Strategy<Value = Value> {
    interesting_scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| ((*k).to_owned(), v)).collect())
            }),
        ]
    })
}

/// One edit of a YAML tree, at the node with index `at` (mod the node count, pre-order).
#[derive(Debug, Clone)]
enum TreeEdit {
    Delete,
    Replace(Value),
    WrapInList,
    WrapInMap(&'static str),
    RenameKey(&'static str),
    InsertKey(&'static str, Value),
    DuplicateInList,
    EmptyCollection,
}

fn tree_edit() -> impl Strategy<Value = (usize, TreeEdit)> {
    let edit = prop_oneof![
        Just(TreeEdit::Delete),
        small_value().prop_map(TreeEdit::Replace),
        Just(TreeEdit::WrapInList),
        prop::sample::select(WORDS).prop_map(TreeEdit::WrapInMap),
        prop::sample::select(WORDS).prop_map(TreeEdit::RenameKey),
        (prop::sample::select(WORDS), small_value()).prop_map(|(k, v)| TreeEdit::InsertKey(k, v)),
        Just(TreeEdit::DuplicateInList),
        Just(TreeEdit::EmptyCollection),
    ];
    (any::<usize>(), edit)
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies `edit` to the `target`-th node (pre-order); `counter` counts nodes visited.
fn edit_node(value: &mut Value, target: usize, counter: &mut usize, edit: &TreeEdit) -> bool {
    let here = *counter;
    *counter += 1;
    if here == target {
        apply_edit_here(value, edit);
        return true;
    }
    match value {
        Value::Array(items) => {
            for i in 0..items.len() {
                let before = *counter;
                let size = count_nodes(&items[i]);
                if target < before + size {
                    if matches!(edit, TreeEdit::Delete) && target == before {
                        items.remove(i);
                        return true;
                    }
                    if matches!(edit, TreeEdit::DuplicateInList) && target == before {
                        let copy = items[i].clone();
                        items.insert(i, copy);
                        return true;
                    }
                    return edit_node(&mut items[i], target, counter, edit);
                }
                *counter += size;
            }
            false
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let before = *counter;
                let size = map.get(&key).map_or(0, count_nodes);
                if target < before + size {
                    match edit {
                        TreeEdit::Delete if target == before => {
                            map.remove(&key);
                            return true;
                        }
                        TreeEdit::RenameKey(new) if target == before => {
                            if let Some(v) = map.remove(&key) {
                                map.insert((*new).to_owned(), v);
                            }
                            return true;
                        }
                        _ => {}
                    }
                    return match map.get_mut(&key) {
                        Some(child) => edit_node(child, target, counter, edit),
                        None => false,
                    };
                }
                *counter += size;
            }
            false
        }
        _ => false,
    }
}

fn apply_edit_here(value: &mut Value, edit: &TreeEdit) {
    match edit {
        TreeEdit::Delete => *value = Value::Null,
        TreeEdit::Replace(v) => *value = v.clone(),
        TreeEdit::WrapInList => *value = Value::Array(vec![value.take()]),
        TreeEdit::WrapInMap(k) => {
            let mut map = Map::new();
            map.insert((*k).to_owned(), value.take());
            *value = Value::Object(map);
        }
        TreeEdit::InsertKey(k, v) => {
            if let Value::Object(map) = value {
                map.insert((*k).to_owned(), v.clone());
            }
        }
        TreeEdit::RenameKey(_) | TreeEdit::DuplicateInList => {}
        TreeEdit::EmptyCollection => match value {
            Value::Array(items) => items.clear(),
            Value::Object(map) => map.clear(),
            _ => *value = Value::Array(Vec::new()),
        },
    }
}

/// One edit of a document's text.
#[derive(Debug, Clone)]
enum TextEdit {
    Insert(usize, String),
    Delete(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, usize),
    Dedent(usize),
    TabIndent(usize),
}

/// Fragments of YAML syntax inserted by text edits.
const FRAGMENTS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "!!str ",
    "!!int ",
    "!!map ",
    "!custom ",
    "<<: *a",
    "? ",
    "|",
    ">-",
    "'",
    "\"",
    "\\",
    "#",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:x:\n",
    "\n",
    "\t",
    " ",
    "  ",
    "\u{feff}",
    "\r\n",
    "\u{85}",
    "\u{2028}",
    "~",
    "null",
    "0x",
    "0o7",
    ".inf",
    "1e999",
    "é",
    "💥",
    "\0",
];

fn text_edit() -> impl Strategy<Value = TextEdit> {
    let fragment = prop_oneof![
        prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        prop::sample::select(WORDS).prop_map(|w| format!("{w}: ")),
        "[ -~]{1,8}",
    ];
    prop_oneof![
        (any::<usize>(), fragment).prop_map(|(at, s)| TextEdit::Insert(at, s)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| TextEdit::Delete(at, n)),
        any::<usize>().prop_map(TextEdit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| TextEdit::SwapLines(a, b)),
        (any::<usize>(), 1usize..6).prop_map(|(l, n)| TextEdit::Indent(l, n)),
        any::<usize>().prop_map(TextEdit::Dedent),
        any::<usize>().prop_map(TextEdit::TabIndent),
    ]
}

fn apply_text_edit(text: &str, edit: &TextEdit) -> String {
    let boundary = |at: usize| {
        if text.is_empty() {
            return 0;
        }
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let n = lines.len();
    match edit {
        TextEdit::Insert(at, s) => {
            let at = boundary(*at);
            format!("{}{s}{}", &text[..at], &text[at..])
        }
        TextEdit::Delete(at, len) => {
            let start = boundary(*at);
            let end = boundary(start.saturating_add(*len).min(text.len()));
            let end = end.max(start);
            format!("{}{}", &text[..start], &text[end..])
        }
        TextEdit::DuplicateLine(l) => {
            let line = lines[l % n].clone();
            lines.insert(l % n, line);
            lines.join("\n")
        }
        TextEdit::SwapLines(a, b) => {
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        TextEdit::Indent(l, by) => {
            lines[l % n].insert_str(0, &" ".repeat(*by));
            lines.join("\n")
        }
        TextEdit::Dedent(l) => {
            let line = &mut lines[l % n];
            let trimmed = line.trim_start().to_owned();
            *line = trimmed;
            lines.join("\n")
        }
        TextEdit::TabIndent(l) => {
            lines[l % n].insert(0, '\t');
            lines.join("\n")
        }
    }
}

/// A seed manifest mutated in its tree (then re-emitted as YAML) and in its text.
#[derive(Debug, Clone)]
struct Mutated {
    seed: usize,
    /// Which file of the seed to mutate.
    file: usize,
    tree: Vec<(usize, TreeEdit)>,
    text: Vec<TextEdit>,
    /// Mutate the original text instead of the re-emitted tree (keeps comments, anchors, style).
    keep_text: bool,
}

fn mutated() -> impl Strategy<Value = Mutated> {
    (
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec(tree_edit(), 0..4),
        prop::collection::vec(text_edit(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(seed, file, tree, text, keep_text)| Mutated {
            seed,
            file,
            tree,
            text,
            keep_text,
        })
}

fn render_mutated(m: &Mutated, seeds: &[Vec<(String, Vec<u8>)>]) -> Vec<(String, Vec<u8>)> {
    let seed = &seeds[m.seed % seeds.len()];
    let target = m.file % seed.len();
    seed.iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            // Edits work on text: a seed that is not UTF-8 goes in as it is.
            let Ok(text) = std::str::from_utf8(bytes) else {
                return (name.clone(), bytes.clone());
            };
            if i != target {
                return (name.clone(), bytes.clone());
            }
            // A seed that is not YAML (some invalid fixtures) has no tree: its text is mutated.
            let tree = if m.keep_text || m.tree.is_empty() {
                None
            } else {
                mpctl::manifest::yaml::parse(text).ok().map(|p| p.value)
            };
            let mut out = match tree {
                None => text.to_owned(),
                Some(mut value) => {
                    for (at, edit) in &m.tree {
                        let nodes = count_nodes(&value);
                        let mut counter = 0;
                        edit_node(&mut value, at % nodes, &mut counter, edit);
                    }
                    // An edited tree that cannot be emitted is a bug of the fuzzer, not an
                    // empty case.
                    serde_yaml_ng::to_string(&value)
                        .unwrap_or_else(|e| panic!("cannot emit the mutated tree: {e}"))
                }
            };
            for edit in &m.text {
                out = apply_text_edit(&out, edit);
            }
            (name.clone(), out.into_bytes())
        })
        .collect()
}

/// Deeply nested documents in each collection style, closed or not.
fn deep_nesting() -> impl Strategy<Value = String> {
    (0usize..5, 1usize..3000, any::<bool>(), any::<bool>()).prop_map(
        |(style, depth, closed, in_manifest)| {
            let mut s = String::new();
            if in_manifest {
                s.push_str("version: 1\norganization: \"910753282\"\nsettings: ");
            }
            match style {
                0 => {
                    s.push_str(&"[".repeat(depth));
                    if closed {
                        s.push_str(&"]".repeat(depth));
                    }
                }
                1 => {
                    s.push_str(&"{a: ".repeat(depth));
                    s.push('x');
                    if closed {
                        s.push_str(&"}".repeat(depth));
                    }
                }
                2 => {
                    s.push('\n');
                    for i in 0..depth.min(400) {
                        let _ = writeln!(s, "{}- ", " ".repeat(2 + i * 2));
                    }
                }
                3 => {
                    s.push('\n');
                    for i in 0..depth.min(400) {
                        let _ = writeln!(s, "{}k{i}:", " ".repeat(2 + i));
                    }
                }
                _ => {
                    s.push_str(&"- [{a: ".repeat(depth / 3 + 1));
                    if closed {
                        s.push_str(&"}]".repeat(depth / 3 + 1));
                    }
                }
            }
            s.push('\n');
            s
        },
    )
}

/// Anchor/alias graphs: each level aliases the previous one `width` times (an alias bomb when
/// wide and deep), optionally with merge keys, aliases as keys, undefined and self references,
/// all placed where a manifest could use them.
fn alias_graph() -> impl Strategy<Value = String> {
    (1usize..12, 1usize..12, 0usize..6, any::<bool>()).prop_map(|(levels, width, twist, flow)| {
        let mut s = String::from(
            "version: 1\norganization: \"910753282\"\nprefixes: [acme]\nenvironments: {local: {}}\n",
        );
        s.push_str("scopes:\n  - name: acme:a\n    description: &d0 [\"974760673\", \"910753282\"]\n");
        for level in 1..levels {
            let refs = vec![format!("*d{}", level - 1); width];
            if flow {
                let _ = writeln!(
                    s,
                    "  - name: acme:l{level}\n    description: &d{level} [{}]",
                    refs.join(", ")
                );
            } else {
                let _ = writeln!(s, "  - name: acme:l{level}\n    description: &d{level}");
                for r in refs {
                    let _ = writeln!(s, "      - {r}");
                }
            }
        }
        let last = levels - 1;
        match twist {
            0 => {
                let _ = writeln!(s, "  - name: acme:g\n    description: x\n    grants: *d{last}");
            }
            1 => {
                let _ = writeln!(
                    s,
                    "  - &m {{name: acme:m, description: x}}\n  - <<: *m\n    name: acme:n"
                );
            }
            2 => {
                let _ = writeln!(s, "  - name: acme:k\n    description: x\n    *d0 : y");
            }
            3 => {
                let _ = writeln!(s, "  - name: acme:u\n    description: *undefined");
            }
            4 => {
                let _ = writeln!(s, "  - &self\n    name: acme:s\n    description: *self");
            }
            _ => {
                let _ = writeln!(s, "clients: &c\n  - name: c\n    scopes: *c");
            }
        }
        s
    })
}

/// Random text over YAML's significant characters and manifest words.
fn yaml_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
        prop::sample::select(WORDS).prop_map(str::to_owned),
        "[a-z0-9 ]{1,6}",
    ];
    prop::collection::vec(piece, 0..200).prop_map(|pieces| pieces.concat())
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_hang_or_blow_up(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_text(&bytes)?;
    }

    #[test]
    fn yaml_soup_never_panics_hangs_or_blows_up(text in yaml_soup()) {
        check_text(text.as_bytes())?;
    }

    #[test]
    fn mutated_valid_manifests_never_panic_hang_or_blow_up(m in mutated()) {
        let files = render_mutated(&m, &seeds());
        let borrowed: Vec<(&str, &[u8])> =
            files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        check_files(&borrowed)?;
    }

    #[test]
    fn deep_nesting_never_panics_hangs_or_blows_up(text in deep_nesting()) {
        check_text(text.as_bytes())?;
    }

    #[test]
    fn anchors_and_aliases_never_panic_hang_or_blow_up(text in alias_graph()) {
        check_text(text.as_bytes())?;
    }
}

// ---------------------------------------------------------------------------------------------
// Fixed cases.

/// Every committed regression input (one file, or a directory for a multi-file manifest) loads
/// within the limits, with the diagnostics invariants holding.
#[test]
fn committed_regression_inputs_load_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        if let Err(e) = check_text(&bytes) {
            panic!("{}: {e}", input.display());
        }
    }
}

/// The unmutated seeds themselves pass the harness (and the valid examples load): a harness
/// that rejected everything would prove nothing.
#[test]
fn seeds_pass_and_valid_examples_load() {
    for seed in seeds() {
        let borrowed: Vec<(&str, &[u8])> = seed
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_slice()))
            .collect();
        if let Err(e) = check_files(&borrowed) {
            panic!("{e}");
        }
    }
    let seeds = seeds();
    let dir = case_dir(&[("mpctl.yaml", seeds[0][0].1.as_slice())]);
    let loaded = mpctl::manifest::load::load_at(&[dir.path().to_path_buf()], NOW);
    assert!(loaded.is_ok(), "the quickstart must load");
}

/// An input just over the size bound is refused before parsing, quickly and with little memory.
#[test]
fn oversized_input_is_refused_cheaply() {
    let mut text = String::from("version: 1\norganization: \"910753282\"\nprefixes:\n");
    while text.len() <= mpctl::manifest::load::MAX_FILE_BYTES as usize {
        text.push_str("  - acme\n");
    }
    let dir = case_dir(&[("mpctl.yaml", text.as_bytes())]);
    let outcome = run_case(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.peak_heap < 8 * 1024 * 1024,
        "held {} bytes",
        outcome.peak_heap
    );
    let err = mpctl::manifest::load::load_at(&[dir.path().to_path_buf()], NOW)
        .err()
        .unwrap_or_else(|| panic!("an oversized file must be refused"));
    assert!(err.iter().any(|d| d.code == "mpctl::file::too_large"));
}

/// A file just under the size bound, all of it one long flow sequence: accepted by the YAML
/// layer only up to the node bound, and refused with that diagnostic, within the limits.
#[test]
fn a_megabyte_of_nodes_is_refused_by_the_node_bound() {
    let mut text = String::from("prefixes: [");
    while text.len() < mpctl::manifest::load::MAX_FILE_BYTES as usize - 16 {
        text.push_str("a, ");
    }
    text.push_str("a]\n");
    let dir = case_dir(&[("mpctl.yaml", text.as_bytes())]);
    let outcome = run_case(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.broken.is_none(), "{:?}", outcome.broken);
    assert!(
        outcome.peak_heap < CASE_HEAP_LIMIT,
        "held {} bytes",
        outcome.peak_heap
    );
    let err = mpctl::manifest::load::load_at(&[dir.path().to_path_buf()], NOW)
        .err()
        .unwrap_or_else(|| panic!("must be refused"));
    assert!(
        err.iter().any(|d| d.code == "mpctl::yaml::too_many_nodes"),
        "{err:?}"
    );
}

/// A document with as many nodes as the bound allows, in under a megabyte: parsed whole (into the
/// span tree, then the value and its span index) within the heap limit.
#[test]
fn a_document_at_the_node_bound_parses_within_the_heap_limit() {
    let mut text = String::from("prefixes: [");
    // The mapping, its key and the sequence are three nodes.
    text.push_str(&"a, ".repeat(mpctl::manifest::yaml::MAX_NODES - 4));
    text.push_str("a]\n");
    assert!(text.len() < mpctl::manifest::load::MAX_FILE_BYTES as usize);
    assert!(
        mpctl::manifest::yaml::parse(&text).is_ok(),
        "within the bound"
    );
    let dir = case_dir(&[("mpctl.yaml", text.as_bytes())]);
    let outcome = run_case(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.peak_heap < CASE_HEAP_LIMIT,
        "held {} bytes",
        outcome.peak_heap
    );
}
