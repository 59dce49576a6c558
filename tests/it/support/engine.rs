//! The real `mpctl` binary against in-process emulators: one emulator per named environment
//! (each with the organisation bootstrapped and its admin credentials in `MPCTL_<ENV>_*`), and a
//! working directory for the manifest.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;

pub const ORG: &str = "910753282";

/// One environment's emulator and the admin credentials mpctl uses for it.
pub struct EnvEmulator {
    pub name: String,
    pub emulator: Emulator,
    pub client_id: String,
    pub kid: String,
}

/// Emulators for some environments, and a working directory for the binary.
pub struct Harness {
    pub envs: Vec<EnvEmulator>,
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
}

impl Harness {
    /// Starts one emulator per environment name, with the organisation owning prefix `acme`.
    pub fn start(names: &[&str]) -> Self {
        let with: Vec<(&str, &[&str])> = names.iter().map(|n| (*n, &["acme"][..])).collect();
        Self::start_with(&with)
    }

    /// Starts one emulator per environment, with the organisation owning the prefixes given.
    pub fn start_with(envs: &[(&str, &[&str])]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut started = Vec::new();
        for (name, prefixes) in envs {
            let emulator = runtime
                .block_on(Emulator::start(EmulatorConfig::default()))
                .unwrap();
            let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
            let admin = runtime
                .block_on(emulator.bootstrap_org(&OrgNo::new_unchecked(ORG), &prefixes))
                .unwrap();
            std::fs::write(
                dir.path().join(format!("{name}-admin.pem")),
                admin.private_key_pem.expose(),
            )
            .unwrap();
            started.push(EnvEmulator {
                name: (*name).to_owned(),
                emulator,
                client_id: admin.client_id,
                kid: admin.kid,
            });
        }
        Self {
            envs: started,
            runtime,
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn env(&self, name: &str) -> &EnvEmulator {
        self.envs.iter().find(|e| e.name == name).expect("env")
    }

    /// The `environments:` entries of the harness's environments, in the order they were
    /// started, one per line with `indent`.
    pub fn environments(&self, indent: &str) -> String {
        self.envs
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

    /// Writes `file` in the working directory, with a line `ENVIRONMENTS` replaced by the
    /// harness's environments.
    pub fn write(&self, file: &str, manifest: &str) {
        let text = manifest.replace("  ENVIRONMENTS\n", &self.environments("  "));
        std::fs::write(self.path().join(file), text).unwrap();
    }

    /// Runs the binary in the working directory, with every environment's credentials.
    pub fn mpctl(&self, args: &[&str]) -> Output {
        self.mpctl_with(args, &[])
    }

    /// Runs the binary with extra environment variables.
    pub fn mpctl_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = mpctl_command(self.path(), args);
        command.envs(vars.iter().copied());
        for e in &self.envs {
            let var = |what: &str| format!("MPCTL_{}_{what}", e.name.to_uppercase());
            command
                .env(var("CLIENT_ID"), &e.client_id)
                .env(
                    var("KEY_FILE"),
                    self.path().join(format!("{}-admin.pem", e.name)),
                )
                .env(var("KEY_ID"), &e.kid);
        }
        command.output().expect("run mpctl")
    }
}

/// The binary, run in `dir` without a terminal, colour or any inherited `MPCTL_*` variable.
pub fn mpctl_command(dir: &Path, args: &[&str]) -> Command {
    super::mpctl_in(dir, args)
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn text(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    )
}
