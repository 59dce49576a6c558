//! Where a diagnostic points: JSON pointers into the merged manifest mapped back to a file and
//! a span in it. The loader builds a [`Locator`] as it merges files; validation and the loader
//! use it to place their diagnostics.

use std::collections::HashMap;
use std::sync::Arc;

use miette::SourceSpan;

use super::SourceFile;
use crate::manifest::yaml::SpanIndex;

/// One file of a merged manifest with its positions.
#[derive(Debug, Clone)]
pub(crate) struct FileSpans {
    pub(crate) source: Arc<SourceFile>,
    pub(crate) spans: SpanIndex,
}

/// Finds where a part of the merged manifest came from: JSON pointers into the merged document
/// become a file and a span in it.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    /// The files, the root first (filled in by the loader as it merges them).
    pub(crate) files: Vec<FileSpans>,
    /// Top-level key → file that provided it.
    pub(crate) top: HashMap<String, usize>,
    /// For `scopes`, `clients`, `prefixes`: merged index → (file, index in that file).
    pub(crate) lists: HashMap<String, Vec<(usize, usize)>>,
    /// For `environments`, `overrides`, `organizations`: entry name → file (the first).
    pub(crate) maps: HashMap<String, HashMap<String, usize>>,
}

impl Locator {
    /// A locator for a manifest of one file.
    pub fn single(source: Arc<SourceFile>, spans: SpanIndex) -> Self {
        Self {
            files: vec![FileSpans { source, spans }],
            ..Self::default()
        }
    }

    fn resolve(&self, pointer: &str) -> Option<(&FileSpans, String)> {
        if self.files.len() == 1 {
            return self.files.first().map(|f| (f, pointer.to_owned()));
        }
        let mut segs = pointer.splitn(4, '/').skip(1);
        let top = segs.next().unwrap_or_default();
        let second = segs.next();
        let rest = segs.next();
        let tail = |s: Option<&str>| s.map(|r| format!("/{r}")).unwrap_or_default();
        if let (Some(list), Some(idx)) = (self.lists.get(top), second) {
            let (file, local) = idx
                .parse::<usize>()
                .ok()
                .and_then(|i| list.get(i).copied())?;
            return Some((
                self.files.get(file)?,
                format!("/{top}/{local}{}", tail(rest)),
            ));
        }
        if let (Some(map), Some(name)) = (self.maps.get(top), second) {
            let unescaped = name.replace("~1", "/").replace("~0", "~");
            if let Some(&file) = map.get(&unescaped) {
                return Some((self.files.get(file)?, pointer.to_owned()));
            }
        }
        let file = self.top.get(top).copied().unwrap_or(0);
        Some((self.files.get(file)?, pointer.to_owned()))
    }

    /// The key of the node at `pointer` (e.g. a field name), else its value; clamped to its
    /// first line.
    pub fn key_or_value(&self, pointer: &str) -> Option<(Arc<SourceFile>, SourceSpan)> {
        let (file, local) = self.resolve(pointer)?;
        let span = file.spans.key_or_value(&local)?;
        Some((Arc::clone(&file.source), first_line(&file.source, span)))
    }

    /// The value of the node at `pointer` (or its nearest ancestor), clamped to its first line.
    pub fn value(&self, pointer: &str) -> Option<(Arc<SourceFile>, SourceSpan)> {
        let (file, local) = self.resolve(pointer)?;
        let span = file.spans.value(&local)?;
        Some((Arc::clone(&file.source), first_line(&file.source, span)))
    }

    /// The file that holds the node at `pointer`.
    pub fn file(&self, pointer: &str) -> Option<Arc<SourceFile>> {
        self.resolve(pointer).map(|(f, _)| Arc::clone(&f.source))
    }
}

/// Cuts a span to the end of its first line, so that a mapping is underlined by its first line
/// rather than by a block of many.
pub(crate) fn first_line(file: &SourceFile, span: SourceSpan) -> SourceSpan {
    let start = span.offset();
    let text = file.text();
    let end = (start + span.len()).min(text.len());
    let Some(slice) = text.get(start..end) else {
        return span;
    };
    match slice.find('\n') {
        Some(i) => SourceSpan::new(start.into(), slice[..i].trim_end().len()),
        None => span,
    }
}
