//! `mpctl apply`: plan, show, confirm (or `--yes`, or a saved plan), then carry out each
//! environment's plan phase by phase.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::Exit;
use super::failure::OrFail;
use super::plan::{reading, render_plan};
use crate::api::Access;
use crate::cli::{ApplyArgs, OutputFormat};
use crate::diagnostic_code::Code;
use crate::engine::{self, ApplyReport, HasApi, execute, plan_environments, select_environments};
use crate::manifest::LoadedManifest;
use crate::plan::{EnvPlan, Plan, compare, saved};
use crate::printer::Printer;
use crate::render::{self, Purpose};

pub fn run(args: &ApplyArgs, printer: &Printer) -> miette::Result<Exit> {
    let doc = JsonDocument::new(printer, args.format == OutputFormat::Json);
    let result = run_any(args, printer, &doc);
    if let Err(report) = &result {
        doc.refused(report);
    }
    result
}

fn run_any(args: &ApplyArgs, printer: &Printer, doc: &JsonDocument) -> miette::Result<Exit> {
    if let [path] = args.paths.as_slice()
        && saved::is_plan_file(path)
    {
        return run_saved(path, args, printer, doc);
    }
    if args.replan_if_same {
        // A workflow whose plan artifact did not arrive names a file that is not there: say so.
        if let [path] = args.paths.as_slice()
            && !path.exists()
        {
            miette::bail!(
                code = Code::ApplyNoSavedPlan,
                help = "pass the plan file saved by `mpctl plan --out FILE` (in a workflow: check \
                        that the step that downloads it ran)",
                "--replan-if-same compares a fresh plan with a saved one, and {} does not exist",
                path.display()
            );
        }
        miette::bail!(
            code = Code::ApplyNoSavedPlan,
            help = "pass one plan file saved by `mpctl plan --out FILE`",
            "--replan-if-same compares a fresh plan with a saved one; no saved plan was given"
        );
    }
    let can_ask = printer.interactive && std::io::stdin().is_terminal();
    if !args.yes && !can_ask {
        miette::bail!(
            code = Code::ApplyNeedsConfirmation,
            help = "pass --yes to apply without confirmation, or apply a plan saved with `mpctl plan --out FILE`",
            "apply needs confirmation, and this is not a terminal"
        );
    }
    let loaded = engine::load(&args.paths)?;
    let envs = select_environments(&loaded.manifest, &args.env.envs)?;
    let now = crate::clock::now_unix()?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let planning = plan_environments(&loaded, &args.paths, &envs, None, now, |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { super::connect(loaded, &env, Access::Write, requests).await }
        });
        let (mut plan, connections) = printer.while_waiting(&reading(&envs), planning).await?;
        let base = super::base::BaseRef::choose(args.base.as_deref());
        super::base::filter_manual_steps(&mut plan, &loaded, &base, printer)?;
        let ask = !args.yes;
        proceed(&plan, &loaded, &connections, args, ask, printer, doc).await
    })
}

/// Shows the plan, refuses it or asks for confirmation when needed, and carries it out. With
/// `--format json` exactly one document is printed, whatever happens (see [`JsonDocument`]).
async fn proceed<C: HasApi>(
    plan: &Plan,
    loaded: &LoadedManifest,
    connections: &BTreeMap<String, C>,
    args: &ApplyArgs,
    ask: bool,
    printer: &Printer,
    doc: &JsonDocument<'_>,
) -> miette::Result<Exit> {
    let json = args.format == OutputFormat::Json;
    // With --quiet the plan is not shown, unless it is asked about: nobody confirms unseen.
    if !json && (!printer.is_quiet() || ask) {
        printer.out(&render_plan(plan, args.format, Purpose::Plan, printer));
    }
    if let Err(refused) = engine::check(&plan.environments, loaded, args.allow_mass_destroy)
        .and_then(|()| {
            engine::check_admin_scopes(&plan.environments, |env| {
                use crate::api::SelfService;
                connections.get(env).and_then(|c| c.api().token_scopes())
            })
        })
    {
        doc.print(Some(plan), &[], Some(&refused.to_string()), &[]);
        return Err(refused);
    }
    if !plan.has_changes() {
        if json {
            doc.print(Some(plan), &[], None, &[]);
        } else if printer.is_quiet() {
            printer.out("Nothing to apply.");
        }
        printer.status("Nothing to apply.");
        return Ok(Exit::Success);
    }
    if ask && !confirm(plan)? {
        doc.print(Some(plan), &[], Some("apply cancelled"), &[]);
        printer.status("Apply cancelled; nothing was changed.");
        return Ok(Exit::Failure);
    }
    let concurrency = usize::from(args.env.concurrency);
    Ok(execute_all(plan, connections, concurrency, args.format, printer, doc).await)
}

/// `apply --format json`'s one document, printed once whatever happens: the plan, the outcome of
/// each environment applied, why nothing was applied when the plan was refused or the command
/// failed before applying (`null` otherwise), and the environments not attempted because an
/// earlier one failed. Without `--format json` it prints nothing.
struct JsonDocument<'p> {
    printer: &'p Printer,
    on: bool,
    printed: Cell<bool>,
    /// The saved plan being applied, once read: the plan of a refusal before it is planned again.
    saved: RefCell<Option<Plan>>,
}

impl<'p> JsonDocument<'p> {
    fn new(printer: &'p Printer, on: bool) -> Self {
        JsonDocument {
            printer,
            on,
            printed: Cell::new(false),
            saved: RefCell::new(None),
        }
    }

    /// Prints the document, unless it was printed already.
    fn print(
        &self,
        plan: Option<&Plan>,
        reports: &[ApplyReport],
        refused: Option<&str>,
        not_attempted: &[String],
    ) {
        if !self.on || self.printed.replace(true) {
            return;
        }
        let applied: Vec<serde_json::Value> = reports.iter().map(report_json).collect();
        let document = serde_json::json!({
            "plan": plan,
            "applied": applied,
            "refused": refused,
            "not_attempted": not_attempted,
        });
        self.printer
            .out(&serde_json::to_string_pretty(&document).unwrap_or_default());
    }

    /// The document of an error that ended the command before a document was printed: the
    /// saved plan when one was read (else `null`), and the error as the reason.
    fn refused(&self, report: &miette::Report) {
        let saved = self.saved.borrow();
        self.print(saved.as_ref(), &[], Some(&report.to_string()), &[]);
    }
}

/// Applies a saved plan: only when the manifest and every environment's live state are as they
/// were when it was saved, or, with `--replan-if-same`, when a plan computed now makes exactly
/// the saved plan's changes.
fn run_saved(
    path: &Path,
    args: &ApplyArgs,
    printer: &Printer,
    doc: &JsonDocument,
) -> miette::Result<Exit> {
    let saved_plan = saved::read(path)?;
    doc.saved.replace(Some(saved_plan.clone()));
    let reviewed = saved_environments(&saved_plan, &args.env.envs, path)?;
    let cwd = std::env::current_dir()
        .or_fail(Code::IoRead, || "cannot read the working directory".into())?;
    let paths: Vec<PathBuf> = saved::manifest_paths_under(&saved_plan.manifest_paths, &cwd)
        .map_err(|e| {
            miette::miette!(
                code = Code::PlanPaths,
                help = "apply a plan from the directory it was made in; if it was edited, plan \
                        again (`mpctl plan --out FILE`)",
                "{e}; nothing was read and nothing was applied"
            )
        })?;
    // Nothing read because the plan named it is shown: only how many problems there are.
    let loaded = crate::manifest::load(&paths).map_err(|problems| {
        miette::miette!(
            code = Code::PlanManifestInvalid,
            help = format!(
                "run `mpctl validate {}` to see them",
                saved_plan.manifest_paths.join(" ")
            ),
            "the manifest the plan {} names does not load ({}); nothing was applied",
            path.display(),
            crate::manifest::diagnostics::count_phrase(
                problems.error_count(),
                problems.warning_count()
            )
        )
    })?;
    let manifest_moved = loaded.digest != saved_plan.manifest_digest;
    if manifest_moved && !args.replan_if_same {
        miette::bail!(
            code = Code::PlanStale,
            help = "plan again (`mpctl plan --out FILE`), review it, and apply the new file; or \
                    pass --replan-if-same to apply a fresh plan that makes the same changes",
            "the manifest ({}) changed since the plan in {} was saved; the plan is stale",
            saved_plan.manifest_paths.join(", "),
            path.display()
        );
    }
    // Without --replan-if-same the plan is computed again at the saved time: with the same
    // manifest and live state, the same plan. With it, the fresh plan is computed now (it is
    // what an apply without the saved plan would do), and must still make the saved changes.
    let at = if args.replan_if_same {
        crate::clock::now_unix()?
    } else {
        time::OffsetDateTime::parse(
            &saved_plan.generated,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| {
            miette::miette!(
                code = Code::PlanFile,
                help = "plan again (`mpctl plan --out FILE`); a saved plan is not edited by hand",
                "the plan's `generated` time is invalid: {e}"
            )
        })?
        .unix_timestamp()
    };
    let envs: Vec<String> = reviewed.iter().map(|e| e.env.clone()).collect();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let planning = plan_environments(&loaded, &paths, &envs, None, at, |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { super::connect(loaded, &env, Access::Write, requests).await }
        });
        let (mut fresh, connections) = printer.while_waiting(&reading(&envs), planning).await?;
        // The manual steps are those the saved plan showed (filtered against its base).
        for (old, new) in saved_plan.environments.iter().zip(&mut fresh.environments) {
            new.manual_steps.clone_from(&old.manual_steps);
            new.manual_steps_note.clone_from(&old.manual_steps_note);
        }
        let mut stale = Vec::new();
        let mut differ = Vec::new();
        for (old, new) in reviewed.iter().zip(&fresh.environments) {
            if let Some(why) = saved::staleness(old, new) {
                stale.push(why);
            } else if !args.replan_if_same
                && serde_json::to_value(&old.changes).ok()
                    != serde_json::to_value(&new.changes).ok()
            {
                stale.push(format!(
                    "the plan of `{}` computed now differs from the saved one",
                    old.env
                ));
            }
            if let Some(d) = compare::changes_differ(old, new) {
                differ.push(d.to_string());
            }
        }
        let refused = if !args.replan_if_same && !stale.is_empty() {
            Some(miette::miette!(
                code = Code::PlanStale,
                help = "plan again (`mpctl plan --out FILE`), review it, and apply the new file; \
                        or pass --replan-if-same to apply a fresh plan that makes the same changes",
                "the saved plan {} is stale; nothing was applied:\n{}",
                path.display(),
                stale.join("\n")
            ))
        } else if args.replan_if_same && !differ.is_empty() {
            Some(miette::miette!(
                code = Code::PlanStale,
                help = "plan again on the current manifest (`mpctl plan --out FILE`), review that \
                        plan, and apply it",
                "the changes planned now are not the ones reviewed in {}; nothing was applied:\n{}",
                path.display(),
                differ.join("\n")
            ))
        } else {
            None
        };
        if let Some(refused) = refused {
            doc.print(Some(&fresh), &[], Some(&refused.to_string()), &[]);
            return Err(refused);
        }
        if manifest_moved || !stale.is_empty() {
            printer.status(&format!(
                "The manifest or live state changed since the plan in {} was saved, but the \
                 changes to make are the same ones: applying them.",
                path.display()
            ));
        }
        // The saved plan was the review: no confirmation.
        proceed(&fresh, &loaded, &connections, args, false, printer, doc).await
    })
}

/// The environments of a saved plan to apply: all of them, or those `--env` names (a subset of
/// what was reviewed, e.g. `test` before `prod`), in the plan's order.
fn saved_environments<'a>(
    plan: &'a Plan,
    wanted: &[String],
    path: &Path,
) -> miette::Result<Vec<&'a EnvPlan>> {
    let names: Vec<&str> = plan.environments.iter().map(|e| e.env.as_str()).collect();
    if let Some(unknown) = wanted.iter().find(|w| !names.contains(&w.as_str())) {
        miette::bail!(
            code = Code::PlanEnvironment,
            help = format!("the plan in {} has: {}", path.display(), names.join(", ")),
            "the saved plan has no environment `{unknown}`"
        );
    }
    Ok(plan
        .environments
        .iter()
        .filter(|e| wanted.is_empty() || wanted.contains(&e.env))
        .collect())
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
        .or_fail(Code::IoRead, || "cannot read the answer".into())?;
    Ok(answer.trim() == "yes")
}

/// Applies each environment in turn, in the manifest's order; stops at the first that fails and
/// says which environments were not attempted. With `--quiet`, a success is one line.
async fn execute_all<C: HasApi>(
    plan: &Plan,
    connections: &BTreeMap<String, C>,
    concurrency: usize,
    format: OutputFormat,
    printer: &Printer,
    doc: &JsonDocument<'_>,
) -> Exit {
    let mut reports: Vec<ApplyReport> = Vec::new();
    let mut failed: Option<&str> = None;
    let mut not_attempted: Vec<String> = Vec::new();
    for env in &plan.environments {
        if !env.has_changes() && env.manual_steps.is_empty() {
            continue;
        }
        if failed.is_some() {
            not_attempted.push(env.env.clone());
            continue;
        }
        let Some(connection) = connections.get(&env.env) else {
            continue;
        };
        let progress = printer.apply_progress(env.changes.len(), format == OutputFormat::Human);
        let report = execute(env, connection.api(), concurrency, progress.as_ref()).await;
        let succeeded = report.succeeded();
        if !succeeded {
            failed = Some(&env.env);
        }
        // With --quiet, a success is summed up in one line at the end; a failure is an error.
        if !printer.is_quiet() || !succeeded {
            match format {
                OutputFormat::Human => {
                    printer.out(&render::human::render_report(&report, printer.color))
                }
                OutputFormat::Markdown => printer.out(&format!(
                    "```\n{}```",
                    render::human::render_report(&report, false)
                )),
                OutputFormat::Json => {}
            }
        }
        reports.push(report);
    }
    if format == OutputFormat::Json {
        doc.print(Some(plan), &reports, None, &not_attempted);
    } else if let Some(failed) = failed {
        if !not_attempted.is_empty() {
            printer.out(&format!(
                "Not attempted, because applying {failed} failed: {}.",
                not_attempted.join(", ")
            ));
        }
    } else if printer.is_quiet() {
        let done: usize = reports.iter().map(|r| r.done.len()).sum();
        let envs: Vec<&str> = reports.iter().map(|r| r.env.as_str()).collect();
        printer.out(&format!(
            "Applied {}: {done} change{} done.",
            envs.join(", "),
            if done == 1 { "" } else { "s" }
        ));
    }
    if failed.is_some() {
        Exit::Failure
    } else {
        Exit::Success
    }
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
