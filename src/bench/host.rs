//! Emulators for the benchmark, served by a child process (`mpctl bench emulators`), so that
//! the benchmark's own process holds only what `mpctl plan` and `apply` hold: its peak memory
//! and CPU time are then mpctl's, not the emulator's.
//!
//! Protocol: the child starts one in-memory emulator per environment (loopback, random port,
//! the given latency and rate limit, the contacts extension on when asked), bootstraps the organisation with
//! its prefix in each, writes one JSON [`Target`] per line on its standard output, and serves
//! until its standard input closes. The pipe is private to the two processes.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use miette::{Context as _, IntoDiagnostic as _};

use super::pipeline::Target;
use crate::emulator::{Emulator, EmulatorConfig, FaultConfig};
use crate::manifest::orgno::OrgNo;

/// Serves `envs` emulators until standard input closes (the child's side).
pub fn serve(
    envs: &[String],
    organization: &OrgNo,
    prefixes: &[String],
    latency: Duration,
    rate_limit: Option<u32>,
    contacts: bool,
) -> miette::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    runtime.block_on(async {
        let mut running = Vec::new();
        let mut stdout = std::io::stdout().lock();
        for env in envs {
            let emulator = Emulator::start(EmulatorConfig {
                contacts_extension: contacts,
                faults: FaultConfig {
                    latency,
                    rate_limit,
                    ..FaultConfig::default()
                },
                ..EmulatorConfig::default()
            })
            .await?;
            let admin = emulator.bootstrap_org(organization, prefixes).await?;
            let target = Target::of(env, &emulator, &admin);
            let line = serde_json::to_string(&target).into_diagnostic()?;
            writeln!(stdout, "{line}").into_diagnostic()?;
            running.push(emulator);
        }
        stdout.flush().into_diagnostic()?;
        drop(stdout);
        // Serve until the parent closes our standard input (or dies).
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut sink);
        })
        .await
        .into_diagnostic()?;
        drop(running);
        Ok(())
    })
}

/// Emulators served by a child process (the parent's side). Dropping it stops them.
pub struct EmulatorHost {
    child: Child,
    stdin: Option<ChildStdin>,
    pub targets: Vec<Target>,
}

impl EmulatorHost {
    /// Starts `exe bench emulators …` and reads the environments' targets.
    pub fn spawn(
        exe: &Path,
        envs: &[String],
        latency: Duration,
        rate_limit: Option<u32>,
        contacts: bool,
    ) -> miette::Result<EmulatorHost> {
        let mut command = Command::new(exe);
        command
            .args(["bench", "emulators", "--latency-ms"])
            .arg(latency.as_millis().to_string());
        if let Some(limit) = rate_limit {
            command.args(["--rate-limit", &limit.to_string()]);
        }
        for env in envs {
            command.args(["--env", env]);
        }
        if contacts {
            command.arg("--contacts");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {} bench emulators", exe.display()))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| miette::miette!("the emulator process has no standard output"))?;
        let mut host = EmulatorHost {
            child,
            stdin,
            targets: Vec::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        for env in envs {
            let line = lines
                .next()
                .ok_or_else(|| {
                    miette::miette!("the emulator process ended before serving `{env}`")
                })?
                .into_diagnostic()?;
            let target: Target = serde_json::from_str(&line)
                .into_diagnostic()
                .wrap_err("the emulator process answered something unexpected")?;
            host.targets.push(target);
        }
        Ok(host)
    }
}

impl Drop for EmulatorHost {
    fn drop(&mut self) {
        // Closing standard input asks the child to stop; it is killed if it does not.
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
