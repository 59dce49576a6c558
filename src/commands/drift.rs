//! `mpctl drift`: the plan, read as a report of how live differs from the manifest, including
//! unmanaged resources and keys expired or about to expire, each difference told from the live
//! side. Exit 0 clean; 2 for every difference, also one apply would refuse to correct (a
//! `protected` resource, the mass-destroy limit: the report says why); 1 only when it could not
//! check (the manifest does not load, the live state cannot be read).

use super::Exit;
use super::plan::{reading, render_plan};
use crate::api::Access;
use crate::cli::DriftArgs;
use crate::engine::{self, plan_environments, select_environments};
use crate::plan::Plan;
use crate::printer::Printer;
use crate::render::Purpose;

pub fn run(args: &DriftArgs, printer: &Printer) -> miette::Result<Exit> {
    let loaded = engine::load(&args.manifest.paths)?;
    let envs = select_environments(&loaded.manifest, &args.env.envs)?;
    let now = crate::clock::now_unix()?;
    let runtime = super::runtime()?;
    let planning = plan_environments(
        &loaded,
        &args.manifest.paths,
        &envs,
        args.warn_expiry_days,
        now,
        |env: String| {
            let loaded = &loaded;
            let requests = &args.env;
            async move { super::connect(loaded, &env, Access::Read, requests).await }
        },
    );
    let (mut plan, _connections) =
        runtime.block_on(printer.while_waiting(&reading(&envs), planning))?;
    // Drift apply would refuse to correct is still drift: say why it would refuse.
    for env in &mut plan.environments {
        if let Some(refusal) = engine::mass_destroy(&loaded, env, false) {
            env.errors.push(refusal);
        }
    }
    // Manual steps cannot be read back, so they are never drift: not reported at all.
    for env in &mut plan.environments {
        env.manual_steps.clear();
    }
    crate::render::annotate_drift(&mut plan);
    printer.out(&render_plan(&plan, args.format, Purpose::Drift, printer));
    Ok(drift_exit(&plan))
}

/// 2 when any environment drifted (changes, also ones apply would refuse to make; unmanaged
/// resources; managed keys expired or inside the warning window), else 0. Never 1: a plan was
/// made, so the check was done. Manual steps cannot be checked and are not drift.
pub(crate) fn drift_exit(plan: &Plan) -> Exit {
    if plan.environments.iter().any(|e| e.has_drift()) {
        Exit::Changes
    } else {
        Exit::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{EnvPlan, ExpiryStatus, KeyExpiry};

    #[test]
    fn an_expiring_managed_key_alone_is_drift() {
        let key = |managed| KeyExpiry {
            client: "c".into(),
            client_id: None,
            kid: "k".into(),
            jwk_exp: Some(1),
            jwk_exp_days_left: Some(3),
            cert_not_after: None,
            cert_days_left: None,
            status: ExpiryStatus::Expiring,
            managed,
        };
        let mut plan = Plan {
            version: 1,
            generated: String::new(),
            manifest_digest: String::new(),
            manifest_paths: vec![],
            environments: vec![EnvPlan::default()],
        };
        assert_eq!(drift_exit(&plan), Exit::Success);
        plan.environments[0].key_expiries.push(key(false));
        assert_eq!(
            drift_exit(&plan),
            Exit::Success,
            "unmanaged keys are reported only"
        );
        plan.environments[0].key_expiries.push(key(true));
        assert_eq!(drift_exit(&plan), Exit::Changes);
    }

    #[test]
    fn drift_apply_would_refuse_to_correct_is_still_drift() {
        let mut plan = Plan {
            version: 1,
            generated: String::new(),
            manifest_digest: String::new(),
            manifest_paths: vec![],
            environments: vec![EnvPlan::default()],
        };
        plan.environments[0].errors.push(crate::plan::PlanError {
            resource: None,
            message: "the plan revokes a grant of the protected scope `acme:a`".into(),
            help: "h".into(),
        });
        assert_eq!(drift_exit(&plan), Exit::Changes);
    }
}
