//! Helpers shared by the integration tests. The binary runs one way: [`mpctl`] / [`mpctl_in`]
//! build its command with a clean environment, and [`TestContext`] (a working directory,
//! optionally one or several named in-process emulators with their credentials, manifest
//! files, and filters that take ports, temporary paths and times out of output) runs it for
//! most tests. Async tests that drive an emulator over HTTP ([`emulator::Env`]) run the binary
//! with [`emulator::run_mpctl`], off their runtime. [`OutputExt`] reads a finished run.
//!
//! The area modules: [`client`] (keys, certificates and a scripted HTTP server for the API
//! client), [`emulator`] (grant assertions, tokens and API calls against the emulator) and
//! [`gitops`] (a runner for the repository's GitHub workflows).

pub mod client;
pub mod emulator;
pub mod gitops;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

/// The organisation a [`TestContext`]'s emulator bootstraps (prefix `acme`).
pub const ORG: &str = "910753282";

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mpctl"))
}

/// The binary with `args` and a clean environment: no `MPCTL_*` or `GITHUB_*` variable of the
/// calling environment, `NO_COLOR`, stdin null. It runs in the package root unless the caller
/// sets a directory.
pub fn mpctl(args: &[&str]) -> Command {
    let mut command = Command::new(bin());
    command.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("MPCTL_") || name.starts_with("GITHUB_") {
            command.env_remove(&key);
        }
    }
    command
}

/// [`mpctl`] run in `dir`.
pub fn mpctl_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = mpctl(args);
    command.current_dir(dir);
    command
}

/// Standard output and error of a run, for assertion messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What tests read of a finished run of the binary.
pub trait OutputExt {
    /// The exit code, or -1 when a signal ended the process.
    fn code(&self) -> i32;
    /// Standard output as text.
    fn stdout_text(&self) -> String;
    /// Standard error as text.
    fn stderr_text(&self) -> String;
    /// Both streams, labelled, for assertion messages (as [`output_text`]).
    fn text(&self) -> String;
}

impl OutputExt for Output {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    fn text(&self) -> String {
        output_text(self)
    }
}

/// Runs the binary off the async runtime (so that an in-process emulator served by that
/// runtime keeps answering) and waits for it.
pub async fn output_off_runtime(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run mpctl"))
        .await
        .expect("runner thread")
}

/// One emulator started by a [`TestContext`], with the admin identity of [`ORG`]; it derefs to
/// the [`Emulator`].
pub struct ContextEmulator {
    pub name: String,
    pub emulator: Emulator,
    pub admin: AdminIdentity,
}

impl std::ops::Deref for ContextEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

/// A test's working directory, optionally with in-process emulators (one per environment
/// name, each with [`ORG`] bootstrapped and its credentials passed as `MPCTL_<ENV>_*`), and
/// the binary run there with a clean environment.
pub struct TestContext {
    // Emulators before the runtime that serves them: fields drop in order.
    emulators: Vec<ContextEmulator>,
    runtime: Option<tokio::runtime::Runtime>,
    vars: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TestContext {
    /// A new empty working directory and no emulator.
    pub fn new() -> Self {
        Self {
            emulators: Vec::new(),
            runtime: None,
            vars: Vec::new(),
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// Starts an emulator for environment `name` with the default configuration.
    pub fn with_emulator(self, name: &str) -> Self {
        self.with_emulator_config(name, EmulatorConfig::default())
    }

    /// Starts an emulator for environment `name`; [`ORG`] owns prefix `acme` and its admin
    /// key is written to `<name>-admin.pem` in the working directory.
    pub fn with_emulator_config(self, name: &str, config: EmulatorConfig) -> Self {
        self.with_emulator_owning(name, config, &["acme"])
    }

    /// Starts an emulator for environment `name` in which [`ORG`] owns `prefixes`.
    pub fn with_emulator_owning(
        mut self,
        name: &str,
        config: EmulatorConfig,
        prefixes: &[&str],
    ) -> Self {
        let runtime = self.runtime.get_or_insert_with(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime")
        });
        let emulator = runtime
            .block_on(Emulator::start(config))
            .expect("emulator starts");
        let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        let admin = runtime
            .block_on(emulator.bootstrap_org(&OrgNo::new_unchecked(ORG), &prefixes))
            .expect("organisation bootstrapped");
        let key_file = self.dir.path().join(format!("{name}-admin.pem"));
        std::fs::write(&key_file, admin.private_key_pem.expose()).expect("admin key written");
        let var = |what: &str| format!("MPCTL_{}_{what}", name.to_uppercase().replace('-', "_"));
        self.vars.extend([
            (var("CLIENT_ID"), admin.client_id.clone()),
            (var("KEY_FILE"), key_file.display().to_string()),
            (var("KEY_ID"), admin.kid.clone()),
        ]);
        self.emulators.push(ContextEmulator {
            name: name.to_owned(),
            emulator,
            admin,
        });
        self
    }

    /// Sets `key` for every run of the binary.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The working directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The runtime that serves the context's emulators, for library calls against them.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the context has an emulator")
    }

    /// The emulator of environment `name`.
    pub fn emulator(&self, name: &str) -> &ContextEmulator {
        self.emulators
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no emulator for environment {name}"))
    }

    /// The `environments:` entries of the context's emulators, one per line with `indent`.
    pub fn environments(&self, indent: &str) -> String {
        self.emulators
            .iter()
            .map(|e| {
                format!(
                    "{indent}{}: {{ api_url: \"{}\", token_url: \"{}\", audience: \"{}\" }}\n",
                    e.name,
                    e.emulator.api_url(),
                    e.emulator.token_url(),
                    e.emulator.issuer()
                )
            })
            .collect()
    }

    /// Writes `file` in the working directory, with a line `  ENVIRONMENTS` replaced by the
    /// context's environments.
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.path().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("directory created");
        }
        let text = text.replace("  ENVIRONMENTS\n", &self.environments("  "));
        std::fs::write(&path, text).expect("file written");
        path
    }

    /// The binary with `args` in the working directory, with the context's variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = mpctl_in(self.path(), args);
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs the binary with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run mpctl")
    }

    /// Runs the binary with `args` and asserts its exit code, showing its output if it differs.
    #[track_caller]
    pub fn run_expecting(&self, args: &[&str], code: i32) -> Output {
        let output = self.run(args);
        assert_eq!(output.code(), code, "{}", output_text(&output));
        output
    }

    /// Runs the binary with `args` and the variables `vars` besides the context's.
    pub fn run_with<K, V>(&self, args: &[&str], vars: &[(K, V)]) -> Output
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.command(args);
        command.envs(vars.iter().map(|(k, v)| (k, v)));
        command.output().expect("run mpctl")
    }

    /// Regular expressions and their replacements that make output stable: the working
    /// directory, the emulators' ports, timestamps and request durations.
    pub fn filters(&self) -> Vec<(String, String)> {
        let mut filters = Vec::new();
        let dir = self.path();
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        for path in [canonical.as_path(), dir] {
            filters.push((
                regex::escape(&path.display().to_string()),
                "[TEMP]".to_owned(),
            ));
        }
        filters.extend([
            (
                r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+".to_owned(),
                "$1:[PORT]".to_owned(),
            ),
            (
                r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?".to_owned(),
                "[TIME]".to_owned(),
            ),
            (
                r"\bduration_ms=\d+".to_owned(),
                "duration_ms=[MS]".to_owned(),
            ),
        ]);
        filters
    }

    /// `text` with [`Self::filters`] applied.
    pub fn filter(&self, text: &str) -> String {
        self.filters()
            .iter()
            .fold(text.to_owned(), |text, (pattern, replacement)| {
                regex::Regex::new(pattern)
                    .expect("filter pattern")
                    .replace_all(&text, replacement.as_str())
                    .into_owned()
            })
    }

    /// Standard output and error of a run, filtered, for snapshots.
    pub fn output(&self, output: &Output) -> String {
        self.filter(&output_text(output))
    }
}
