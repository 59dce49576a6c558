//! Merging a manifest's files into one value: each top-level section joined across files, with
//! duplicates and conflicting organisations or names reported against both files.

use super::*;

/// Merges the files' values (taken out of `files`, in the same order) into one manifest value.
pub(super) fn merge(
    files: &[ReadFile],
    values: Vec<Value>,
    problems: &mut Diagnostics,
) -> (Value, Locator) {
    // The files' spans are moved in by the caller once merging is done.
    let mut locator = Locator::default();
    let mut merged = Map::new();
    for (fi, (f, value)) in files.iter().zip(values).enumerate() {
        let Value::Object(obj) = value else {
            continue;
        };
        for (key, value) in obj {
            match key.as_str() {
                "scopes" | "clients" | "prefixes" => {
                    let target = merged
                        .entry(key.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    let origins = locator.lists.entry(key.clone()).or_default();
                    if let (Value::Array(target), Value::Array(items)) = (target, value) {
                        for (i, item) in items.into_iter().enumerate() {
                            if key == "prefixes" && target.contains(&item) {
                                continue;
                            }
                            target.push(item);
                            origins.push((fi, i));
                        }
                    }
                    locator.top.entry(key.clone()).or_insert(fi);
                }
                "environments" | "overrides" => {
                    let target = merged
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    let owners = locator.maps.entry(key.clone()).or_default();
                    if let (Value::Object(target), Value::Object(entries)) = (target, value) {
                        for (name, entry) in entries {
                            if let Some(&first) = owners.get(&name) {
                                let pointer =
                                    format!("/{key}/{}", yaml::escape_pointer_segment(&name));
                                problems.push(duplicate_across_files(
                                    &format!("`{key}.{name}`"),
                                    &files[fi],
                                    &files[first],
                                    &pointer,
                                ));
                                continue;
                            }
                            owners.insert(name.clone(), fi);
                            target.insert(name, entry);
                        }
                    }
                    locator.top.entry(key.clone()).or_insert(fi);
                }
                "organizations" => {
                    let target = merged
                        .entry(key.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                    let owners = locator.maps.entry(key.clone()).or_default();
                    if let (Value::Object(target), Value::Object(entries)) = (target, value) {
                        for (number, name) in entries {
                            match target.get(&number) {
                                None => {
                                    owners.insert(number.clone(), fi);
                                    target.insert(number, name);
                                }
                                // The same name in several files is fine: parts may each
                                // name the organisations they mention.
                                Some(first) if *first == name => {}
                                Some(first) => {
                                    let first_file = owners.get(&number).copied().unwrap_or(0);
                                    problems.push(conflicting_name(
                                        &number,
                                        (&name, f),
                                        (first, &files[first_file]),
                                    ));
                                }
                            }
                        }
                    }
                    locator.top.entry(key.clone()).or_insert(fi);
                }
                "organization" => match merged.get(&key) {
                    None => {
                        locator.top.insert(key.clone(), fi);
                        merged.insert(key, value);
                    }
                    Some(first) if normalize_org(first) == normalize_org(&value) => {}
                    Some(first) => {
                        let first_file = locator.top.get(&key).copied().unwrap_or(0);
                        let mut d = Diagnostic::error(
                            Code::MergeOrganization,
                            format!(
                                "this file is for organisation {}, but the manifest is for {}",
                                normalize_org(&value),
                                normalize_org(first)
                            ),
                        )
                        .with_help("every file of a manifest acts for the same organisation; move this file to its own manifest (a directory with its own `version`)");
                        if let Some(span) = f.parsed.spans.value("/organization") {
                            d = d.at(&f.source, span, "this organisation");
                        }
                        let other = &files[first_file];
                        if let Some(span) = other.parsed.spans.value("/organization") {
                            d = d.at(&other.source, span, "the manifest's organisation");
                        }
                        problems.push(d);
                    }
                },
                _ => {
                    if let Some(&first) = locator.top.get(&key) {
                        problems.push(duplicate_across_files(
                            &format!("`{key}`"),
                            f,
                            &files[first],
                            &format!("/{key}"),
                        ));
                        continue;
                    }
                    locator.top.insert(key.clone(), fi);
                    merged.insert(key, value);
                }
            }
        }
    }
    (Value::Object(merged), locator)
}

fn normalize_org(value: &Value) -> String {
    match value {
        Value::Number(n) => format!("{n:0>9}"),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Two files of a manifest give one organisation number different names.
fn conflicting_name(
    number: &str,
    (name, here): (&Value, &ReadFile),
    (first_name, first): (&Value, &ReadFile),
) -> Diagnostic {
    let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let pointer = format!("/organizations/{}", yaml::escape_pointer_segment(number));
    let mut d = Diagnostic::error(
        Code::MergeOrganizationName,
        format!(
            "organisation {number} is named \"{}\" here but \"{}\" in {}",
            show(name),
            show(first_name),
            first.source.name()
        ),
    )
    .with_help("give each organisation number one name: correct or remove one of them");
    if let Some(span) = here.parsed.spans.value(&pointer) {
        d = d.at(&here.source, first_line(&here.source, span), "this name");
    }
    if let Some(span) = first.parsed.spans.value(&pointer) {
        d = d.at(
            &first.source,
            first_line(&first.source, span),
            "the other name",
        );
    }
    d
}

fn duplicate_across_files(
    what: &str,
    here: &ReadFile,
    first: &ReadFile,
    pointer: &str,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        Code::MergeDuplicate,
        format!("{what} is defined in more than one file of the manifest"),
    )
    .with_help(
        "keep one definition: the files of a manifest merge, and each entry may appear once",
    );
    if let Some(span) = here.parsed.spans.key_or_value(pointer) {
        d = d.at(
            &here.source,
            first_line(&here.source, span),
            "defined again here",
        );
    }
    if let Some(span) = first.parsed.spans.key_or_value(pointer) {
        d = d.at(
            &first.source,
            first_line(&first.source, span),
            "first defined here",
        );
    }
    d
}
