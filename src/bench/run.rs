//! The benchmark: plan and apply of a generated manifest against emulators with injected
//! latency, measured against the API's request minimum and the concurrency-bound minimum wall
//! time; a sequential run (concurrency 1) on a scaled-down sample, extrapolated; the CPU time
//! of validate + diff; and the peak memory of the process doing it all.
//!
//! The emulators run in a child process ([`super::host`]), so the CPU and memory figures are
//! mpctl's alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::IntoDiagnostic as _;
use serde::Serialize;

use super::generate::{ORGANIZATION, PREFIX, Spec, generate};
use super::host::EmulatorHost;
use super::measure;
use super::minimum::{self, Sizes};
use super::pipeline::{self, bound};
use crate::api::Access;
use crate::api::retry::RetryPolicy;
use crate::state::LiveEnv;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub spec: Spec,
    pub latency: Duration,
    pub concurrency: usize,
    /// The sequential run uses the spec divided by this.
    pub sequential_divisor: usize,
    /// Requests per second of the rate-limited run (`None`: skip it).
    pub rate_limit: Option<u32>,
    /// The executable serving the emulators (`mpctl`).
    pub exe: PathBuf,
}

/// One measured plan or apply over all environments.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// `plan` or `apply`.
    pub operation: String,
    pub scopes: usize,
    pub grants: usize,
    pub clients: usize,
    pub environments: usize,
    pub concurrency: usize,
    /// Self-service API requests made (token requests excluded), retries included.
    pub requests: u64,
    /// The API's minimum for the same work.
    pub minimum_requests: u64,
    pub wall_ms: f64,
    /// `minimum_requests / concurrency × latency`, per environment, summed (environments run
    /// one after another, as `mpctl` does).
    pub bound_ms: f64,
    /// `wall_ms / bound_ms`.
    pub ratio_to_bound: f64,
    /// Changes planned (apply: carried out).
    pub changes: usize,
    /// CPU time of this process (mpctl's side only: the emulators run in a child) during the
    /// run, and per request.
    pub cpu_ms: f64,
    pub cpu_ms_per_request: f64,
}

/// The sequential comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Sequential {
    /// The sample is the spec divided by this.
    pub divisor: usize,
    pub sample_plan: Measured,
    pub sample_apply: Measured,
    /// The sample's wall time scaled by the full run's requests over the sample's.
    pub extrapolated_plan_ms: f64,
    pub extrapolated_apply_ms: f64,
    /// Extrapolated sequential wall time over the measured concurrent one.
    pub plan_speedup: f64,
    pub apply_speedup: f64,
}

/// Apply from empty to one environment whose server limits the request rate.
#[derive(Debug, Clone, Serialize)]
pub struct RateLimited {
    /// The server's limit, requests per second (a token bucket of one second's worth).
    pub limit_per_s: u32,
    pub scopes: usize,
    pub grants: usize,
    pub clients: usize,
    /// The configured (maximum) concurrency.
    pub concurrency: usize,
    /// Self-service requests sent, refusals included.
    pub requests: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// `throttled / requests`.
    pub throttled_share: f64,
    pub wall_ms: f64,
    /// Requests served (not refused) per second of the apply's wall time.
    pub served_per_s: f64,
    /// `served_per_s / limit_per_s`.
    pub share_of_limit: f64,
    /// The concurrency the client had settled on at the end.
    pub final_concurrency: usize,
    pub changes: usize,
}

/// CPU time of the pure core.
#[derive(Debug, Clone, Serialize)]
pub struct CoreCpuReport {
    pub validate_ms: f64,
    pub diff_ms: f64,
    pub total_ms: f64,
}

/// A target and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// Everything one benchmark run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub date: String,
    /// `debug` or `release`: the build that ran.
    pub profile: String,
    pub cpus: usize,
    /// The one-minute load average before and after the run (other work on the machine).
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub apply: Measured,
    pub plan: Measured,
    pub sequential: Sequential,
    /// The rate-limited run, when it ran.
    pub rate_limited: Option<RateLimited>,
    pub validate_and_diff_cpu: CoreCpuReport,
    pub peak_rss_mib: Option<f64>,
    pub targets: Vec<TargetCheck>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The machine's one-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Apply (from empty) and then plan (nothing left to do) of `spec` at `concurrency`, in fresh
/// emulators. Returns both measurements and the live state of each environment after apply.
async fn scenario(
    options: &Options,
    spec: &Spec,
    concurrency: usize,
    now: i64,
) -> miette::Result<(
    Measured,
    Measured,
    BTreeMap<String, LiveEnv>,
    PathBuf,
    tempfile::TempDir,
)> {
    let dir = scratch_dir()?;
    let generated = generate(spec);
    let path = generated.write_to(dir.path()).into_diagnostic()?;
    // The reference: the API minimum of the generated organisation, by formula (every
    // environment holds all of it; the emulators serve contacts when the spec has them).
    let sizes = Sizes::of(&generated.organisation, spec.contacts);
    let (loaded, _) = crate::manifest::load::load_at(std::slice::from_ref(&path), now)
        .map_err(|d| miette::Report::new(d).wrap_err("the generated manifest is invalid"))?;
    let envs = loaded.manifest.environment_names();
    let host = EmulatorHost::spawn(&options.exe, &envs, options.latency, None, spec.contacts)?;
    let blank = |operation: &str| Measured {
        operation: operation.into(),
        scopes: spec.scopes,
        grants: spec.grants,
        clients: spec.clients,
        environments: envs.len(),
        concurrency,
        requests: 0,
        minimum_requests: 0,
        wall_ms: 0.0,
        bound_ms: 0.0,
        ratio_to_bound: 0.0,
        changes: 0,
        cpu_ms: 0.0,
        cpu_ms_per_request: 0.0,
    };
    let mut applied = blank("apply");
    let mut planned = blank("plan");
    let mut lives = BTreeMap::new();
    for target in &host.targets {
        let env = target.env.as_str();
        // apply: connect (token), fetch, diff, execute.
        let started = Instant::now();
        let cpu_before = measure::process_cpu();
        let client = pipeline::connect(
            &loaded,
            target,
            Access::Write,
            concurrency,
            RetryPolicy::default(),
        )
        .await?;
        let (plan, _, report) = pipeline::apply(&loaded, env, &client, concurrency, now).await?;
        let wall = started.elapsed();
        if !report.succeeded() {
            let first = report
                .failed
                .first()
                .map(|f| f.error.clone())
                .unwrap_or_default();
            miette::bail!("apply of `{env}` failed: {first}");
        }
        let minimum = minimum::apply_from_empty(&sizes, concurrency);
        applied.requests += client.request_count();
        applied.minimum_requests += minimum;
        applied.wall_ms += ms(wall);
        applied.bound_ms += ms(bound(minimum, concurrency, options.latency));
        applied.changes += plan.changes.len();
        applied.cpu_ms += ms(measure::process_cpu().saturating_sub(cpu_before));

        // plan: connect (token), fetch, diff.
        let started = Instant::now();
        let cpu_before = measure::process_cpu();
        let client = pipeline::connect(
            &loaded,
            target,
            Access::Read,
            concurrency,
            RetryPolicy::default(),
        )
        .await?;
        let (plan, live) = pipeline::plan(&loaded, env, &client, now).await?;
        let wall = started.elapsed();
        let minimum = minimum::plan(&sizes);
        planned.requests += client.request_count();
        planned.minimum_requests += minimum;
        planned.wall_ms += ms(wall);
        planned.bound_ms += ms(bound(minimum, concurrency, options.latency));
        planned.changes += plan.changes.len();
        planned.cpu_ms += ms(measure::process_cpu().saturating_sub(cpu_before));
        lives.insert(env.to_owned(), live);
    }
    for m in [&mut applied, &mut planned] {
        m.ratio_to_bound = if m.bound_ms > 0.0 {
            m.wall_ms / m.bound_ms
        } else {
            0.0
        };
        m.cpu_ms_per_request = m.cpu_ms / (m.requests.max(1) as f64);
    }
    drop(host);
    Ok((applied, planned, lives, path, dir))
}

/// A fresh directory for a generated manifest, removed when dropped.
fn scratch_dir() -> miette::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("mpctl-bench-")
        .tempdir()
        .into_diagnostic()
}

/// Apply of `spec` from empty to one fresh environment limited to `limit` requests per second.
async fn rate_limited(
    options: &Options,
    spec: &Spec,
    limit: u32,
    now: i64,
) -> miette::Result<RateLimited> {
    let dir = scratch_dir()?;
    let spec = Spec {
        environments: 1,
        ..*spec
    };
    let path = generate(&spec).write_to(dir.path()).into_diagnostic()?;
    let (loaded, _) = crate::manifest::load::load_at(std::slice::from_ref(&path), now)
        .map_err(|d| miette::Report::new(d).wrap_err("the generated manifest is invalid"))?;
    let envs = loaded.manifest.environment_names();
    let host = EmulatorHost::spawn(
        &options.exe,
        &envs,
        options.latency,
        Some(limit),
        spec.contacts,
    )?;
    let target = host
        .targets
        .first()
        .ok_or_else(|| miette::miette!("the emulator process served no environment"))?;
    let started = Instant::now();
    let client = pipeline::connect(
        &loaded,
        target,
        Access::Write,
        options.concurrency,
        RetryPolicy::default(),
    )
    .await?;
    let (plan, _, report) =
        pipeline::apply(&loaded, &target.env, &client, options.concurrency, now).await?;
    let wall = started.elapsed();
    if !report.succeeded() {
        let first = report
            .failed
            .first()
            .map(|f| f.error.clone())
            .unwrap_or_default();
        miette::bail!("the rate-limited apply failed: {first}");
    }
    let requests = client.request_count();
    let throttled = client.throttled_count();
    let served_per_s = requests.saturating_sub(throttled) as f64 / wall.as_secs_f64().max(1e-9);
    Ok(RateLimited {
        limit_per_s: limit,
        scopes: spec.scopes,
        grants: spec.grants,
        clients: spec.clients,
        concurrency: options.concurrency,
        requests,
        throttled,
        throttled_share: throttled as f64 / requests.max(1) as f64,
        wall_ms: ms(wall),
        served_per_s,
        share_of_limit: served_per_s / f64::from(limit),
        final_concurrency: client.current_concurrency(),
        changes: plan.changes.len(),
    })
}

/// Runs the whole benchmark.
pub fn run(options: &Options, progress: &dyn Fn(&str)) -> miette::Result<Report> {
    let load_before = load_average();
    let now = crate::clock::system_now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let full = options.spec;
    progress(&format!(
        "full run: {} scopes, {} grants, {} clients, {} environments, concurrency {}, latency {} ms",
        full.scopes,
        full.grants,
        full.clients,
        full.environments,
        options.concurrency,
        options.latency.as_millis()
    ));
    let (apply, plan, lives, path, _dir) =
        runtime.block_on(scenario(options, &full, options.concurrency, now))?;
    progress(&format!(
        "  apply {:.0} ms ({} requests), plan {:.0} ms ({} requests)",
        apply.wall_ms, apply.requests, plan.wall_ms, plan.requests
    ));

    progress("validate + diff CPU time (best of 5)");
    let (_, cpu) = super::cpu::measure(&path, &lives, now, 5)
        .map_err(|d| miette::Report::new(d).wrap_err("the generated manifest is invalid"))?;
    let peak_after_full = measure::peak_rss_bytes();

    let sample = full.scaled_down(options.sequential_divisor);
    progress(&format!(
        "sequential sample (1/{}): concurrency 1",
        options.sequential_divisor
    ));
    let (seq_apply, seq_plan, _, _, _dir2) =
        runtime.block_on(scenario(options, &sample, 1, now))?;
    progress(&format!(
        "  apply {:.0} ms ({} requests), plan {:.0} ms ({} requests)",
        seq_apply.wall_ms, seq_apply.requests, seq_plan.wall_ms, seq_plan.requests
    ));
    let extrapolate = |sample: &Measured, full: &Measured| {
        if sample.requests == 0 {
            0.0
        } else {
            sample.wall_ms * full.requests as f64 / sample.requests as f64
        }
    };
    let extrapolated_plan_ms = extrapolate(&seq_plan, &plan);
    let extrapolated_apply_ms = extrapolate(&seq_apply, &apply);
    let sequential = Sequential {
        divisor: options.sequential_divisor,
        plan_speedup: extrapolated_plan_ms / plan.wall_ms.max(f64::MIN_POSITIVE),
        apply_speedup: extrapolated_apply_ms / apply.wall_ms.max(f64::MIN_POSITIVE),
        extrapolated_plan_ms,
        extrapolated_apply_ms,
        sample_plan: seq_plan,
        sample_apply: seq_apply,
    };

    let rate_limited = match options.rate_limit {
        Some(limit) => {
            progress(&format!(
                "rate-limited run: apply to one environment limited to {limit} requests/s"
            ));
            let r = runtime.block_on(rate_limited(options, &full, limit, now))?;
            progress(&format!(
                "  {:.0} ms, {} requests, {} answered 429 ({:.2} %), {:.1} served/s ({:.0} % of the limit)",
                r.wall_ms,
                r.requests,
                r.throttled,
                r.throttled_share * 100.0,
                r.served_per_s,
                r.share_of_limit * 100.0
            ));
            Some(r)
        }
        None => None,
    };

    let peak = peak_after_full.max(measure::peak_rss_bytes());
    let peak_rss_mib = peak.map(|b| b as f64 / (1024.0 * 1024.0));
    let core = CoreCpuReport {
        validate_ms: ms(cpu.validate),
        diff_ms: ms(cpu.diff),
        total_ms: ms(cpu.total()),
    };
    let mut targets = vec![
        TargetCheck {
            target: "plan within 1.3× of the concurrency-bound minimum".into(),
            measured: format!("{:.2}×", plan.ratio_to_bound),
            met: plan.ratio_to_bound <= 1.3,
        },
        TargetCheck {
            target: "apply within 1.3× of the concurrency-bound minimum".into(),
            measured: format!("{:.2}×", apply.ratio_to_bound),
            met: apply.ratio_to_bound <= 1.3,
        },
        TargetCheck {
            target: "plan requests = API minimum".into(),
            measured: format!("{} / {}", plan.requests, plan.minimum_requests),
            met: plan.requests == plan.minimum_requests,
        },
        TargetCheck {
            target: "apply requests = API minimum".into(),
            measured: format!("{} / {}", apply.requests, apply.minimum_requests),
            met: apply.requests == apply.minimum_requests,
        },
        TargetCheck {
            target: "validate + diff under 100 ms CPU".into(),
            measured: format!("{:.1} ms", core.total_ms),
            met: core.total_ms < 100.0,
        },
        TargetCheck {
            target: "peak RSS under 100 MB".into(),
            measured: peak_rss_mib.map_or("unknown".into(), |m| format!("{m:.1} MiB")),
            met: peak_rss_mib.is_some_and(|m| m * 1.048_576 < 100.0),
        },
    ];
    if let Some(r) = &rate_limited {
        targets.push(TargetCheck {
            target: "rate-limited apply sustains at least 90 % of the limit".into(),
            measured: format!(
                "{:.1} / {} requests/s ({:.0} %)",
                r.served_per_s,
                r.limit_per_s,
                r.share_of_limit * 100.0
            ),
            met: r.share_of_limit >= 0.9,
        });
        targets.push(TargetCheck {
            target: "rate-limited apply: under 2 % of requests answered 429".into(),
            measured: format!(
                "{} of {} ({:.2} %)",
                r.throttled,
                r.requests,
                r.throttled_share * 100.0
            ),
            met: r.throttled_share < 0.02,
        });
    }
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(Report {
        date,
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        load_before,
        load_after: load_average(),
        latency_ms: u64::try_from(options.latency.as_millis()).unwrap_or(u64::MAX),
        concurrency: options.concurrency,
        apply,
        plan,
        sequential,
        rate_limited,
        validate_and_diff_cpu: core,
        peak_rss_mib,
        targets,
    })
}

/// The report as Markdown tables (the part of `docs/performance.md` that each run rewrites).
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Run {} · {} build · {} CPUs · load average {} before, {} after · latency {} ms · concurrency {}\n",
        report.date,
        report.profile,
        report.cpus,
        report.load_before.map_or("?".into(), |l| format!("{l:.2}")),
        report.load_after.map_or("?".into(), |l| format!("{l:.2}")),
        report.latency_ms,
        report.concurrency
    );
    s.push_str("| Run | Size (scopes / grants / clients × envs) | Concurrency | Requests | API minimum | Wall time | Bound | Ratio | Changes | mpctl CPU per request |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let row = |s: &mut String, m: &Measured, label: &str| {
        let _ = writeln!(
            s,
            "| {label} | {} / {} / {} × {} | {} | {} | {} | {:.0} ms | {:.0} ms | {:.2}× | {} | {:.2} ms |",
            m.scopes,
            m.grants,
            m.clients,
            m.environments,
            m.concurrency,
            m.requests,
            m.minimum_requests,
            m.wall_ms,
            m.bound_ms,
            m.ratio_to_bound,
            m.changes,
            m.cpu_ms_per_request
        );
    };
    row(&mut s, &report.apply, "apply (from empty)");
    row(&mut s, &report.plan, "plan (no changes)");
    row(
        &mut s,
        &report.sequential.sample_apply,
        "apply, sequential sample",
    );
    row(
        &mut s,
        &report.sequential.sample_plan,
        "plan, sequential sample",
    );
    let seq = &report.sequential;
    let _ = writeln!(
        s,
        "\nSequential (concurrency 1), extrapolated from the 1/{} sample by request count: apply {:.1} s ({:.1}× the concurrent run), plan {:.1} s ({:.1}×).\n",
        seq.divisor,
        seq.extrapolated_apply_ms / 1000.0,
        seq.apply_speedup,
        seq.extrapolated_plan_ms / 1000.0,
        seq.plan_speedup
    );
    if let Some(r) = &report.rate_limited {
        let _ = writeln!(
            s,
            "Rate-limited (server limit {} requests/s, a token bucket of one second's worth; latency {} ms): apply from empty of {} / {} / {} × 1 at concurrency up to {}: {} requests in {:.1} s, {} answered 429 ({:.2} %), {:.1} served per second ({:.0} % of the limit); concurrency at the end: {}.\n",
            r.limit_per_s,
            report.latency_ms,
            r.scopes,
            r.grants,
            r.clients,
            r.concurrency,
            r.requests,
            r.wall_ms / 1000.0,
            r.throttled,
            r.throttled_share * 100.0,
            r.served_per_s,
            r.share_of_limit * 100.0,
            r.final_concurrency
        );
    }
    let cpu = &report.validate_and_diff_cpu;
    let _ = writeln!(
        s,
        "Validate + diff CPU time (best of 5): validate {:.1} ms, diff {:.1} ms, total {:.1} ms. Peak RSS of the process: {}.\n",
        cpu.validate_ms,
        cpu.diff_ms,
        cpu.total_ms,
        report
            .peak_rss_mib
            .map_or("unknown".into(), |m| format!("{m:.1} MiB"))
    );
    s.push_str("| Target | Measured | Met |\n|---|---|---|\n");
    for t in &report.targets {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            t.target,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    s
}

/// Replaces the text between `<!-- bench:begin -->` and `<!-- bench:end -->` in `doc` with
/// `table`; appends the markers and table when the document has none.
pub fn splice(doc: &str, table: &str) -> String {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => format!(
            "{}{BEGIN}\n{table}{END}{}",
            &doc[..b],
            &doc[e + END.len()..]
        ),
        _ => format!("{doc}\n{BEGIN}\n{table}{END}\n"),
    }
}

/// Writes the JSON report and splices the Markdown tables into the performance page.
pub fn write(report: &Report, json: &Path, page: &Path) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(report).into_diagnostic()?;
    std::fs::write(json, format!("{text}\n")).into_diagnostic()?;
    let doc = std::fs::read_to_string(page).unwrap_or_default();
    std::fs::write(page, splice(&doc, &markdown(report))).into_diagnostic()?;
    Ok(())
}

/// The organisation and prefix the generated manifests use, for the emulator child.
pub fn generated_org() -> (crate::manifest::orgno::OrgNo, Vec<String>) {
    (
        crate::manifest::orgno::OrgNo::new_unchecked(ORGANIZATION),
        vec![PREFIX.to_owned()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_between_markers_and_appends_without_them() {
        let doc = "# P\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\nafter\n";
        let out = splice(doc, "new\n");
        assert_eq!(
            out,
            "# P\n\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\n\nafter\n"
        );
        let appended = splice("# P\n", "t\n");
        assert!(appended.ends_with("<!-- bench:begin -->\nt\n<!-- bench:end -->\n"));
    }

    #[test]
    fn bound_counts_rounds_of_concurrent_requests() {
        let l = Duration::from_millis(20);
        assert_eq!(bound(16, 8, l), Duration::from_millis(40));
        assert_eq!(bound(17, 8, l), Duration::from_millis(60));
        assert_eq!(bound(5, 1, l), Duration::from_millis(100));
        assert_eq!(bound(0, 8, l), Duration::ZERO);
    }
}
