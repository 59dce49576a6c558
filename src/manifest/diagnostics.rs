//! Problems found in manifests, located in their source files.
//!
//! A [`Diagnostic`] is one problem: a stable code (`mpctl::orgno::check_digit`), a message, a
//! help line that says how to fix it, and labels pointing into source files. [`Diagnostics`]
//! collects every problem of a run so that all of them are reported at once; it implements
//! [`miette::Diagnostic`] (each problem is a related diagnostic) and renders as plain or
//! coloured text, as JSON for tools, and as GitHub workflow annotations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode, SourceSpan,
};
use serde_json::json;

use crate::diagnostic_code::Code;

mod locator;
pub use locator::Locator;
pub(crate) use locator::{FileSpans, first_line};

/// A source file a diagnostic points into: its display name and full text.
pub struct SourceFile {
    path: PathBuf,
    name: String,
    text: Arc<String>,
    named: NamedSource<Arc<String>>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps a file's text; `path` is shown as given (relative paths stay relative).
    pub fn new(path: &Path, text: String) -> Arc<Self> {
        let name = path.display().to_string();
        let text = Arc::new(text);
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(Self {
            path: path.to_path_buf(),
            named: NamedSource::new(name.clone(), Arc::clone(&text)),
            name,
            text,
            line_starts,
        })
    }

    /// The path the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name shown in diagnostics.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line.max(1), col + 1)
    }

    /// The byte span of the 1-based line `line` without its line break (empty past the end).
    pub fn line_span(&self, line: usize) -> SourceSpan {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return SourceSpan::new(self.text.len().into(), 0);
        };
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let end = if self.text[..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        SourceSpan::new(start.into(), end - start)
    }
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How bad a problem is. Errors make a manifest invalid; warnings are reported only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// A secondary location of another diagnostic ("first defined here").
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A place in a source file, with an optional short text shown under the underline.
#[derive(Debug, Clone)]
pub struct Label {
    /// The file the span is in.
    pub file: Arc<SourceFile>,
    /// Byte offset and length in the file's text.
    pub span: SourceSpan,
    /// What to print under the underline.
    pub text: Option<String>,
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Error, warning, or a note attached to another diagnostic.
    pub severity: Severity,
    /// Stable identifier of the rule, e.g. `mpctl::scope::prefix`.
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Locations; the first is the primary one. Labels in other files than the primary label's
    /// are rendered as related notes.
    pub labels: Vec<Label>,
    others: Vec<Diagnostic>,
}

impl Diagnostic {
    /// A new error with code and message.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }

    /// A new warning with code and message.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }

    fn new(severity: Severity, code: Code, message: impl Into<String>) -> Self {
        Self {
            severity,
            code,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            others: Vec::new(),
        }
    }

    /// Adds the help line.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a location. The first location added is the primary one.
    #[must_use]
    pub fn at(mut self, file: &Arc<SourceFile>, span: SourceSpan, text: impl Into<String>) -> Self {
        let text: String = text.into();
        let text = (!text.is_empty()).then_some(text);
        let same_file = self
            .labels
            .first()
            .is_none_or(|primary| Arc::ptr_eq(&primary.file, file));
        if !same_file {
            let mut note = Diagnostic::new(
                Severity::Note,
                self.code,
                text.clone().unwrap_or_else(|| "related location".into()),
            );
            note.labels.push(Label {
                file: Arc::clone(file),
                span,
                text: text.clone(),
            });
            self.others.push(note);
        }
        self.labels.push(Label {
            file: Arc::clone(file),
            span,
            text,
        });
        self
    }

    /// Whether this is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary location: file, and 1-based start and end (exclusive) line and column.
    pub fn position(&self) -> Option<Position> {
        let label = self.labels.first()?;
        let start = label.span.offset();
        let (line, column) = label.file.line_col(start);
        let (end_line, end_column) = label.file.line_col(start + label.span.len());
        Some(Position {
            file: label.file.name().to_owned(),
            line,
            column,
            end_line,
            end_column,
        })
    }

    /// The diagnostic as one JSON object (see [`Diagnostics::to_json`]).
    pub fn to_json(&self) -> serde_json::Value {
        let pos = self.position();
        json!({
            "severity": self.severity.as_str(),
            "code": self.code.as_str(),
            "message": self.message,
            "help": self.help,
            "file": pos.as_ref().map(|p| p.file.clone()),
            "line": pos.as_ref().map(|p| p.line),
            "column": pos.as_ref().map(|p| p.column),
            "end_line": pos.as_ref().map(|p| p.end_line),
            "end_column": pos.as_ref().map(|p| p.end_column),
        })
    }

    /// The diagnostic as a GitHub workflow command (`::error file=…,line=…,col=…::message`).
    pub fn github_annotation(&self) -> String {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut props = vec![format!("title={}", escape_property(self.code.as_str()))];
        if let Some(pos) = self.position() {
            props.insert(0, format!("file={}", escape_property(&pos.file)));
            props.insert(1, format!("line={}", pos.line));
            props.insert(2, format!("col={}", pos.column));
            props.insert(3, format!("endLine={}", pos.end_line));
            if pos.end_line == pos.line {
                props.insert(4, format!("endColumn={}", pos.end_column));
            }
        }
        let mut message = self.message.clone();
        if let Some(help) = &self.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        format!("::{level} {}::{}", props.join(","), escape_data(&message))
    }
}

/// Where a diagnostic points: 1-based lines and columns (columns count characters; the end is
/// exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file's name as shown.
    pub file: String,
    /// Start line.
    pub line: usize,
    /// Start column.
    pub column: usize,
    /// End line.
    pub end_line: usize,
    /// End column (exclusive).
    pub end_column: usize,
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.labels
            .first()
            .map(|l| &l.file.named as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = self.labels.first()?;
        Some(Box::new(
            self.labels
                .iter()
                .enumerate()
                .filter(|(_, l)| Arc::ptr_eq(&l.file, &primary.file))
                .map(|(i, l)| {
                    let (text, span) = drawable(l);
                    if i == 0 {
                        LabeledSpan::new_primary_with_span(text, span)
                    } else {
                        LabeledSpan::new_with_span(text, span)
                    }
                }),
        ))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.others.is_empty() {
            return None;
        }
        Some(Box::new(
            self.others.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// Labels starting further right on their line than this are drawn at the line's start.
///
/// miette pads each underline with a `format!` width, which panics past 65,535 columns; and an
/// underline that far right helps nobody. The label's text names the real column instead.
pub const MAX_DRAWN_COLUMN: usize = 1000;

/// The label text and span to draw for `label` (see [`MAX_DRAWN_COLUMN`]).
fn drawable(label: &Label) -> (Option<String>, SourceSpan) {
    let (line, column) = label.file.line_col(label.span.offset());
    if column <= MAX_DRAWN_COLUMN {
        return (label.text.clone(), label.span);
    }
    let start = label.file.line_span(line).offset();
    let text = format!(
        "{} at column {column}",
        label.text.as_deref().unwrap_or("here")
    );
    (Some(text), SourceSpan::new(start.into(), 0))
}

/// Every problem found in a run. Errors make the manifest invalid; warnings alone do not.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds every problem of another collection.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// Whether there are no problems at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The problems in the order found.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// Sorts problems by file, then position, keeping the order of equal ones.
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| {
            d.labels
                .first()
                .map(|l| (l.file.name().to_owned(), l.span.offset()))
        });
    }

    /// The names of the files with at least one error.
    /// Drops a diagnostic that repeats an earlier one (same code, message and position).
    pub fn dedup_same(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.items.retain(|d| {
            let at = d.position().map(|p| (p.file, p.line, p.column));
            seen.insert((d.code, d.message.clone(), at))
        });
    }

    /// The line under a report with errors: "2 errors in 1 file".
    pub fn error_summary(&self) -> String {
        let files = self.files_with_errors().len().max(1);
        format!(
            "{} in {files} file{}",
            count_phrase(self.error_count(), self.warning_count()),
            if files == 1 { "" } else { "s" }
        )
    }

    pub fn files_with_errors(&self) -> std::collections::BTreeSet<String> {
        self.items
            .iter()
            .filter(|d| d.is_error())
            .filter_map(|d| d.labels.first().map(|l| l.file.name().to_owned()))
            .collect()
    }

    /// A JSON array of `{severity, code, message, help, file, line, column, end_line,
    /// end_column}` objects (position fields are `null` for problems without a location).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(self.items.iter().map(Diagnostic::to_json).collect())
    }

    /// One GitHub workflow command per problem, newline-terminated.
    pub fn github_annotations(&self) -> String {
        self.items
            .iter()
            .map(|d| d.github_annotation() + "\n")
            .collect()
    }

    /// Renders every problem for people: the message, the file with line and column, the YAML
    /// with the problem underlined, and the help line. `width` bounds line length.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let mut out = String::new();
        for diagnostic in &self.items {
            if handler.render_report(&mut out, diagnostic).is_err() {
                out.push_str(&diagnostic.message);
                out.push('\n');
            }
        }
        out
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Self {
            items: vec![diagnostic],
        }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the manifest is invalid: {}",
            count_phrase(self.error_count(), self.warning_count())
        )
    }
}

impl std::error::Error for Diagnostics {}

impl miette::Diagnostic for Diagnostics {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(Code::ManifestInvalid))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(
            "fix the problems above; `mpctl validate` checks the manifest without touching any API",
        ))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.items.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// "2 errors", "1 error and 1 warning", "3 warnings", "no problems".
pub fn count_phrase(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => "no problems".into(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<SourceFile> {
        SourceFile::new(
            Path::new("m.yaml"),
            "version: 1\norganization: \"123\"\næøå: x\n".into(),
        )
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let f = file();
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(11), (2, 1));
        let offset = f.text().find('x').unwrap();
        assert_eq!(f.line_col(offset), (3, 6));
    }

    #[test]
    fn json_carries_position_and_code() {
        let f = file();
        let d = Diagnostic::error(Code::OrgnoFormat, "bad")
            .with_help("fix it")
            .at(&f, SourceSpan::new(25.into(), 5), "here");
        let v = d.to_json();
        assert_eq!(v["line"], 2);
        assert_eq!(v["column"], 15);
        assert_eq!(v["end_column"], 20);
        assert_eq!(v["code"], Code::OrgnoFormat.as_str());
        assert_eq!(v["help"], "fix it");
    }

    #[test]
    fn github_annotation_escapes_data_and_properties() {
        let f = SourceFile::new(Path::new("a,b.yaml"), "x: 1\n".into());
        let d = Diagnostic::error(Code::YamlSyntax, "50% wrong\nreally").at(
            &f,
            SourceSpan::new(0.into(), 1),
            "",
        );
        assert_eq!(
            d.github_annotation(),
            "::error file=a%2Cb.yaml,line=1,col=1,endLine=1,endColumn=2,title=mpctl%3A%3Ayaml%3A%3Asyntax::50%25 wrong%0Areally"
        );
    }

    #[test]
    fn labels_in_other_files_become_related_notes() {
        let a = file();
        let b = SourceFile::new(Path::new("b.yaml"), "scopes: []\n".into());
        let d = Diagnostic::error(Code::MergeDuplicate, "twice")
            .at(&a, SourceSpan::new(0.into(), 7), "second")
            .at(&b, SourceSpan::new(0.into(), 6), "first defined here");
        let rendered = Diagnostics::from(d).render(false, 80);
        assert!(rendered.contains("m.yaml:1:1"), "{rendered}");
        assert!(rendered.contains("b.yaml:1:1"), "{rendered}");
        assert!(rendered.contains("first defined here"), "{rendered}");
    }

    #[test]
    fn labels_far_right_on_a_long_line_render_at_its_start_naming_the_column() {
        let text = format!("version: 1\nprefixes: [{}x]\n", "a, ".repeat(30_000));
        let at = text.len() - 3;
        let f = SourceFile::new(Path::new("long.yaml"), text);
        let d = Diagnostic::error(Code::YamlSyntax, "far right")
            .with_help("fix it")
            .at(&f, SourceSpan::new(at.into(), 1), "this");
        let rendered = Diagnostics::from(d).render(false, 80);
        assert!(
            rendered.contains("this at column 90012"),
            "{}",
            &rendered[..200.min(rendered.len())]
        );
        assert!(rendered.contains("long.yaml:2:"));
    }

    #[test]
    fn counts_errors_and_warnings() {
        let mut d = Diagnostics::new();
        assert!(!d.has_errors());
        d.push(Diagnostic::warning(Code::EnvUnused, "w"));
        assert!(!d.has_errors());
        d.push(Diagnostic::error(Code::EnvNone, "e"));
        assert!(d.has_errors());
        assert_eq!(
            count_phrase(d.error_count(), d.warning_count()),
            "1 error and 1 warning"
        );
    }
}
