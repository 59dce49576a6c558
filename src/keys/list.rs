//! `mpctl keys list`: every key of every client in every environment with its two expiries (the
//! JWK `exp` the server set, and the certificate's Not After), days left on each, sorted by the
//! nearest — the overview of expiring keys that Maskinporten users otherwise ask Digdir for.
//!
//! The overview is built from the desired and live states alone (no I/O), and rendered as
//! human text, markdown or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::manifest::keys::format_date;
use crate::state::{ClientState, EnvState, KeyState, LiveEnv};

const DAY: i64 = 86_400;

/// Version of the JSON output's shape.
pub const JSON_VERSION: u32 = 1;

/// One expiry of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expiry {
    /// Unix seconds.
    pub at: i64,
    /// Whole days from now until `at`; negative once past.
    pub days_left: i64,
}

impl Expiry {
    fn new(at: i64, now: i64) -> Self {
        Self {
            at,
            days_left: (at - now).div_euclid(DAY),
        }
    }
}

/// How close a key is to expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// An expiry has passed: the key no longer works.
    Expired,
    /// An expiry is inside the warning window.
    Expiring,
    /// Both expiries are further away than the window.
    Ok,
    /// No expiry known (a key not registered yet, without a certificate).
    Unknown,
}

/// One key of one client in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// The environment.
    pub env: String,
    /// The client's name (`client_name`).
    pub client: String,
    /// The live client's id (or the manifest's pinned one).
    pub client_id: Option<String>,
    /// Whether the manifest lists the client.
    pub managed: bool,
    /// The key's `kid`.
    pub kid: String,
    /// Whether the manifest lists the key (for the environment).
    pub in_manifest: bool,
    /// Whether the key is registered on the live client.
    pub registered: bool,
    /// The key file, for keys in the manifest.
    pub source: Option<String>,
    /// The manifest's retirement date for the key.
    pub retire_after: Option<String>,
    /// The JWK `exp` the server set.
    pub exp: Option<Expiry>,
    /// The certificate's Not After.
    pub cert_not_after: Option<Expiry>,
    /// Expired, expiring inside the window, or fine, by the nearer expiry.
    pub status: KeyStatus,
}

impl KeyRow {
    /// The nearer of the two expiries.
    pub fn nearest(&self) -> Option<Expiry> {
        match (self.exp, self.cert_not_after) {
            (Some(a), Some(b)) => Some(if a.at <= b.at { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// Every key of every client in the environments asked for, nearest expiry first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyOverview {
    /// When the overview was made (Unix seconds).
    pub now: i64,
    /// Keys expiring within this many days are flagged.
    pub warn_expiry_days: u32,
    /// Every key, nearest expiry first (keys without a known expiry last).
    pub rows: Vec<KeyRow>,
    /// Environments whose live state could not be read: their live keys are missing.
    pub unreadable: Vec<String>,
}

/// One environment's input to the overview.
#[derive(Debug, Clone)]
pub struct EnvKeys<'a> {
    /// The environment's name.
    pub env: &'a str,
    /// The desired state (from the manifest).
    pub desired: &'a EnvState,
    /// The live state (from the API).
    pub live: &'a LiveEnv,
}

impl KeyOverview {
    /// Builds the overview of `envs` at `now` (Unix seconds).
    pub fn build(envs: &[EnvKeys<'_>], now: i64, warn_expiry_days: u32) -> Self {
        let mut rows = Vec::new();
        for env in envs {
            let mut matched = BTreeSet::new();
            for desired in env.desired.clients.values() {
                let live = match_live(desired, &env.live.state.clients, &matched);
                if let Some(live) = live
                    && let Some(id) = &live.client_id
                {
                    matched.insert(id.clone());
                }
                client_rows(
                    env.env,
                    Some(desired),
                    live,
                    now,
                    warn_expiry_days,
                    &mut rows,
                );
            }
            for (id, live) in &env.live.state.clients {
                if matched.contains(id) || !live.active {
                    continue;
                }
                client_rows(env.env, None, Some(live), now, warn_expiry_days, &mut rows);
            }
        }
        rows.sort_by(|a, b| {
            let key = |r: &KeyRow| r.nearest().map_or(i64::MAX, |e| e.at);
            key(a)
                .cmp(&key(b))
                .then_with(|| a.env.cmp(&b.env))
                .then_with(|| a.client.cmp(&b.client))
                .then_with(|| a.kid.cmp(&b.kid))
        });
        Self {
            now,
            warn_expiry_days,
            rows,
            unreadable: Vec::new(),
        }
    }

    /// How many keys have expired.
    pub fn expired(&self) -> usize {
        self.count(KeyStatus::Expired)
    }

    /// How many keys expire inside the warning window.
    pub fn expiring(&self) -> usize {
        self.count(KeyStatus::Expiring)
    }

    fn count(&self, status: KeyStatus) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }

    /// A table for people; `colour` adds ANSI colour to the status column.
    pub fn render_human(&self, colour: bool) -> String {
        let mut out = format!(
            "Client keys on {} (flagged: expired, or expiring within {} days)\n\n",
            format_date(self.now),
            self.warn_expiry_days
        );
        if let Some(note) = self.unreadable_note() {
            out.push_str(&note);
            out.push_str("\n\n");
        }
        if self.rows.is_empty() {
            out.push_str("No keys.\n");
            return out;
        }
        let header = [
            "ENV",
            "CLIENT",
            "KID",
            "JWK EXP",
            "CERTIFICATE",
            "STATUS",
            "NOTES",
        ];
        let table: Vec<[String; 7]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.env.clone(),
                    r.client.clone(),
                    short_kid(&r.kid),
                    expiry_cell(r.exp),
                    expiry_cell(r.cert_not_after),
                    status_cell(r),
                    notes(r).join("; "),
                ]
            })
            .collect();
        let mut widths = header.map(|h| h.chars().count());
        for row in &table {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String], styles: Option<anstyle::Style>| {
            let mut text = String::from(" ");
            for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                let padded = format!(" {cell:<width$}");
                if i == 5
                    && let Some(style) = styles
                {
                    let _ = write!(text, " {style}{cell:<width$}{style:#}");
                } else {
                    text.push_str(&padded);
                }
            }
            text.trim_end().to_owned() + "\n"
        };
        out.push_str(&line(&header.map(str::to_owned), None));
        for (row, cells) in self.rows.iter().zip(&table) {
            let style = colour.then(|| status_style(row.status));
            out.push_str(&line(cells, style));
        }
        out.push('\n');
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// A markdown table for pull-request comments and job summaries.
    pub fn render_markdown(&self) -> String {
        let mut out = format!(
            "### Client keys on {}\n\n{}\n\n",
            format_date(self.now),
            self.summary()
        );
        if let Some(note) = self.unreadable_note() {
            let _ = write!(out, "**{note}**\n\n");
        }
        if self.rows.is_empty() {
            return out;
        }
        out.push_str(
            "| Environment | Client | Key | JWK `exp` | Certificate | Status | Notes |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let status = match r.status {
                KeyStatus::Expired => ":x: expired",
                KeyStatus::Expiring => ":warning: expiring",
                KeyStatus::Ok => ":white_check_mark: ok",
                KeyStatus::Unknown => "unknown",
            };
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} | {} | {} | {} |",
                escape_md(&r.env),
                escape_md(&r.client),
                escape_md(&short_kid(&r.kid)),
                expiry_cell(r.exp),
                expiry_cell(r.cert_not_after),
                status,
                escape_md(&notes(r).join("; "))
            );
        }
        out
    }

    /// The overview for programs (versioned).
    pub fn render_json(&self) -> serde_json::Value {
        let expiry = |e: Option<Expiry>| match e {
            Some(e) => serde_json::json!({"at": rfc3339(e.at), "days_left": e.days_left}),
            None => serde_json::Value::Null,
        };
        let keys: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "environment": r.env,
                    "client": r.client,
                    "client_id": r.client_id,
                    "managed": r.managed,
                    "kid": r.kid,
                    "in_manifest": r.in_manifest,
                    "registered": r.registered,
                    "source": r.source,
                    "retire_after": r.retire_after,
                    "exp": expiry(r.exp),
                    "cert_not_after": expiry(r.cert_not_after),
                    "status": r.status,
                })
            })
            .collect();
        serde_json::json!({
            "version": JSON_VERSION,
            "generated_at": rfc3339(self.now),
            "warn_expiry_days": self.warn_expiry_days,
            "unreadable_environments": self.unreadable,
            "summary": {
                "total": self.rows.len(),
                "expired": self.expired(),
                "expiring": self.expiring(),
            },
            "keys": keys,
        })
    }

    fn unreadable_note(&self) -> Option<String> {
        (!self.unreadable.is_empty()).then(|| {
            format!(
                "Could not read the live state of {}: its keys are not listed.",
                self.unreadable.join(", ")
            )
        })
    }

    fn summary(&self) -> String {
        let (expired, expiring) = (self.expired(), self.expiring());
        let total = self.rows.len();
        if expired == 0 && expiring == 0 {
            format!(
                "{total} key(s); none expired or expiring within {} days.",
                self.warn_expiry_days
            )
        } else {
            format!(
                "{total} key(s): {expired} expired, {expiring} expiring within {} days. \
                 Rotate them with `mpctl keys rotate CLIENT --env ENV --private-key-out FILE`.",
                self.warn_expiry_days
            )
        }
    }
}

/// The live client a desired one is managed as: by pinned `client_id`, else by name (or an
/// earlier name), preferring an active client.
fn match_live<'a>(
    desired: &ClientState,
    live: &'a BTreeMap<String, ClientState>,
    taken: &BTreeSet<String>,
) -> Option<&'a ClientState> {
    if let Some(id) = &desired.client_id {
        return live.get(id);
    }
    let names: Vec<&str> = std::iter::once(desired.name.as_str())
        .chain(desired.renamed_from.iter().map(String::as_str))
        .collect();
    let mut candidates: Vec<&ClientState> = live
        .iter()
        .filter(|(id, c)| !taken.contains(*id) && names.contains(&c.name.as_str()))
        .map(|(_, c)| c)
        .collect();
    candidates.sort_by_key(|c| {
        (
            !c.active,
            names
                .iter()
                .position(|n| *n == c.name)
                .unwrap_or(usize::MAX),
        )
    });
    candidates.first().copied()
}

fn client_rows(
    env: &str,
    desired: Option<&ClientState>,
    live: Option<&ClientState>,
    now: i64,
    warn_expiry_days: u32,
    rows: &mut Vec<KeyRow>,
) {
    let no_keys = BTreeMap::new();
    let desired_keys = desired.map_or(&no_keys, |c| &c.keys);
    let live_keys = live.map_or(&no_keys, |c| &c.keys);
    let kids: BTreeSet<&String> = desired_keys.keys().chain(live_keys.keys()).collect();
    let client = desired.or(live).map(|c| c.name.clone()).unwrap_or_default();
    let client_id = live
        .and_then(|c| c.client_id.clone())
        .or_else(|| desired.and_then(|c| c.client_id.clone()));
    for kid in kids {
        let want: Option<&KeyState> = desired_keys.get(kid);
        let have: Option<&KeyState> = live_keys.get(kid);
        let exp = have.and_then(|k| k.exp).map(|at| Expiry::new(at, now));
        let cert_not_after = want
            .and_then(|k| k.cert_not_after)
            .or_else(|| have.and_then(|k| k.cert_not_after))
            .map(|at| Expiry::new(at, now));
        let mut row = KeyRow {
            env: env.to_owned(),
            client: client.clone(),
            client_id: client_id.clone(),
            managed: desired.is_some(),
            kid: kid.clone(),
            in_manifest: want.is_some(),
            registered: have.is_some(),
            source: want.and_then(|k| k.source.clone()),
            retire_after: want.and_then(|k| k.retire_after.clone()),
            exp,
            cert_not_after,
            status: KeyStatus::Unknown,
        };
        row.status = match row.nearest() {
            None => KeyStatus::Unknown,
            Some(e) if e.at <= now => KeyStatus::Expired,
            Some(e) if e.at - now <= i64::from(warn_expiry_days) * DAY => KeyStatus::Expiring,
            Some(_) => KeyStatus::Ok,
        };
        rows.push(row);
    }
}

fn notes(row: &KeyRow) -> Vec<String> {
    let mut notes = Vec::new();
    if !row.managed {
        notes.push("unmanaged client".to_owned());
    } else if !row.in_manifest {
        notes.push("not in the manifest (apply removes it)".to_owned());
    } else if !row.registered {
        notes.push("not registered yet (apply adds it)".to_owned());
    }
    if let Some(date) = &row.retire_after {
        notes.push(format!("retires after {date}"));
    }
    notes
}

fn expiry_cell(expiry: Option<Expiry>) -> String {
    match expiry {
        None => "-".to_owned(),
        Some(e) if e.days_left < 0 => {
            format!("{} ({} days ago)", format_date(e.at), -e.days_left)
        }
        Some(e) => format!("{} ({} days)", format_date(e.at), e.days_left),
    }
}

fn status_cell(row: &KeyRow) -> String {
    match (row.status, row.nearest()) {
        (KeyStatus::Expired, _) => "EXPIRED".to_owned(),
        (KeyStatus::Expiring, Some(e)) => format!("expires in {} days", e.days_left),
        (KeyStatus::Ok, _) => "ok".to_owned(),
        _ => "unknown".to_owned(),
    }
}

fn status_style(status: KeyStatus) -> anstyle::Style {
    let colour = match status {
        KeyStatus::Expired => anstyle::AnsiColor::Red,
        KeyStatus::Expiring => anstyle::AnsiColor::Yellow,
        KeyStatus::Ok => anstyle::AnsiColor::Green,
        KeyStatus::Unknown => return anstyle::Style::new().dimmed(),
    };
    anstyle::Style::new().fg_color(Some(colour.into())).bold()
}

/// A thumbprint `kid` is 43 characters; tables show its start.
fn short_kid(kid: &str) -> String {
    if kid.chars().count() > 20 {
        kid.chars().take(16).collect::<String>() + "…"
    } else {
        kid.to_owned()
    }
}

fn escape_md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests;
