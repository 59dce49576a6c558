//! Organisation names beside numbers: a reviewer cannot judge `+ grant acme:x to 942110464`,
//! but can judge `942110464 (Trondheim kommune)`. Names come from the manifest's
//! `organizations` map and, for organisations it does not name, from the API's grants
//! (`consumer_organization_name`).

use std::collections::BTreeMap;

use super::{EnvPlan, Resource};

/// The names to show: the manifest's, then the API's for numbers the manifest does not name.
/// The manifest wins where both name one organisation: it is what the reviewer wrote.
pub fn merged(
    manifest: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut names = live.clone();
    names.extend(manifest.iter().map(|(k, v)| (k.clone(), v.clone())));
    names.retain(|_, name| !name.trim().is_empty());
    names
}

/// Sets the consumer name of every grant the plan mentions (changes, manual steps, unmanaged
/// resources, errors) whose organisation has a name in `names`.
pub fn annotate(plan: &mut EnvPlan, names: &BTreeMap<String, String>) {
    if names.is_empty() {
        return;
    }
    let name = |resource: &mut Resource| {
        if let Some(consumer) = &resource.consumer {
            resource.consumer_name = names.get(consumer).cloned();
        }
    };
    plan.changes.iter_mut().for_each(|c| name(&mut c.resource));
    plan.manual_steps
        .iter_mut()
        .for_each(|m| name(&mut m.resource));
    plan.unmanaged
        .iter_mut()
        .for_each(|u| name(&mut u.resource));
    plan.errors
        .iter_mut()
        .filter_map(|e| e.resource.as_mut())
        .for_each(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::orgno::OrgNo;
    use crate::plan::{Action, Change, ChangeKind, Phase};

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_manifest_name_wins_and_the_api_fills_gaps() {
        let names = merged(
            &map(&[("942110464", "Trondheim kommune")]),
            &map(&[("942110464", "TRONDHEIM KOMMUNE"), ("974760673", "Brreg")]),
        );
        assert_eq!(
            names,
            map(&[("942110464", "Trondheim kommune"), ("974760673", "Brreg")])
        );
    }

    #[test]
    fn grants_show_the_name_beside_the_number() {
        let mut plan = EnvPlan {
            changes: vec![
                Change::new(
                    ChangeKind::Grant,
                    Phase::Grants,
                    Resource::grant("acme:x", &OrgNo::new_unchecked("942110464")),
                    Action::None,
                ),
                Change::new(
                    ChangeKind::Revoke,
                    Phase::Revocations,
                    Resource::grant("acme:x", &OrgNo::new_unchecked("974760673")),
                    Action::None,
                ),
            ],
            ..EnvPlan::default()
        };
        annotate(&mut plan, &map(&[("942110464", "Trondheim kommune")]));
        let lines: Vec<String> = plan.changes.iter().map(Change::headline).collect();
        assert_eq!(
            lines,
            [
                "grant acme:x to 942110464 (Trondheim kommune)",
                "revoke acme:x to 974760673"
            ]
        );
        assert_eq!(
            serde_json::to_value(&plan.changes[0].resource).unwrap()["consumer_name"],
            "Trondheim kommune"
        );
    }
}
