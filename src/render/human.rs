//! The plan for people on a terminal: grouped by environment and phase, one symbol per change
//! (`+` add, `~` change, `-` remove, `±` replace), destructive changes called out, a summary
//! line per environment. Colour only when asked (the [`crate::printer::Printer`] decides).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{Purpose, WordPiece, drift_line, show_expiry, show_value, status_word, word_diff};
use crate::plan::report::ApplyReport;
use crate::plan::{Change, ChangeKind, EnvPlan, ExpiryStatus, Phase, Plan};

struct Paint {
    color: bool,
}

impl Paint {
    fn style(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    fn fg(&self, color: AnsiColor, text: &str) -> String {
        self.style(Style::new().fg_color(Some(color.into())), text)
    }

    fn bold(&self, text: &str) -> String {
        self.style(Style::new().bold(), text)
    }

    fn kind(&self, kind: ChangeKind, text: &str) -> String {
        let color = match kind.symbol() {
            "+" => AnsiColor::Green,
            "~" => AnsiColor::Yellow,
            "-" => AnsiColor::Red,
            _ => AnsiColor::Magenta,
        };
        self.fg(color, text)
    }
}

/// Renders a plan (or drift report) for a terminal.
pub fn render(plan: &Plan, purpose: Purpose, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    for env in &plan.environments {
        render_env(&mut out, env, purpose, &paint);
        out.push('\n');
    }
    if plan.environments.len() > 1 && purpose == Purpose::Plan {
        let _ = writeln!(
            out,
            "{}",
            paint.bold(&format!(
                "Total over {} environments: {}",
                plan.environments.len(),
                plan.summary().line().trim_start_matches("Plan: ")
            ))
        );
    }
    out
}

fn render_env(out: &mut String, env: &EnvPlan, purpose: Purpose, paint: &Paint) {
    let title = match purpose {
        Purpose::Plan => format!("Environment {}", env.env),
        Purpose::Drift => format!("Drift in environment {}", env.env),
    };
    let _ = writeln!(out, "{}", paint.bold(&title));
    if purpose == Purpose::Drift && !env.changes.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            paint.bold("Changed outside mpctl (values: live → manifest):")
        );
        for change in &env.changes {
            render_drift_change(out, change, paint);
        }
    }
    for phase in Phase::ALL.into_iter().filter(|_| purpose == Purpose::Plan) {
        let changes: Vec<&Change> = env.changes.iter().filter(|c| c.phase == phase).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n  {}",
            paint.bold(&format!("Phase {}: {}", phase.number(), phase.title()))
        );
        for change in changes {
            render_change(out, change, paint);
        }
    }
    if !env.manual_steps.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            paint.bold("Manual steps (this environment has no API for them; mpctl cannot check or apply them):")
        );
        for step in &env.manual_steps {
            let _ = writeln!(out, "    • {}", step.description);
            let _ = writeln!(out, "      in {}", step.portal_path.join(" → "));
        }
        if let Some(note) = &env.manual_steps_note {
            let _ = writeln!(out, "    ({note})");
        }
    }
    if !env.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            paint.bold("Unmanaged (live, not in the manifest):")
        );
        for u in &env.unmanaged {
            let note = if u.pruned {
                paint.fg(AnsiColor::Red, "deactivated by this plan (prune)")
            } else {
                "kept; set `prune: true` to deactivate".into()
            };
            let _ = writeln!(out, "    ? {} — {note}", u.resource.label());
        }
    }
    if !env.not_read.is_empty() {
        let _ = writeln!(out, "\n  {}", paint.bold("Not read:"));
        for n in &env.not_read {
            let _ = writeln!(out, "    - {}", n.note);
        }
    }
    let keys = super::sorted_expiries(env);
    if !keys.is_empty() {
        let _ = writeln!(out, "\n  {}", paint.bold("Key expiry:"));
        for k in keys {
            let status = status_word(k.status);
            let status = match k.status {
                ExpiryStatus::Ok => paint.fg(AnsiColor::Green, status),
                ExpiryStatus::Expiring => paint.fg(AnsiColor::Yellow, status),
                ExpiryStatus::Expired => paint.fg(AnsiColor::Red, status),
            };
            let unmanaged = if k.managed { "" } else { " (unmanaged client)" };
            let _ = writeln!(
                out,
                "    {status:<8} {} / {}{unmanaged}: JWK exp {}, certificate {}",
                k.client,
                k.kid,
                show_expiry(k.jwk_exp, k.jwk_exp_days_left),
                show_expiry(k.cert_not_after, k.cert_days_left),
            );
        }
    }
    if !env.errors.is_empty() {
        let heading = match purpose {
            Purpose::Plan => "Errors:",
            Purpose::Drift => "Apply would refuse to correct this drift:",
        };
        let _ = writeln!(out, "\n  {}", paint.fg(AnsiColor::Red, heading));
        for e in &env.errors {
            let _ = writeln!(out, "    ✗ {}", e.message);
            let _ = writeln!(out, "      help: {}", e.help);
        }
    }
    out.push('\n');
    match purpose {
        Purpose::Plan => {
            if env.changes.is_empty() && env.errors.is_empty() {
                let _ = writeln!(out, "  No changes. {} matches the manifest.", env.env);
            } else if env.changes.is_empty() {
                let _ = writeln!(out, "  No changes planned, but the plan has errors.");
            } else {
                let _ = writeln!(out, "  {}", paint.bold(&env.summary().line()));
            }
        }
        Purpose::Drift => match drift_line(env) {
            Some(line) => {
                let _ = writeln!(out, "  {}", paint.fg(AnsiColor::Yellow, &line));
            }
            None => {
                let _ = writeln!(out, "  No drift.");
            }
        },
    }
    let destructive: Vec<&Change> = env.changes.iter().filter(|c| c.destructive).collect();
    if !destructive.is_empty() {
        let n = destructive.len();
        let s = if n == 1 { "" } else { "s" };
        let text = match purpose {
            Purpose::Plan => format!(
                "⚠ {n} destructive change{s} (deactivate, revoke, replace): review before applying."
            ),
            Purpose::Drift => format!(
                "⚠ correcting this drift takes {n} destructive change{s} (deactivate, revoke, replace)."
            ),
        };
        let _ = writeln!(out, "  {}", paint.fg(AnsiColor::Red, &text));
    }
}

/// One drift item: the change told from the live side (see [`super::drift_text`]).
fn render_drift_change(out: &mut String, change: &Change, paint: &Paint) {
    let symbol = super::drift_symbol(change.kind);
    let mut line = format!("{symbol} {}", super::drift_text(change));
    if change.destructive {
        line.push_str("  [destructive]");
    }
    let color = match symbol {
        "+" => AnsiColor::Green,
        "-" => AnsiColor::Red,
        _ => AnsiColor::Yellow,
    };
    let _ = writeln!(out, "    {}", paint.fg(color, &line));
    render_details(out, change, paint);
}

fn render_change(out: &mut String, change: &Change, paint: &Paint) {
    let mut line = format!("{} {}", change.kind.symbol(), change.headline());
    if change.destructive {
        line.push_str("  [destructive]");
    }
    let _ = writeln!(out, "    {}", paint.kind(change.kind, &line));
    render_details(out, change, paint);
}

/// A change's reason and fields, under its line.
fn render_details(out: &mut String, change: &Change, paint: &Paint) {
    if let Some(reason) = &change.reason {
        let _ = writeln!(out, "        why: {reason}");
    }
    for f in &change.fields {
        match word_diff(f) {
            Some(pieces) => {
                let text: String = pieces
                    .iter()
                    .map(|p| match p {
                        WordPiece::Same(s) => s.clone(),
                        WordPiece::Removed(s) if paint.color => paint.fg(AnsiColor::Red, s),
                        WordPiece::Added(s) if paint.color => paint.fg(AnsiColor::Green, s),
                        WordPiece::Removed(s) => format!("[-{s}-]"),
                        WordPiece::Added(s) => format!("{{+{s}+}}"),
                    })
                    .collect();
                let _ = writeln!(out, "        {}: {text}", f.field);
            }
            None => match (&f.old, &f.new) {
                (None, new) => {
                    let _ = writeln!(out, "        {}: {}", f.field, show_value(new.as_ref()));
                }
                (old, None) => {
                    let _ = writeln!(
                        out,
                        "        {}: {} → (removed)",
                        f.field,
                        show_value(old.as_ref())
                    );
                }
                (old, new) => {
                    let _ = writeln!(
                        out,
                        "        {}: {} → {}",
                        f.field,
                        show_value(old.as_ref()),
                        show_value(new.as_ref())
                    );
                }
            },
        }
    }
}

/// Renders the outcome of an apply: what was done, what failed, what was not done.
pub fn render_report(report: &ApplyReport, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    let head = if report.succeeded() {
        paint.fg(
            AnsiColor::Green,
            &format!(
                "Applied {}: {} change{} done.",
                report.env,
                report.done.len(),
                if report.done.len() == 1 { "" } else { "s" }
            ),
        )
    } else {
        paint.fg(
            AnsiColor::Red,
            &format!(
                "Apply of {} stopped: {} done, {} failed, {} not done.",
                report.env,
                report.done.len(),
                report.failed.len(),
                report.not_done.len()
            ),
        )
    };
    let _ = writeln!(out, "{head}");
    if !report.succeeded() {
        for c in &report.done {
            let _ = writeln!(out, "  done      {} {}", c.kind.symbol(), c.headline());
        }
    }
    for f in &report.failed {
        let _ = writeln!(
            out,
            "  {}    {} {}: {}",
            paint.fg(AnsiColor::Red, "FAILED"),
            f.change.kind.symbol(),
            f.change.headline(),
            f.error
        );
    }
    for c in &report.not_done {
        let _ = writeln!(out, "  not done  {} {}", c.kind.symbol(), c.headline());
    }
    for (name, id) in &report.created_clients {
        let _ = writeln!(out, "  created client {name}: client_id {id}");
    }
    for step in &report.manual_steps {
        let _ = writeln!(
            out,
            "  manual (not done by mpctl): {} — in {}",
            step.description,
            step.portal_path.join(" → ")
        );
    }
    if !report.succeeded() {
        let _ = writeln!(
            out,
            "  Fix the cause and run apply again: it continues from the live state."
        );
    }
    out
}
