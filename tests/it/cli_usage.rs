//! Usage errors exit 64 (EX_USAGE), never 2: CI reads 2 as "changes present". Every subcommand
//! is driven with an unknown flag and an invalid value; `--help` and `--version` exit 0.

use crate::support::{OutputExt, TestContext};

use clap::CommandFactory;

/// Every runnable subcommand, as the words that name it (`["keys", "rotate"]`).
fn leaves(command: &clap::Command, prefix: &[String], out: &mut Vec<(Vec<String>, clap::Command)>) {
    for sub in command.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        if sub.has_subcommands() {
            leaves(sub, &path, out);
        } else {
            out.push((path, sub.clone()));
        }
    }
}

/// Arguments that make `sub` fail on a value: one of its own options with a closed set of
/// values, or else the global `--color`.
fn bad_value(sub: &clap::Command) -> Vec<String> {
    let closed = sub.get_arguments().find(|a| {
        !a.is_global_set()
            && a.get_id() != "color"
            && a.get_action().takes_values()
            && !a.get_possible_values().is_empty()
    });
    match closed {
        Some(arg) => match arg.get_long() {
            Some(long) => vec![format!("--{long}"), "no-such-value".into()],
            None => vec!["no-such-value".into()],
        },
        None => vec!["--color".into(), "no-such-value".into()],
    }
}

#[test]
fn every_subcommand_exits_64_on_an_unknown_flag_and_on_an_invalid_value() {
    let ctx = TestContext::new();
    let mut all = Vec::new();
    leaves(&mpctl::cli::Cli::command(), &[], &mut all);
    assert!(all.len() >= 12, "{}", all.len());
    let mut own_values = 0;
    for (path, sub) in &all {
        let mut flag: Vec<String> = path.clone();
        flag.push("--no-such-flag".into());
        let args: Vec<&str> = flag.iter().map(String::as_str).collect();
        let out = ctx.run(&args);
        assert_eq!(out.code(), 64, "{args:?}: {}", out.text());
        assert!(
            out.text().contains("--no-such-flag"),
            "{args:?}: {}",
            out.text()
        );

        let value = bad_value(sub);
        if value[0] != "--color" {
            own_values += 1;
        }
        let mut bad: Vec<String> = path.clone();
        bad.extend(value);
        let args: Vec<&str> = bad.iter().map(String::as_str).collect();
        let out = ctx.run(&args);
        assert_eq!(out.code(), 64, "{args:?}: {}", out.text());
        assert!(
            out.text().contains("no-such-value"),
            "{args:?}: {}",
            out.text()
        );
    }
    assert!(
        own_values >= 6,
        "most commands have a closed-valued option of their own"
    );
    assert!(
        std::fs::read_dir(ctx.path()).unwrap().next().is_none(),
        "a usage error writes nothing"
    );
}

#[test]
fn the_reported_cases_exit_64() {
    let ctx = TestContext::new();
    for args in [
        &["plan", "--detailed-exitcod"][..],
        &["drift", "--format", "md"],
        &["frobnicate"],
        &[],
        &["plan", "--concurrency", "0"],
    ] {
        let out = ctx.run(args);
        assert_eq!(out.code(), 64, "{args:?}: {}", out.text());
    }
}

#[test]
fn help_and_version_exit_0() {
    let ctx = TestContext::new();
    for args in [
        &["--help"][..],
        &["--version"],
        &["help"],
        &["plan", "--help"],
        &["help", "drift"],
        &["keys", "rotate", "-h"],
    ] {
        let out = ctx.run(args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.text());
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    let help = ctx.run(&["--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("64 usage error"),
        "the exit codes are in --help"
    );
}

#[test]
fn a_mistyped_subcommand_is_never_pointed_at_a_hidden_one() {
    let ctx = TestContext::new();
    for typo in ["benc", "nosuch", "bnech"] {
        let out = ctx.run(&[typo]);
        assert_eq!(out.code(), 64, "{typo}: {}", out.text());
        assert!(
            out.text()
                .contains(&format!("unrecognized subcommand '{typo}'")),
            "{typo}: {}",
            out.text()
        );
        assert!(!out.text().contains("bench"), "{typo}: {}", out.text());
        assert!(!out.text().contains("\n\n\n"), "{typo}: {}", out.text());
    }
    let out = ctx.run(&["plna"]);
    assert_eq!(out.code(), 64, "{}", out.text());
    assert!(
        out.text().contains("a similar subcommand exists: 'plan'"),
        "{}",
        out.text()
    );
    // Below a hidden subcommand, its own subcommands are still suggested.
    let out = ctx.run(&["bench", "runn"]);
    assert!(out.text().contains("'run'"), "{}", out.text());
}
