//! `--base REF`: the manifest at a base revision, read with the git CLI, so that plan and apply
//! show a manual step (contacts, invoice data: no API) only when this change made it.
//!
//! Choices: the base is `--base REF`, else, in a GitHub pull request, `origin/$GITHUB_BASE_REF`
//! (the workflow's checkout must fetch it). The manifest's files are read at the base by their
//! paths relative to the repository's top level (`git show REF:path`); a file missing there is
//! new. An explicit `--base` that git cannot read is an error; a base found from the
//! environment that cannot be read is a warning, and every step is shown with the note.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diagnostic_code::Code;
use crate::manifest::LoadedManifest;
use crate::plan::Plan;
use crate::plan::manual::{ContactsView, NO_BASE_NOTE, keep_new};
use crate::printer::Printer;

/// The environment variable GitHub Actions sets to a pull request's base branch.
const GITHUB_BASE_REF: &str = "GITHUB_BASE_REF";

/// Where the base revision comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    /// `--base REF`.
    Explicit(String),
    /// `origin/$GITHUB_BASE_REF` in a GitHub pull request.
    PullRequest(String),
    None,
}

impl BaseRef {
    /// `--base` if given, else the pull request's base branch from the environment.
    pub fn choose(flag: Option<&str>) -> Self {
        if let Some(r) = flag.map(str::trim).filter(|r| !r.is_empty()) {
            return Self::Explicit(r.to_owned());
        }
        match std::env::var(GITHUB_BASE_REF) {
            Ok(branch) if !branch.trim().is_empty() => {
                Self::PullRequest(format!("origin/{}", branch.trim()))
            }
            _ => Self::None,
        }
    }
}

/// Keeps only the manual steps this change made (or, without a base, keeps them all with a
/// note saying how to see only new ones).
pub fn filter_manual_steps(
    plan: &mut Plan,
    loaded: &LoadedManifest,
    base: &BaseRef,
    printer: &Printer,
) -> miette::Result<()> {
    let (git_ref, explicit) = match base {
        BaseRef::Explicit(r) => (r, true),
        BaseRef::PullRequest(r) => (r, false),
        BaseRef::None => {
            note_all(plan);
            return Ok(());
        }
    };
    let base_view = match read_at(git_ref, &loaded.files) {
        Ok(view) => view,
        Err(message) if explicit => {
            miette::bail!(
                code = Code::BaseUnreadable,
                help = "give a revision git knows, e.g. `--base origin/main` (fetch it first in CI: `git fetch origin main`)",
                "cannot read the manifest at --base {git_ref}: {message}"
            );
        }
        Err(message) => {
            printer.status(&format!(
                "warning: cannot read the manifest at the pull request's base {git_ref} ({message}); showing every manual step"
            ));
            note_all(plan);
            return Ok(());
        }
    };
    let current = serde_json::to_value(&loaded.manifest)
        .ok()
        .and_then(|v| ContactsView::of_value(&v))
        .unwrap_or_default();
    for env in &mut plan.environments {
        keep_new(env, &base_view, &current);
    }
    Ok(())
}

fn note_all(plan: &mut Plan) {
    for env in &mut plan.environments {
        if !env.manual_steps.is_empty() {
            env.manual_steps_note = Some(NO_BASE_NOTE.to_owned());
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))
}

fn stderr_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or("git failed")
        .to_owned()
}

/// The contacts of the manifest made of `files` (as they are now) at revision `git_ref`.
fn read_at(git_ref: &str, files: &[PathBuf]) -> Result<ContactsView, String> {
    let Some(first) = files.first() else {
        return Ok(ContactsView::default());
    };
    let first = std::fs::canonicalize(first).map_err(|e| e.to_string())?;
    let dir = first.parent().unwrap_or(Path::new("."));
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !top.status.success() {
        return Err(format!("not in a git repository ({})", stderr_line(&top)));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let top = std::fs::canonicalize(&top).unwrap_or(top);
    let commit = format!("{git_ref}^{{commit}}");
    let verify = git(&top, &["rev-parse", "--verify", "--quiet", &commit])?;
    if !verify.status.success() {
        return Err(format!("git knows no revision `{git_ref}`"));
    }
    let mut views = Vec::new();
    for file in files {
        let path = std::fs::canonicalize(file).map_err(|e| e.to_string())?;
        let Ok(relative) = path.strip_prefix(&top) else {
            return Err(format!("{} is outside the repository", file.display()));
        };
        let spec = format!("{git_ref}:{}", relative.to_string_lossy());
        let exists = git(&top, &["cat-file", "-e", &spec])?;
        if !exists.status.success() {
            continue; // a file this change adds
        }
        let shown = git(&top, &["show", &spec])?;
        if !shown.status.success() {
            return Err(stderr_line(&shown));
        }
        let text = String::from_utf8_lossy(&shown.stdout);
        // A base file that does not parse, or whose contacts are of another shape, counts as
        // having none: its steps are then shown.
        if let Ok(parsed) = crate::manifest::yaml::parse(&text)
            && let Some(view) = ContactsView::of_value(&parsed.value)
        {
            views.push(view);
        }
    }
    Ok(ContactsView::merge(views))
}
