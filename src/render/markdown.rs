//! The plan in GitHub-flavoured Markdown, for pull-request comments, `$GITHUB_STEP_SUMMARY` and
//! drift issues: a hidden marker first (so a workflow can find and update its comment),
//! destructive changes flagged at the top, a summary table, then each environment in a
//! collapsible `<details>`. The whole stays under GitHub's 65,536-character comment limit: what
//! does not fit is cut cleanly and counted.

use std::fmt::Write as _;

use super::{
    Purpose, drift_line, show_expiry, show_value, status_word, word_diff, word_diff_plain,
};
use crate::plan::{Change, EnvPlan, Phase, Plan};

/// The first line of every rendering: lets a workflow find the comment it posted before.
pub const MARKER: &str = "<!-- mpctl-plan -->";

/// GitHub's limit on a comment body, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// Renders a plan within GitHub's comment limit.
pub fn render(plan: &Plan, purpose: Purpose) -> String {
    render_limited(plan, purpose, GITHUB_COMMENT_LIMIT)
}

/// Renders a plan in at most `limit` bytes (a byte is never fewer than one character).
pub fn render_limited(plan: &Plan, purpose: Purpose, limit: usize) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{MARKER}");
    let title = match purpose {
        Purpose::Plan => "mpctl plan",
        Purpose::Drift => "mpctl drift report",
    };
    let _ = writeln!(head, "## {title}\n");
    destructive_banner(&mut head, plan, purpose);
    summary_table(&mut head, plan, purpose);

    // Reserve room for the closing of an open section and the truncation note.
    let reserve = 400;
    let budget = limit.saturating_sub(reserve);
    let mut body = String::new();
    let mut omitted = 0usize;
    for env in &plan.environments {
        let sections = env_sections(env, purpose);
        let opening = format!(
            "<details><summary><b>{}</b> — {}</summary>\n\n",
            env.env,
            env_line(env, purpose)
        );
        let closing = "</details>\n\n";
        let fits = |body: &str, extra: usize| head.len() + body.len() + extra <= budget;
        if !fits(&body, opening.len() + closing.len()) {
            omitted += sections.iter().map(|s| s.items.len()).sum::<usize>();
            continue;
        }
        body.push_str(&opening);
        for section in sections {
            let frame = section.open.len() + section.close.len() + closing.len();
            if !fits(&body, frame) {
                omitted += section.items.len();
                continue;
            }
            body.push_str(&section.open);
            for item in &section.items {
                if fits(&body, item.len() + section.close.len() + closing.len()) {
                    body.push_str(item);
                } else {
                    omitted += 1;
                }
            }
            body.push_str(&section.close);
        }
        body.push_str(closing);
    }
    let mut out = head;
    out.push_str(&body);
    if omitted > 0 {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> {omitted} more item{} not shown: the comment would exceed GitHub's limit of {GITHUB_COMMENT_LIMIT} characters. Run `mpctl {}` for the full report.",
            if omitted == 1 { "" } else { "s" },
            match purpose {
                Purpose::Plan => "plan",
                Purpose::Drift => "drift",
            }
        );
    }
    out
}

fn env_line(env: &EnvPlan, purpose: Purpose) -> String {
    match purpose {
        Purpose::Plan if env.changes.is_empty() => "no changes".into(),
        Purpose::Plan => env.summary().line(),
        Purpose::Drift => drift_line(env).unwrap_or_else(|| "no drift".into()),
    }
}

fn destructive_banner(out: &mut String, plan: &Plan, purpose: Purpose) {
    let destructive: Vec<(&str, &Change)> = plan
        .environments
        .iter()
        .flat_map(|e| {
            e.changes
                .iter()
                .filter(|c| c.destructive)
                .map(move |c| (e.env.as_str(), c))
        })
        .collect();
    let errors: usize = plan.environments.iter().map(|e| e.errors.len()).sum();
    if errors > 0 {
        let s = if errors == 1 { "" } else { "s" };
        let _ = match purpose {
            Purpose::Plan => writeln!(
                out,
                "> [!CAUTION]\n> **{errors} error{s}** block this plan; see the environments below.\n"
            ),
            Purpose::Drift => writeln!(
                out,
                "> [!CAUTION]\n> **{errors} difference{s}** apply would refuse to correct; see the environments below.\n"
            ),
        };
    }
    if destructive.is_empty() {
        return;
    }
    let n = destructive.len();
    let s = if n == 1 { "" } else { "s" };
    let _ = match purpose {
        Purpose::Plan => writeln!(
            out,
            "> [!WARNING]\n> **{n} destructive change{s}** (deactivate, revoke, replace):"
        ),
        Purpose::Drift => writeln!(
            out,
            "> [!WARNING]\n> Correcting this drift takes **{n} destructive change{s}** (deactivate, revoke, replace):"
        ),
    };
    for (env, c) in destructive.iter().take(20) {
        let (symbol, text) = match purpose {
            Purpose::Plan => (c.kind.symbol(), c.headline()),
            Purpose::Drift => (super::drift_symbol(c.kind), super::drift_text(c)),
        };
        let _ = writeln!(out, "> - `{}` {} {}", env, symbol, escape(&text));
    }
    if destructive.len() > 20 {
        let _ = writeln!(out, "> - … and {} more", destructive.len() - 20);
    }
    out.push('\n');
}

fn summary_table(out: &mut String, plan: &Plan, purpose: Purpose) {
    let _ = writeln!(
        out,
        "| Environment | Add | Change | Replace | Revoke | Deactivate | Manual steps | Unmanaged | Keys expiring or expired | {} |",
        match purpose {
            Purpose::Plan => "Errors",
            Purpose::Drift => "Apply would refuse",
        }
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for env in &plan.environments {
        let s = env.summary();
        let keys = env
            .key_expiries
            .iter()
            .filter(|k| k.managed && k.status != crate::plan::ExpiryStatus::Ok)
            .count();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            env.env,
            s.add,
            s.change,
            s.replace,
            s.revoke,
            s.deactivate,
            env.manual_steps.len(),
            env.unmanaged.len(),
            keys,
            env.errors.len()
        );
    }
    out.push('\n');
    if purpose == Purpose::Plan {
        let _ = writeln!(out, "**{}**\n", plan.summary().line());
    }
}

/// A part of an environment's report: a frame (heading, code fence) always kept whole, and
/// items (one change, step, key or error each) cut one by one when space runs out.
struct Section {
    open: String,
    items: Vec<String>,
    close: String,
}

impl Section {
    fn new(open: impl Into<String>, close: impl Into<String>) -> Self {
        Self {
            open: open.into(),
            items: Vec::new(),
            close: close.into(),
        }
    }
}

fn change_text(c: &Change, purpose: Purpose) -> String {
    let mut text = String::new();
    let flag = if c.destructive {
        "   (destructive)"
    } else {
        ""
    };
    let (symbol, line) = match purpose {
        Purpose::Plan => (c.kind.symbol(), c.headline()),
        Purpose::Drift => (super::drift_symbol(c.kind), super::drift_text(c)),
    };
    let _ = writeln!(text, "{symbol} {}{flag}", fence_safe(&line));
    if let Some(reason) = &c.reason {
        let _ = writeln!(text, "    why: {}", fence_safe(reason));
    }
    for f in &c.fields {
        let value = match word_diff(f) {
            Some(pieces) => word_diff_plain(&pieces),
            None => match (&f.old, &f.new) {
                (None, new) => show_value(new.as_ref()),
                (old, None) => format!("{} → (removed)", show_value(old.as_ref())),
                (old, new) => format!(
                    "{} → {}",
                    show_value(old.as_ref()),
                    show_value(new.as_ref())
                ),
            },
        };
        let _ = writeln!(text, "    {}: {}", f.field, fence_safe(&value));
    }
    text
}

fn env_sections(env: &EnvPlan, purpose: Purpose) -> Vec<Section> {
    let mut sections = Vec::new();
    if !env.errors.is_empty() {
        let heading = match purpose {
            Purpose::Plan => "**Errors**\n\n",
            Purpose::Drift => "**Apply would refuse to correct this drift**\n\n",
        };
        let mut s = Section::new(heading, "\n");
        for e in &env.errors {
            s.items.push(format!(
                "- ❌ {}  \n  _help:_ {}\n",
                escape(&e.message),
                escape(&e.help)
            ));
        }
        sections.push(s);
    }
    if purpose == Purpose::Drift && !env.changes.is_empty() {
        let mut s = Section::new(
            "**Changed outside mpctl** (values: live → manifest)\n\n```diff\n",
            "```\n\n",
        );
        s.items = env
            .changes
            .iter()
            .map(|c| change_text(c, purpose))
            .collect();
        sections.push(s);
    }
    for phase in Phase::ALL.into_iter().filter(|_| purpose == Purpose::Plan) {
        let changes: Vec<&Change> = env.changes.iter().filter(|c| c.phase == phase).collect();
        if changes.is_empty() {
            continue;
        }
        let mut s = Section::new(
            format!(
                "**Phase {}: {}**\n\n```diff\n",
                phase.number(),
                phase.title()
            ),
            "```\n\n",
        );
        s.items = changes
            .into_iter()
            .map(|c| change_text(c, purpose))
            .collect();
        sections.push(s);
    }
    if !env.manual_steps.is_empty() {
        let mut s = Section::new(
            "**Manual steps** — this environment has no API for these; do them in Samarbeidsportalen (mpctl cannot check them):\n\n",
            "\n",
        );
        for step in &env.manual_steps {
            s.items.push(format!(
                "- [ ] {} — _{}_\n",
                escape(&step.description),
                escape(&step.portal_path.join(" → "))
            ));
        }
        if let Some(note) = &env.manual_steps_note {
            s.items.push(format!("\n_{}_\n", escape(note)));
        }
        sections.push(s);
    }
    if !env.unmanaged.is_empty() {
        let mut s = Section::new("**Unmanaged** (live, not in the manifest)\n\n", "\n");
        for u in &env.unmanaged {
            let note = if u.pruned {
                "deactivated by this plan (prune)"
            } else {
                "kept; set `prune: true` to deactivate"
            };
            s.items
                .push(format!("- {} — {note}\n", escape(&u.resource.label())));
        }
        sections.push(s);
    }
    let keys = super::sorted_expiries(env);
    if !keys.is_empty() {
        let mut s = Section::new(
            "**Key expiry**\n\n| Status | Client | Key | JWK exp | Certificate |\n|---|---|---|---|---|\n",
            "\n",
        );
        for k in &keys {
            let status = match k.status {
                crate::plan::ExpiryStatus::Ok => "✅ ok".to_owned(),
                st => format!("⚠️ {}", status_word(st)),
            };
            let client = if k.managed {
                escape(&k.client)
            } else {
                format!("{} (unmanaged)", escape(&k.client))
            };
            s.items.push(format!(
                "| {status} | {client} | `{}` | {} | {} |\n",
                k.kid.replace('`', "'"),
                show_expiry(k.jwk_exp, k.jwk_exp_days_left),
                show_expiry(k.cert_not_after, k.cert_days_left)
            ));
        }
        sections.push(s);
    }
    if purpose == Purpose::Plan && sections.is_empty() {
        sections.push(Section::new(
            "No changes: the environment matches the manifest.\n\n",
            "",
        ));
    }
    if !env.not_read.is_empty() {
        let mut s = Section::new("**Not read**\n\n", "\n");
        for n in &env.not_read {
            s.items.push(format!("- {}\n", escape(&n.note)));
        }
        sections.push(s);
    }
    sections
}

/// Escapes text for Markdown outside code: HTML and table/emphasis characters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Keeps text from closing a code fence.
fn fence_safe(text: &str) -> String {
    text.replace("```", "ˋˋˋ")
}
