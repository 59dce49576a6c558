//! docs/gitops.md stays true: its rehearsal on the emulator runs as written, every mpctl
//! command it shows exists with the flags it uses, and it names every secret, workflow and
//! exit code the workflows rely on.
//!
//! Blocks marked ```` ```sh test ```` run in order in one temporary directory (so later blocks
//! see the files and emulator state of earlier ones) with `bash -eo pipefail`; `exit=N` in the
//! info string is the exit status the block must end with (default 0). A ```` ```yaml file=PATH ````
//! block is written to PATH before the blocks after it run.

use crate::support::gitops as gitops_support;

use std::fs;
use std::process::Command;

use clap::CommandFactory;
use gitops_support::read;

const DOC: &str = "docs/gitops.md";

/// A fenced code block: its info string and its text.
struct Block {
    info: Vec<String>,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Option<Block> = None;
    for (n, line) in markdown.lines().enumerate() {
        match current.as_mut() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    current = Some(Block {
                        info: info.split_whitespace().map(str::to_string).collect(),
                        text: String::new(),
                        line: n + 1,
                    });
                }
            }
            Some(block) => {
                if line.trim_end() == "```" {
                    blocks.extend(current.take());
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
        }
    }
    assert!(current.is_none(), "{DOC}: an unterminated code block");
    blocks
}

fn option<'a>(block: &'a Block, name: &str) -> Option<&'a str> {
    block
        .info
        .iter()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn the_rehearsal_on_the_emulator_runs_as_written() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bin_dir = crate::support::bin()
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = Vec::new();
    for block in blocks(&read(DOC)) {
        let language = block.info.first().map(String::as_str);
        if let Some(file) = option(&block, "file") {
            let target = dir.path().join(file);
            fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            fs::write(&target, &block.text).expect("write");
            continue;
        }
        if language != Some("sh") || !block.info.iter().any(|w| w == "test") {
            continue;
        }
        let expected: i32 = option(&block, "exit").map_or(0, |n| n.parse().expect("exit=N"));
        let out = Command::new("bash")
            .args([
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                &block.text,
            ])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .expect("bash");
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{DOC}:{}: {}\nstdout:\n{}\nstderr:\n{}",
            block.line,
            block.text,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran.push(block.text);
    }
    let all = ran.concat();
    for command in [
        "mpctl validate",
        "mpctl plan",
        "mpctl apply",
        "mpctl drift",
        "mpctl import",
    ] {
        assert!(all.contains(command), "no tested block runs {command}");
    }
    // What the page says about the markdown plan holds.
    let plan = fs::read_to_string(dir.path().join("plan.md")).expect("plan.md");
    assert_eq!(plan.lines().next(), Some("<!-- mpctl-plan -->"));
}

/// Every `mpctl …` line of every shell block names a real command with real flags.
#[test]
fn every_mpctl_command_on_the_page_exists() {
    let cli = mpctl::cli::Cli::command();
    let mut checked = 0;
    for block in blocks(&read(DOC)) {
        if block.info.first().map(String::as_str) != Some("sh") {
            continue;
        }
        for line in block.text.lines() {
            let Some(rest) = line.trim().strip_prefix("mpctl ") else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().take_while(|w| *w != ">").collect();
            let mut command = &cli;
            let mut i = 0;
            while let Some(sub) = words.get(i).and_then(|w| command.find_subcommand(w)) {
                command = sub;
                i += 1;
            }
            assert!(i > 0, "{DOC}:{}: unknown command in {line}", block.line);
            for word in &words[i..] {
                if let Some(flag) = word.strip_prefix("--") {
                    let flag = flag.split('=').next().unwrap_or(flag);
                    let known = command
                        .get_arguments()
                        .chain(cli.get_arguments())
                        .any(|a| a.get_long() == Some(flag));
                    assert!(
                        known,
                        "{DOC}:{}: `mpctl {rest}`: no flag --{flag}",
                        block.line
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} commands found");
}

#[test]
fn the_page_names_every_secret_workflow_and_exit_code() {
    let doc = read(DOC);
    for workflow in ["plan.yml", "apply.yml", "drift.yml"] {
        let file = format!("examples/github/{workflow}");
        assert!(
            doc.contains(&format!("(../{file})")),
            "{DOC} links to {file}"
        );
        let text = read(&file);
        let mut rest = text.as_str();
        while let Some(i) = rest.find("secrets.") {
            let tail = &rest[i + "secrets.".len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                doc.contains(&name),
                "{DOC} does not explain the secret {name}"
            );
            rest = tail;
        }
    }
    assert!(doc.contains("(../action.yml)"));
    for needle in [
        "<!-- mpctl-plan -->",
        "## Exit codes",
        "| `mpctl drift` | no drift",
        "`needs: test`",
        "`concurrency`",
        "`mpctl import`",
        "`mpctl-allow-mass-destroy`",
        "`actions: read`",
        "--replan-if-same",
    ] {
        assert!(doc.contains(needle), "{DOC} lacks {needle}");
    }
    for input in [
        "command",
        "version",
        "release-url",
        "mpctl-path",
        "working-directory",
        "step-summary",
    ] {
        assert!(
            doc.contains(&format!("| `{input}` |")),
            "{DOC}: input {input}"
        );
    }
    for output in [
        "exit-code",
        "has-changes",
        "plan-markdown-file",
        "error-file",
    ] {
        assert!(
            doc.contains(&format!("| `{output}` |")),
            "{DOC}: output {output}"
        );
    }
}
