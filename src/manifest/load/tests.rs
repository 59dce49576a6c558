use super::*;

#[test]
fn normalize_drops_dots_and_folds_parents() {
    assert_eq!(normalize(Path::new("./a/./b/../c")), PathBuf::from("a/c"));
    assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
    assert_eq!(normalize(Path::new("/a/b/..")), PathBuf::from("/a"));
}

#[test]
fn first_line_clamps_multi_line_spans() {
    let file = SourceFile::new(Path::new("m.yaml"), "a:\n  b: 1   \n  c: 2\n".into());
    let clamped = first_line(&file, SourceSpan::new(3.into(), 15));
    assert_eq!(clamped, SourceSpan::new(3.into(), 6));
    let single = SourceSpan::new(5.into(), 1);
    assert_eq!(first_line(&file, single), single);
}

#[test]
fn environments_keep_the_order_they_are_listed_in_across_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.yaml"),
        "version: 1\norganization: \"910753282\"\nenvironments:\n  test: {}\n  local: {}\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("b.yaml"), "environments: { prod: {} }\n").expect("write");
    let loaded = crate::manifest::load(&[dir.path().to_path_buf()]).expect("loads");
    assert_eq!(
        loaded.manifest.environment_names(),
        ["test", "local", "prod"]
    );
}

#[test]
fn merged_list_entries_point_into_their_own_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
            dir.path().join("a.yaml"),
            "version: 1\norganization: \"910753282\"\nenvironments: { test: {} }\nclients:\n  - name: one\n",
        )
        .expect("write");
    std::fs::write(
        dir.path().join("b.yaml"),
        "# part\nclients:\n  - name: two\n  - name: three\n",
    )
    .expect("write");
    let files = discover(&[dir.path().to_path_buf()]).expect("files");
    let read: Vec<ReadFile> = files.iter().filter_map(|f| read_file(f).ok()).collect();
    let values = read.iter().map(|f| f.parsed.value.clone()).collect();
    let mut problems = Diagnostics::new();
    let (merged, mut locator) = merge(&read, values, &mut problems);
    assert!(problems.is_empty());
    assert_eq!(merged["clients"][2]["name"], "three");
    locator.files = read
        .into_iter()
        .map(|f| FileSpans {
            source: f.source,
            spans: f.parsed.spans,
        })
        .collect();
    let (file, span) = locator.value("/clients/2/name").expect("located");
    assert!(file.name().ends_with("b.yaml"));
    assert_eq!(file.line_col(span.offset()), (4, 11));
    let (file, _) = locator.value("/organization").expect("located");
    assert!(file.name().ends_with("a.yaml"));
}
