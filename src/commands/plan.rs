//! `mpctl plan`, and the output `apply` and `drift` share with it: the engine
//! ([`crate::engine`]) plans; this renders the plan and chooses the exit status.

use super::Exit;
use crate::cli::{OutputFormat, PlanArgs};
use crate::engine;
use crate::plan::Plan;
use crate::printer::Printer;
use crate::render::{self, Purpose};

pub fn run(args: &PlanArgs, printer: &Printer) -> miette::Result<Exit> {
    let loaded = engine::load(&args.manifest.paths)?;
    let envs = engine::select_environments(&loaded.manifest, &args.env.envs)?;
    let now = crate::clock::now_unix()?;
    let runtime = super::runtime()?;
    let planning = engine::plan_environments(
        &loaded,
        &args.manifest.paths,
        &envs,
        args.warn_expiry_days,
        now,
        |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { super::connect(loaded, &env, crate::api::Access::Read, requests).await }
        },
    );
    let (mut plan, _connections) =
        runtime.block_on(printer.while_waiting(&reading(&envs), planning))?;
    let base = super::base::BaseRef::choose(args.base.as_deref());
    super::base::filter_manual_steps(&mut plan, &loaded, &base, printer)?;
    printer.out(&render_plan(&plan, args.format, Purpose::Plan, printer));
    for env in &plan.environments {
        if let Some(e) = engine::mass_destroy(&loaded, env, false) {
            printer.warn(&format!(
                "{}: apply will refuse it without `--allow-mass-destroy`",
                e.message
            ));
        }
    }
    if plan.has_errors() {
        printer.error("the plan has errors (listed above); apply would refuse it.");
    }
    if let Some(out) = &args.out {
        crate::plan::saved::write(&plan, out)?;
        printer.status(&format!(
            "Saved the plan to {}; apply it with `mpctl apply {}`.",
            out.display(),
            out.display()
        ));
    }
    Ok(plan_exit(&plan, args.detailed_exitcode))
}

/// What the spinner says while the live state of `envs` is read.
pub(crate) fn reading(envs: &[String]) -> String {
    format!("Reading the live state of {}", envs.join(", "))
}

/// The exit status of `plan`: 1 when the plan has errors; with `--detailed-exitcode`, 2 when
/// there are changes; else 0.
pub(crate) fn plan_exit(plan: &Plan, detailed: bool) -> Exit {
    if plan.has_errors() {
        Exit::Failure
    } else if detailed && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    }
}

/// Renders a plan in the chosen format.
pub(crate) fn render_plan(
    plan: &Plan,
    format: OutputFormat,
    purpose: Purpose,
    printer: &Printer,
) -> String {
    match format {
        OutputFormat::Human => render::human::render(plan, purpose, printer.color),
        OutputFormat::Markdown => render::markdown::render(plan, purpose),
        OutputFormat::Json => render::json::render(plan),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::EnvPlan;

    #[test]
    fn plan_exit_codes_follow_terraform() {
        let mut plan = Plan {
            version: 1,
            generated: String::new(),
            manifest_digest: String::new(),
            manifest_paths: vec![],
            environments: vec![EnvPlan::default()],
        };
        assert_eq!(plan_exit(&plan, true), Exit::Success);
        plan.environments[0].changes.push(crate::plan::Change::new(
            crate::plan::ChangeKind::Create,
            crate::plan::Phase::Scopes,
            crate::plan::Resource::scope("a:b"),
            crate::plan::Action::None,
        ));
        assert_eq!(plan_exit(&plan, false), Exit::Success);
        assert_eq!(plan_exit(&plan, true), Exit::Changes);
        plan.environments[0].errors.push(crate::plan::PlanError {
            resource: None,
            message: "x".into(),
            help: "y".into(),
        });
        assert_eq!(plan_exit(&plan, true), Exit::Failure);
    }
}
