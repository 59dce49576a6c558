//! The soak run: apply a generated manifest to a persistent emulator on loopback while it
//! injects 503s, 429s with `Retry-After`, latency spikes and dropped connections (before
//! processing, and after it — the response lost), and is stopped and restarted from its state
//! file in the middle of the apply (gracefully or abruptly, by turns). Then apply again until a
//! run succeeds (faults still on), switch the faults off, and check that a plan is empty and
//! that the emulator's state equals the manifest exactly: the same scopes, grants, clients
//! (each exactly once: no create was duplicated), keys and contacts. Every trial is seeded and
//! bounded in time and in requests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::IntoDiagnostic as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;

use super::generate::{ORGANIZATION, PREFIX, Spec, generate};
use super::minimum::{self, Sizes};
use super::pipeline::{self, Target};
use crate::api::Access;
use crate::api::retry::RetryPolicy;
use crate::emulator::{Emulator, EmulatorConfig, FaultConfig};
use crate::manifest::LoadedManifest;
use crate::manifest::orgno::OrgNo;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The manifest of each trial (one environment is used; the seed is replaced per trial).
    pub spec: Spec,
    pub trials: usize,
    /// The first trial's seed; trial `i` uses `seed + i`.
    pub seed: u64,
    pub concurrency: usize,
    /// No trial starts after this much time has passed.
    pub max_duration: Duration,
    /// Requests one trial may make in all, as a multiple of the API minimum for applying it.
    pub max_request_factor: u64,
}

impl Options {
    /// A few trials of a small manifest: for the always-run integration test.
    pub fn quick(trials: usize, seed: u64) -> Options {
        Options {
            spec: Spec {
                scopes: 12,
                grants: 36,
                clients: 5,
                environments: 1,
                contacts: true,
                seed,
            },
            trials,
            seed,
            concurrency: 4,
            max_duration: Duration::from_secs(900),
            max_request_factor: 20,
        }
    }
}

/// The outcome of one trial.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    pub seed: u64,
    pub passed: bool,
    /// Why it failed, if it did.
    pub failure: Option<String>,
    /// How the first apply (during which the emulator was restarted) ended.
    pub first_apply: String,
    /// Apply runs until one succeeded (the first included).
    pub apply_runs: u32,
    /// `graceful` or `abrupt`, and after how many audited changes.
    pub restart: String,
    /// Whether the emulator was stopped during the first apply.
    pub restarted: bool,
    /// Whether that stop interrupted writes: the restarted emulator received writes (the state
    /// lacked part of the manifest when it stopped). A stop after the last write does not.
    pub interrupted_writes: bool,
    /// Self-service requests in all, and the API minimum for applying the manifest once.
    pub requests: u64,
    pub minimum_requests: u64,
    pub elapsed_ms: u64,
}

/// The outcome of a soak run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    pub scopes: usize,
    pub grants: usize,
    pub clients: usize,
    pub concurrency: usize,
    pub faults: String,
    pub trials_run: usize,
    pub trials_failed: usize,
    pub elapsed_s: f64,
    pub trials: Vec<Trial>,
}

/// The faults of a trial, before latency spikes.
fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        latency: Duration::from_millis(2),
        error_rate: 0.05,
        rate_limit: Some(150),
        drop_rate: 0.02,
        drop_after_rate: 0.03,
        propagation: Duration::ZERO,
        seed,
    }
}

/// The fault settings as `--faults` would spell them, for the report.
pub fn describe_faults() -> String {
    let f = faults(0);
    format!(
        "latency={}ms with spikes to 250ms, error_rate={} (503), rate_limit={}/s (429 + Retry-After), drop_rate={} (before processing), drop_after_rate={} (response lost after processing), one stop and restart from the state file mid-apply",
        f.latency.as_millis(),
        f.error_rate,
        f.rate_limit.unwrap_or(0),
        f.drop_rate,
        f.drop_after_rate
    )
}

async fn start(state_file: &Path, listen: SocketAddr) -> miette::Result<Emulator> {
    let mut last = None;
    // The port was just released by the previous instance; binding may need a moment.
    for _ in 0..40 {
        match Emulator::start(EmulatorConfig {
            listen,
            state_file: Some(state_file.to_path_buf()),
            contacts_extension: true,
            ..EmulatorConfig::default()
        })
        .await
        {
            Ok(e) => return Ok(e),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last.map_or_else(
        || miette::miette!("the emulator did not start"),
        miette::Report::new,
    ))
}

/// Runs one trial in `dir`.
pub async fn trial(options: &Options, seed: u64, dir: &Path) -> Trial {
    let started = Instant::now();
    let mut outcome = Trial {
        seed,
        passed: false,
        failure: None,
        first_apply: String::new(),
        apply_runs: 0,
        restart: String::new(),
        restarted: false,
        interrupted_writes: false,
        requests: 0,
        minimum_requests: 0,
        elapsed_ms: 0,
    };
    if let Err(e) = run_trial(options, seed, dir, &mut outcome).await {
        outcome.failure = Some(format!("{e:?}"));
    } else {
        outcome.passed = outcome.failure.is_none();
    }
    outcome.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    outcome
}

/// Time one apply run may take before the trial counts as hung.
const APPLY_TIMEOUT: Duration = Duration::from_secs(300);

async fn run_trial(
    options: &Options,
    seed: u64,
    dir: &Path,
    outcome: &mut Trial,
) -> miette::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let spec = Spec {
        seed,
        environments: 1,
        ..options.spec
    };
    let manifest_dir = dir.join("manifest");
    let generated = generate(&spec);
    let path = generated.write_to(&manifest_dir).into_diagnostic()?;
    // The reference: what the generator decided, and its API minimum by formula.
    let sizes = Sizes::of(&generated.organisation, true);
    let now = crate::clock::system_now();
    let (loaded, _) = crate::manifest::load::load_at(&[path], now)
        .map_err(|d| miette::Report::new(d).wrap_err("the generated manifest is invalid"))?;
    let env = loaded
        .manifest
        .environment_names()
        .into_iter()
        .next()
        .ok_or_else(|| miette::miette!("the generated manifest has no environment"))?;

    let state_file = dir.join("state.json");
    let emulator = start(&state_file, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = emulator.addr();
    let org = OrgNo::new_unchecked(ORGANIZATION);
    let admin = emulator.bootstrap_org(&org, &[PREFIX.to_owned()]).await?;
    let target = Target::of(&env, &emulator, &admin);
    let bootstrap_audit = emulator.audit().len();
    emulator.set_faults(faults(seed));

    // The first apply, with the emulator restarted under it by a controller running beside it.
    let requests = std::sync::atomic::AtomicU64::new(0);
    let apply_done = std::sync::atomic::AtomicBool::new(false);
    let expected_writes = minimum::writes_from_empty(&sizes);
    // Restart after a random share of the manifest's changes reached the state.
    let restart_after = bootstrap_audit
        + usize::try_from(rng.gen_range(1..expected_writes.max(2))).unwrap_or(usize::MAX);
    let graceful = rng.gen_bool(0.5);
    let downtime = Duration::from_millis(rng.gen_range(50..400));
    let first_apply = async {
        let result = tokio::time::timeout(
            APPLY_TIMEOUT,
            apply_once(&loaded, &target, &env, options.concurrency, now, &requests),
        )
        .await;
        apply_done.store(true, std::sync::atomic::Ordering::SeqCst);
        result
    };
    let controller = async {
        let mut emulator = emulator;
        let mut spike = false;
        let mut round = 0u64;
        let mut restart = "none (the apply finished first)".to_owned();
        let mut restarted = false;
        loop {
            tokio::time::sleep(Duration::from_millis(40)).await;
            round += 1;
            if apply_done.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let audited = emulator.audit().len();
            if audited >= restart_after {
                restart = format!(
                    "{} after {} of {expected_writes} writes",
                    if graceful { "graceful" } else { "abrupt" },
                    audited - bootstrap_audit
                );
                if graceful {
                    emulator.shutdown().await?;
                } else {
                    drop(emulator);
                }
                tokio::time::sleep(downtime).await;
                emulator = start(&state_file, addr).await?;
                emulator.set_faults(faults(seed.wrapping_add(round)));
                restarted = true;
                break;
            }
            // Latency spikes: every few rounds, 250 ms for a while.
            if round.is_multiple_of(5) {
                spike = !spike;
                let mut f = faults(seed.wrapping_add(round));
                if spike {
                    f.latency = Duration::from_millis(250);
                }
                emulator.set_faults(f);
            }
        }
        Ok::<_, miette::Report>((emulator, restart, restarted))
    };
    let (first, controlled) = tokio::join!(first_apply, controller);
    let (emulator, restart, restarted) = controlled?;
    outcome.restart = restart;
    outcome.restarted = restarted;
    outcome.apply_runs = 1;
    let mut succeeded = match first {
        Err(_) => miette::bail!("the first apply did not finish within {APPLY_TIMEOUT:?}"),
        Ok(Ok(())) => {
            outcome.first_apply = "succeeded".into();
            true
        }
        Ok(Err(e)) => {
            outcome.first_apply = format!("failed: {}", first_line(&format!("{e}")));
            false
        }
    };
    // Apply again (faults still on) until a run succeeds.
    while !succeeded && outcome.apply_runs < 6 {
        outcome.apply_runs += 1;
        succeeded = tokio::time::timeout(
            APPLY_TIMEOUT,
            apply_once(&loaded, &target, &env, options.concurrency, now, &requests),
        )
        .await
        .is_ok_and(|r| r.is_ok());
    }
    if !succeeded {
        miette::bail!("no apply succeeded in {} runs", outcome.apply_runs);
    }

    // The audit log is not persisted: after a restart it holds only the writes made since.
    outcome.interrupted_writes = restarted
        && emulator
            .audit()
            .iter()
            .any(|e| e.org == generated.organisation.orgno);

    // Faults off: the plan must be empty.
    emulator.set_faults(FaultConfig::default());
    let client = pipeline::connect(
        &loaded,
        &target,
        Access::Read,
        options.concurrency,
        RetryPolicy::default(),
    )
    .await?;
    let (plan, _) = pipeline::plan(&loaded, &env, &client, now).await?;
    requests.fetch_add(client.request_count(), std::sync::atomic::Ordering::Relaxed);
    outcome.requests = requests.load(std::sync::atomic::Ordering::Relaxed);
    outcome.minimum_requests = minimum::apply_from_empty(&sizes, options.concurrency);
    let mut problems = Vec::new();
    if !plan.changes.is_empty() {
        let heads: Vec<String> = plan.changes.iter().take(5).map(|c| c.headline()).collect();
        problems.push(format!(
            "the plan after apply has {} changes: {}",
            plan.changes.len(),
            heads.join("; ")
        ));
    }
    if outcome.requests > options.max_request_factor * outcome.minimum_requests.max(1) {
        problems.push(format!(
            "{} requests, over {}× the minimum {}",
            outcome.requests, options.max_request_factor, outcome.minimum_requests
        ));
    }
    // The state the emulator kept must be the generator's specification, field by field, read
    // from its state file after shutdown.
    emulator.shutdown().await?;
    let found = super::state_check::differences(&state_file, &generated.organisation, &env)
        .map_err(|e| miette::miette!("{e}"))?;
    if !found.is_empty() {
        let count = found.len();
        let shown: Vec<String> = found.into_iter().take(10).collect();
        problems.push(format!(
            "the state file differs from the specification in {count} places: {}",
            shown.join("; ")
        ));
    }
    if !problems.is_empty() {
        outcome.failure = Some(problems.join("; "));
    }
    Ok(())
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// Connects and applies once; the requests made are added to `requests`.
async fn apply_once(
    loaded: &LoadedManifest,
    target: &Target,
    env: &str,
    concurrency: usize,
    now: i64,
    requests: &std::sync::atomic::AtomicU64,
) -> miette::Result<()> {
    let client = pipeline::connect(
        loaded,
        target,
        Access::Write,
        concurrency,
        RetryPolicy::default(),
    )
    .await?;
    let result = pipeline::apply(loaded, env, &client, concurrency, now).await;
    requests.fetch_add(client.request_count(), std::sync::atomic::Ordering::Relaxed);
    let (_, _, report) = result?;
    match report.failed.first() {
        None => Ok(()),
        Some(f) => miette::bail!("{}: {}", f.change.headline(), f.error),
    }
}

/// Runs the trials one after another, each in its own directory under `work`.
pub async fn run(options: &Options, work: &Path, progress: &dyn Fn(&Trial)) -> Report {
    let started = Instant::now();
    let mut trials = Vec::new();
    for i in 0..options.trials {
        if started.elapsed() > options.max_duration {
            break;
        }
        let seed = options.seed.wrapping_add(i as u64);
        let dir: PathBuf = work.join(format!("trial-{seed}"));
        let outcome = trial(options, seed, &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        progress(&outcome);
        trials.push(outcome);
    }
    Report {
        date: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        scopes: options.spec.scopes,
        grants: options.spec.grants,
        clients: options.spec.clients,
        concurrency: options.concurrency,
        faults: describe_faults(),
        trials_run: trials.len(),
        trials_failed: trials.iter().filter(|t| !t.passed).count(),
        elapsed_s: started.elapsed().as_secs_f64(),
        trials,
    }
}

/// The report as Markdown (the part of `docs/reliability.md` each run rewrites).
pub fn markdown(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Run {}: **{} trials, {} failed**, in {:.0} s. Each: {} scopes, {} grants, {} clients, concurrency {}.\n\nFaults: {}.\n",
        report.date,
        report.trials_run,
        report.trials_failed,
        report.elapsed_s,
        report.scopes,
        report.grants,
        report.clients,
        report.concurrency,
        report.faults
    );
    let restarted = report.trials.iter().filter(|t| t.restarted).count();
    let interrupted = report
        .trials
        .iter()
        .filter(|t| t.interrupted_writes)
        .count();
    let first_ok = report
        .trials
        .iter()
        .filter(|t| t.first_apply == "succeeded")
        .count();
    let requests: u64 = report.trials.iter().map(|t| t.requests).sum();
    let minimum: u64 = report.trials.iter().map(|t| t.minimum_requests).sum();
    let _ = writeln!(
        s,
        "Restarted during the first apply: {restarted} of {} trials; the restart interrupted writes (writes reached the restarted emulator) in {interrupted}. First apply succeeded despite the faults: {first_ok}; the others converged on a re-run. Requests in all: {requests} (the minimum for one clean apply of each trial's manifest: {minimum}).\n",
        report.trials_run
    );
    s.push_str("| Seed | Result | Restart | First apply | Apply runs | Requests / minimum | Time |\n|---:|---|---|---|---:|---:|---:|\n");
    for t in &report.trials {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} | {:.1} s |",
            t.seed,
            if t.passed {
                "pass".to_owned()
            } else {
                format!(
                    "**fail**: {}",
                    t.failure.as_deref().unwrap_or("").replace('|', "\\|")
                )
            },
            if t.restarted && !t.interrupted_writes {
                format!("{}; no write after it", t.restart)
            } else {
                t.restart.clone()
            },
            t.first_apply.replace('|', "\\|"),
            t.apply_runs,
            t.requests,
            t.minimum_requests,
            t.elapsed_ms as f64 / 1000.0
        );
    }
    s
}
