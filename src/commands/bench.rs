//! `mpctl bench` (hidden): the benchmark, the soak run and the manifest generator, for the
//! figures in `docs/performance.md` and `docs/reliability.md`.

use std::time::Duration;

use super::Exit;
use super::failure::OrFail;
use crate::bench::{self, Spec};
use crate::cli::{
    BenchEmulatorsArgs, BenchGenerateArgs, BenchRunArgs, BenchSizeArgs, BenchSoakArgs,
};
use crate::diagnostic_code::Code;
use crate::printer::Printer;

fn spec(size: &BenchSizeArgs) -> Spec {
    Spec {
        scopes: size.scopes,
        grants: size.grants,
        clients: size.clients,
        environments: size.environments,
        contacts: true,
        seed: size.seed,
    }
}

pub fn run(args: &BenchRunArgs, printer: &Printer) -> miette::Result<Exit> {
    let options = bench::run::Options {
        spec: spec(&args.size),
        latency: Duration::from_millis(args.latency_ms),
        concurrency: args.concurrency.max(1),
        sequential_divisor: args.sequential_divisor.max(1),
        rate_limit: (args.rate_limit > 0).then_some(args.rate_limit),
        exe: std::env::current_exe()
            .or_fail(Code::IoRead, || "cannot find the mpctl executable".into())?,
    };
    let report = bench::run::run(&options, &|line| printer.status(line))?;
    printer.out(&bench::run::markdown(&report));
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&report).or_fail(Code::InternalBug, || {
            "cannot write the report as JSON".into()
        })?;
        std::fs::write(json, format!("{text}\n"))
            .or_fail(Code::IoWrite, || format!("cannot write {}", json.display()))?;
    }
    if let Some(page) = &args.markdown {
        let doc = std::fs::read_to_string(page).unwrap_or_default();
        std::fs::write(
            page,
            bench::run::splice(&doc, &bench::run::markdown(&report)),
        )
        .or_fail(Code::IoWrite, || format!("cannot write {}", page.display()))?;
    }
    Ok(if report.targets.iter().all(|t| t.met) {
        Exit::Success
    } else {
        Exit::Changes
    })
}

pub fn soak(args: &BenchSoakArgs, printer: &Printer) -> miette::Result<Exit> {
    let options = bench::soak::Options {
        spec: Spec {
            scopes: args.scopes,
            grants: args.grants,
            clients: args.clients,
            environments: 1,
            contacts: true,
            seed: args.seed,
        },
        trials: args.trials,
        seed: args.seed,
        concurrency: args.concurrency.max(1),
        max_duration: Duration::from_secs(args.max_minutes.saturating_mul(60)),
        max_request_factor: 20,
    };
    let work = tempfile::Builder::new()
        .prefix("mpctl-soak-")
        .tempdir()
        .or_fail(Code::IoWrite, || {
            "cannot create a temporary directory".into()
        })?;
    let runtime = super::runtime()?;
    let report = runtime.block_on(bench::soak::run(&options, work.path(), &|t| {
        printer.status(&format!(
            "seed {}: {} ({}; first apply {}; {} runs; {} requests, {:.1} s)",
            t.seed,
            if t.passed { "pass" } else { "FAIL" },
            t.restart,
            t.first_apply,
            t.apply_runs,
            t.requests,
            t.elapsed_ms as f64 / 1000.0
        ));
        if let Some(why) = &t.failure {
            printer.status(&format!("  {why}"));
        }
    }));
    printer.out(&bench::soak::markdown(&report));
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&report).or_fail(Code::InternalBug, || {
            "cannot write the report as JSON".into()
        })?;
        std::fs::write(json, format!("{text}\n"))
            .or_fail(Code::IoWrite, || format!("cannot write {}", json.display()))?;
    }
    if let Some(page) = &args.markdown {
        let doc = std::fs::read_to_string(page).unwrap_or_default();
        std::fs::write(
            page,
            bench::run::splice(&doc, &bench::soak::markdown(&report)),
        )
        .or_fail(Code::IoWrite, || format!("cannot write {}", page.display()))?;
    }
    Ok(if report.trials_failed == 0 {
        Exit::Success
    } else {
        Exit::Failure
    })
}

pub fn generate(args: &BenchGenerateArgs, printer: &Printer) -> miette::Result<Exit> {
    let generated = bench::generate(&spec(&args.size));
    let path = generated.write_to(&args.out).or_fail(Code::IoWrite, || {
        format!("cannot write under {}", args.out.display())
    })?;
    printer.status(&format!(
        "Wrote {} and {} key files.",
        path.display(),
        generated.key_count()
    ));
    Ok(Exit::Success)
}

pub fn emulators(args: &BenchEmulatorsArgs) -> miette::Result<Exit> {
    let (org, prefixes) = bench::run::generated_org();
    bench::host::serve(
        &args.envs,
        &org,
        &prefixes,
        Duration::from_millis(args.latency_ms),
        args.rate_limit.filter(|n| *n > 0),
        true,
    )?;
    Ok(Exit::Success)
}
