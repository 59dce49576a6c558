//! Manual steps (contacts: Digdir has no API for them) only when they are new: compared with
//! the manifest at a base git revision (`--base REF`, or a GitHub pull request's base), never
//! in drift, and without a base shown with a note on how to stop seeing them.

use crate::support::emulator as emulator_support;

use std::path::Path;
use std::process::Command;

use emulator_support::{mpctl_with, output_text};
use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

/// An emulator without the contacts extension, like Digdir's environments.
struct Setup {
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    admin: AdminIdentity,
    dir: tempfile::TempDir,
}

impl Setup {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let emulator = runtime
            .block_on(Emulator::start(EmulatorConfig::default()))
            .unwrap();
        let admin = runtime
            .block_on(emulator.bootstrap_org(&OrgNo::new_unchecked("910753282"), &[]))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.pem"), admin.private_key_pem.expose()).unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join(".gitignore"), "admin.pem\n.mpctl/\n").unwrap();
        Self {
            _runtime: runtime,
            emulator,
            admin,
            dir,
        }
    }

    fn write_manifest(&self, client_contact: &str) {
        let text = format!(
            "version: 1\norganization: \"910753282\"\nenvironments:\n  emu: {{ api_url: \"{}\", token_url: \"{}\", audience: \"{}\" }}\ncontacts:\n  notifications: [drift@acme.no]\nclients:\n  - name: sync\n    contacts: {{ notifications: [{client_contact}] }}\n",
            self.emulator.api_url(),
            self.emulator.token_url(),
            self.emulator.issuer()
        );
        std::fs::create_dir_all(self.dir.path().join("m")).unwrap();
        std::fs::write(self.dir.path().join("m/mpctl.yaml"), text).unwrap();
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let key = self.dir.path().join("admin.pem");
        let mut vars = vec![
            ("MPCTL_EMU_CLIENT_ID", self.admin.client_id.as_str()),
            ("MPCTL_EMU_KEY_ID", self.admin.kid.as_str()),
            ("MPCTL_EMU_KEY_FILE", key.to_str().unwrap()),
        ];
        vars.extend_from_slice(extra);
        let out = mpctl_with(self.dir.path(), args, &vars);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{}",
            output_text(&out)
        );
        output_text(&out)
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

const PROVIDER_STEP: &str = "set contacts of the API-provider integration";
const CLIENT_STEP: &str = "set contacts of client sync";

#[test]
fn manual_steps_show_once_without_a_base_and_then_only_when_changed() {
    let s = Setup::start();
    s.write_manifest("sync@acme.no");
    git(s.dir.path(), &["add", "-A"]);
    git(s.dir.path(), &["commit", "-qm", "base"]);

    // No base: every step, with the note saying how to see only new ones.
    let plan = s.run(&["plan", "m"], &[]);
    assert!(
        plan.contains(PROVIDER_STEP) && plan.contains(CLIENT_STEP),
        "{plan}"
    );
    assert!(plan.contains("pass `--base REF`"), "{plan}");

    // Against the committed manifest nothing changed: no steps, no note.
    let plan = s.run(&["plan", "m", "--base", "HEAD"], &[]);
    assert!(!plan.contains("Manual steps"), "{plan}");
    assert!(!plan.contains("--base"), "{plan}");

    // This change edits the client's contacts: only its step shows.
    s.write_manifest("sync-new@acme.no");
    let plan = s.run(&["plan", "m", "--base", "HEAD"], &[]);
    assert!(plan.contains(CLIENT_STEP), "{plan}");
    assert!(!plan.contains(PROVIDER_STEP), "{plan}");

    // In a GitHub pull request the base comes from GITHUB_BASE_REF (as origin/<branch>).
    git(
        s.dir.path(),
        &["update-ref", "refs/remotes/origin/main", "HEAD"],
    );
    let plan = s.run(
        &["plan", "m", "--format", "json"],
        &[("GITHUB_BASE_REF", "main")],
    );
    let doc: serde_json::Value = serde_json::from_str(
        plan.split("--- stderr")
            .next()
            .unwrap()
            .trim_start_matches("--- stdout\n"),
    )
    .unwrap();
    let steps = doc["environments"][0]["manual_steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{doc}");
    assert_eq!(steps[0]["resource"]["name"], "sync");
    assert!(doc["environments"][0].get("manual_steps_note").is_none());

    // Drift never reports them: they cannot be read back.
    let drift = s.run(&["drift", "m"], &[]);
    assert!(
        !drift.contains("Manual steps") && !drift.contains("set contacts"),
        "{drift}"
    );
}

#[test]
fn a_base_git_cannot_read_is_an_error_when_asked_for_and_a_warning_when_found() {
    let s = Setup::start();
    s.write_manifest("sync@acme.no");
    git(s.dir.path(), &["add", "-A"]);
    git(s.dir.path(), &["commit", "-qm", "base"]);
    let key = s.dir.path().join("admin.pem");
    let vars = [
        ("MPCTL_EMU_CLIENT_ID", s.admin.client_id.as_str()),
        ("MPCTL_EMU_KEY_ID", s.admin.kid.as_str()),
        ("MPCTL_EMU_KEY_FILE", key.to_str().unwrap()),
    ];
    let out = mpctl_with(s.dir.path(), &["plan", "m", "--base", "nosuch"], &vars);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("cannot read the manifest at --base nosuch"),
        "{}",
        output_text(&out)
    );

    let mut with_pr = vars.to_vec();
    with_pr.push(("GITHUB_BASE_REF", "main"));
    let out = mpctl_with(s.dir.path(), &["plan", "m"], &with_pr);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: cannot read the manifest at the pull request's base origin/main"),
        "{text}"
    );
    assert!(
        text.contains(CLIENT_STEP) && text.contains("pass `--base REF`"),
        "{text}"
    );
}
