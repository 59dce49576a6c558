//! `mpctl emulator serve` prints what a user needs to point an environment at it — the
//! endpoints and the `export MPCTL_<ENV>_…` lines, also written with `--env-file` — and names
//! organisations given with `--org-name` in the grants it serves.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{TestContext, output_text};

const ORG: &str = "910753282";

#[test]
fn serve_prints_the_export_lines_and_writes_the_env_file() {
    let ctx = TestContext::new();
    let d = ctx.path();
    let env_file = d.join("emu.env");
    let mut child = ctx
        .command(&["emulator", "serve", "--listen", "127.0.0.1:0"])
        .args(["--bootstrap", &format!("{ORG}:acme"), "--env", "emu"])
        .args(["--org-name", "974760673=Brønnøysundregistrene"])
        .arg("--env-file")
        .arg(&env_file)
        .arg("--state")
        .arg(d.join("state/state.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    // The last line printed is the audience of the manifest snippet.
    while printed
        .iter()
        .filter(|l: &&String| l.contains("audience:"))
        .count()
        < 2
    {
        printed.push(lines.next().expect("serve printed its setup").unwrap());
    }
    let text = printed.join("\n");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let value = |prefix: &str| {
        printed
            .iter()
            .rev()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"))
    };
    let (api_url, token_url, audience) =
        (value("api_url:"), value("token_url:"), value("audience:"));

    // The printed export lines are the env file's, and they work as credentials.
    let written = std::fs::read_to_string(&env_file).unwrap();
    let mut vars = Vec::new();
    for line in written.lines() {
        assert!(text.contains(line), "printed: {line}\n{text}");
        let (name, quoted) = line
            .strip_prefix("export ")
            .unwrap()
            .split_once('=')
            .unwrap();
        vars.push((name.to_owned(), quoted.trim_matches('\'').to_owned()));
    }
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "MPCTL_EMU_CLIENT_ID",
            "MPCTL_EMU_KEY_ID",
            "MPCTL_EMU_KEY_FILE"
        ]
    );

    std::fs::write(
        d.join("m.yaml"),
        format!(
            "version: 1\norganization: \"{ORG}\"\nprefixes: [acme]\nenvironments:\n  emu: {{ api_url: \"{api_url}\", token_url: \"{token_url}\", audience: \"{audience}\" }}\nscopes:\n  - name: acme:orders.read\n    description: Read orders\n    grants: [\"974760673\"]\n"
        ),
    )
    .unwrap();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let apply = ctx.run_with(&["apply", "m.yaml", "--yes"], &vars);
    assert_eq!(apply.status.code(), Some(0), "{}", output_text(&apply));
    // The emulator names the organisation in the grants it serves: import writes the name.
    let import = ctx.run_with(&["import", "--env", "emu", "--manifest", "m.yaml"], &vars);
    assert_eq!(import.status.code(), Some(0), "{}", output_text(&import));
    assert!(
        String::from_utf8_lossy(&import.stdout).contains("Brønnøysundregistrene"),
        "{}",
        output_text(&import)
    );

    child.kill().unwrap();
    child.wait().unwrap();
}
