//! `mpctl apply`: plan, show, confirm (or `--yes`, or a saved plan), then carry out each
//! environment's plan phase by phase.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::Exit;
use super::engine_io::{self, Access};
use super::plan::{
    HasApi, plan_environments, reading, render_plan, select_environments, settings_for,
};
use crate::apply::{ApplyReport, BarProgress, LineProgress, Progress, execute};
use crate::cli::{ApplyArgs, OutputFormat};
use crate::manifest::LoadedManifest;
use crate::plan::{Plan, guard, saved};
use crate::printer::Printer;
use crate::render::{self, Purpose};

pub fn run(args: &ApplyArgs, printer: &Printer) -> miette::Result<Exit> {
    if let [path] = args.paths.as_slice()
        && saved::is_plan_file(path)
    {
        return run_saved(path, args, printer);
    }
    let can_ask = printer.interactive && std::io::stdin().is_terminal();
    if !args.yes && !can_ask {
        miette::bail!(
            help = "pass --yes to apply without confirmation, or apply a plan saved with `mpctl plan --out FILE`",
            "apply needs confirmation, and this is not a terminal"
        );
    }
    let loaded = engine_io::load(&args.paths)?;
    let envs = select_environments(&loaded.manifest, &args.env.envs)?;
    let now = super::plan::now_unix()?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let planning = plan_environments(&loaded, &args.paths, &envs, None, now, |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { engine_io::connect(loaded, &env, Access::Write, requests).await }
        });
        let (plan, connections) = printer.while_waiting(&reading(&envs), planning).await?;
        let ask = !args.yes;
        proceed(&plan, &loaded, &connections, args, ask, printer).await
    })
}

/// Shows the plan, refuses it or asks for confirmation when needed, and carries it out. With
/// `--format json` exactly one document is printed, whatever happens (see [`print_json`]).
async fn proceed<C: HasApi>(
    plan: &Plan,
    loaded: &LoadedManifest,
    connections: &BTreeMap<String, C>,
    args: &ApplyArgs,
    ask: bool,
    printer: &Printer,
) -> miette::Result<Exit> {
    let json = args.format == OutputFormat::Json;
    if !json {
        printer.out(&render_plan(plan, args.format, Purpose::Plan, printer));
    }
    if let Err(refused) = check(plan, loaded, args.allow_mass_destroy)
        .and_then(|()| check_admin_scopes(plan, connections))
    {
        if json {
            print_json(printer, plan, &[], Some(&refused.to_string()));
        }
        return Err(refused);
    }
    if !plan.has_changes() {
        if json {
            print_json(printer, plan, &[], None);
        }
        printer.status("Nothing to apply.");
        return Ok(Exit::Success);
    }
    if ask && !confirm(plan)? {
        if json {
            print_json(printer, plan, &[], Some("apply cancelled"));
        }
        printer.status("Apply cancelled; nothing was changed.");
        return Ok(Exit::Failure);
    }
    let concurrency = usize::from(args.env.concurrency);
    Ok(execute_all(plan, connections, concurrency, args.format, printer).await)
}

/// `apply --format json`'s one document: the plan, the outcome of each environment applied, and
/// why nothing was applied when the plan was refused (`null` otherwise).
fn print_json(printer: &Printer, plan: &Plan, reports: &[ApplyReport], refused: Option<&str>) {
    let applied: Vec<serde_json::Value> = reports.iter().map(report_json).collect();
    let document = serde_json::json!({ "plan": plan, "applied": applied, "refused": refused });
    printer.out(&serde_json::to_string_pretty(&document).unwrap_or_default());
}

/// Applies a saved plan: only when the manifest and every environment's live state are as they
/// were when it was saved.
fn run_saved(path: &Path, args: &ApplyArgs, printer: &Printer) -> miette::Result<Exit> {
    let saved_plan = saved::read(path)?;
    if !args.env.envs.is_empty() {
        miette::bail!(
            help = "plan again with `--env` and `--out`, and apply that file",
            "a saved plan applies the environments it was made for; --env cannot narrow it"
        );
    }
    let paths: Vec<PathBuf> = saved_plan
        .manifest_paths
        .iter()
        .map(PathBuf::from)
        .collect();
    let loaded = engine_io::load(&paths)?;
    if loaded.digest != saved_plan.manifest_digest {
        miette::bail!(
            help = "plan again (`mpctl plan --out FILE`), review it, and apply the new file",
            "the manifest ({}) changed since the plan in {} was saved; the plan is stale",
            saved_plan.manifest_paths.join(", "),
            path.display()
        );
    }
    let generated = time::OffsetDateTime::parse(
        &saved_plan.generated,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|e| miette::miette!("the plan's `generated` time is invalid: {e}"))?
    .unix_timestamp();
    let envs: Vec<String> = saved_plan
        .environments
        .iter()
        .map(|e| e.env.clone())
        .collect();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // Plan again at the saved time: with the same manifest and live state, the same plan.
        let planning = plan_environments(&loaded, &paths, &envs, None, generated, |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { engine_io::connect(loaded, &env, Access::Write, requests).await }
        });
        let (fresh, connections) = printer.while_waiting(&reading(&envs), planning).await?;
        let mut stale = Vec::new();
        for (old, new) in saved_plan.environments.iter().zip(&fresh.environments) {
            if let Some(why) = saved::staleness(old, new) {
                stale.push(why);
            } else if serde_json::to_value(&old.changes).ok()
                != serde_json::to_value(&new.changes).ok()
            {
                stale.push(format!(
                    "the plan of `{}` computed now differs from the saved one",
                    old.env
                ));
            }
        }
        if !stale.is_empty() {
            let refused = miette::miette!(
                help = "plan again (`mpctl plan --out FILE`), review it, and apply the new file",
                "the saved plan {} is stale; nothing was applied:\n{}",
                path.display(),
                stale.join("\n")
            );
            if args.format == OutputFormat::Json {
                print_json(printer, &fresh, &[], Some(&refused.to_string()));
            }
            return Err(refused);
        }
        // The saved plan was the review: no confirmation.
        proceed(&fresh, &loaded, &connections, args, false, printer).await
    })
}

/// Refuses a plan with errors, or one over the mass-destroy threshold without the flag.
fn check(plan: &Plan, loaded: &LoadedManifest, allow_mass_destroy: bool) -> miette::Result<()> {
    if plan.has_errors() {
        miette::bail!(
            help = "fix the errors listed with the plan above, then apply again",
            "the plan has errors; nothing was applied"
        );
    }
    let mut refusals = Vec::new();
    for env in &plan.environments {
        let settings = settings_for(&loaded.manifest, &env.env, None);
        if let Some(e) = guard::mass_destroy(env, settings.mass_destroy_percent, allow_mass_destroy)
        {
            refusals.push(e);
        }
    }
    if let Some(first) = refusals.first() {
        let messages: Vec<&str> = refusals.iter().map(|e| e.message.as_str()).collect();
        miette::bail!(
            help = first.help.clone(),
            "{}; nothing was applied",
            messages.join("; ")
        );
    }
    Ok(())
}

/// Refuses a plan with a change the admin token's scopes do not allow (only possible when an
/// environment declares the scopes its admin client holds), before anything is changed.
fn check_admin_scopes<C: HasApi>(
    plan: &Plan,
    connections: &BTreeMap<String, C>,
) -> miette::Result<()> {
    use crate::api::SelfService;
    let mut refusals = Vec::new();
    for env in &plan.environments {
        let scopes = connections
            .get(&env.env)
            .and_then(|c| c.api().token_scopes());
        if let Some(scopes) = scopes
            && let Err(message) =
                crate::api::admin_scopes::check_changes(&env.env, &env.changes, scopes)
        {
            refusals.push(message);
        }
    }
    if !refusals.is_empty() {
        miette::bail!(
            help = "add the scopes to the admin client in Samarbeidsportalen and to the environment's `admin_scopes` (or MPCTL_<ENV>_SCOPES), or leave out of the manifest what needs them",
            "{}; nothing was applied",
            refusals.join("; ")
        );
    }
    Ok(())
}

/// Asks on the terminal; only `yes` proceeds.
fn confirm(plan: &Plan) -> miette::Result<bool> {
    let envs: Vec<&str> = plan
        .environments
        .iter()
        .filter(|e| e.has_changes())
        .map(|e| e.env.as_str())
        .collect();
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "\nApply these changes to {}? Only `yes` is accepted: ",
        envs.join(", ")
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| miette::miette!("cannot read the answer: {e}"))?;
    Ok(answer.trim() == "yes")
}

/// Applies each environment in turn; stops at the first that fails.
async fn execute_all<C: HasApi>(
    plan: &Plan,
    connections: &BTreeMap<String, C>,
    concurrency: usize,
    format: OutputFormat,
    printer: &Printer,
) -> Exit {
    let mut reports: Vec<ApplyReport> = Vec::new();
    let mut failed = false;
    for env in &plan.environments {
        if failed {
            printer.status(&format!(
                "{}: not applied (an earlier environment failed).",
                env.env
            ));
            continue;
        }
        let Some(connection) = connections.get(&env.env) else {
            continue;
        };
        if !env.has_changes() && env.manual_steps.is_empty() {
            continue;
        }
        let progress: Box<dyn Progress> = if printer.interactive && format == OutputFormat::Human {
            Box::new(BarProgress::new(env.changes.len()))
        } else {
            Box::new(LineProgress::new(printer))
        };
        let report = execute(env, connection.api(), concurrency, progress.as_ref()).await;
        failed = !report.succeeded();
        if format == OutputFormat::Human {
            printer.out(&render::human::render_report(&report, printer.color));
        } else if format == OutputFormat::Markdown {
            printer.out(&format!(
                "```\n{}```",
                render::human::render_report(&report, false)
            ));
        }
        reports.push(report);
    }
    if format == OutputFormat::Json {
        print_json(printer, plan, &reports, None);
    }
    if failed { Exit::Failure } else { Exit::Success }
}

/// The outcome of one environment as JSON: headlines of what was done, failed and not done.
fn report_json(report: &ApplyReport) -> serde_json::Value {
    let lines = |changes: &[crate::plan::Change]| -> Vec<String> {
        changes
            .iter()
            .map(|c| format!("{} {}", c.kind.symbol(), c.headline()))
            .collect()
    };
    serde_json::json!({
        "env": report.env,
        "succeeded": report.succeeded(),
        "done": lines(&report.done),
        "failed": report.failed.iter().map(|f| serde_json::json!({
            "change": format!("{} {}", f.change.kind.symbol(), f.change.headline()),
            "error": f.error,
        })).collect::<Vec<_>>(),
        "not_done": lines(&report.not_done),
        "manual_steps": report.manual_steps,
        "created_clients": report.created_clients,
    })
}
