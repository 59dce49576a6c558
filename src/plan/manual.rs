//! Manual steps only when they are new. Contacts and invoice data have no Digdir API, so mpctl
//! cannot read what the portal has: without a reference, every plan would repeat the same
//! steps forever. The reference is the manifest at a base revision (`--base REF`): a step is
//! shown only where the contacts it sets differ from the base's for that environment.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{EnvPlan, ResourceKind};
use crate::manifest::model::Contacts;

/// Said under the manual steps of a plan that had no base to compare with.
pub const NO_BASE_NOTE: &str = "shown because there is no base to compare with; pass `--base REF` (e.g. `--base origin/main`; automatic in a GitHub pull request) to show only contact changes made in this change";

/// The contact-bearing parts of a manifest, read leniently: a base revision may be from an
/// older mpctl or not valid at all, and only its contacts matter here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ContactsView {
    #[serde(default)]
    contacts: Option<Contacts>,
    #[serde(default)]
    overrides: BTreeMap<String, OverrideView>,
    #[serde(default)]
    clients: Vec<ClientView>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct OverrideView {
    #[serde(default)]
    contacts: Option<Contacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct ClientView {
    name: String,
    #[serde(default)]
    contacts: Option<Contacts>,
    #[serde(default)]
    overrides: BTreeMap<String, OverrideView>,
}

impl ContactsView {
    /// The view of one manifest document (a file's YAML as JSON); `None` when its contacts do
    /// not have the expected shape.
    pub fn of_value(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    /// Merges the views of a manifest's files, as loading merges the files.
    pub fn merge(views: impl IntoIterator<Item = Self>) -> Self {
        let mut out = Self::default();
        for v in views {
            if out.contacts.is_none() {
                out.contacts = v.contacts;
            }
            for (env, o) in v.overrides {
                out.overrides.entry(env).or_insert(o);
            }
            out.clients.extend(v.clients);
        }
        out
    }

    /// The provider integration's contacts (`client: None`) or a client's, in `env`.
    fn contacts(&self, env: &str, client: Option<&str>) -> Option<&Contacts> {
        match client {
            None => self
                .overrides
                .get(env)
                .and_then(|o| o.contacts.as_ref())
                .or(self.contacts.as_ref()),
            Some(name) => {
                let c = self.clients.iter().find(|c| c.name == name)?;
                c.overrides
                    .get(env)
                    .and_then(|o| o.contacts.as_ref())
                    .or(c.contacts.as_ref())
            }
        }
    }
}

/// Keeps the manual steps of `plan` whose contacts differ between `base` and `current` in the
/// plan's environment; the rest were set when the base was applied.
pub fn keep_new(plan: &mut EnvPlan, base: &ContactsView, current: &ContactsView) {
    let env = plan.env.clone();
    plan.manual_steps.retain(|step| {
        if step.resource.kind != ResourceKind::Contacts {
            return true;
        }
        let client = (!step.resource.name.is_empty()).then_some(step.resource.name.as_str());
        base.contacts(&env, client) != current.contacts(&env, client)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ManualStep, Resource};

    fn view(yaml: &str) -> ContactsView {
        let value: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
        ContactsView::of_value(&value).unwrap()
    }

    fn plan(env: &str) -> EnvPlan {
        let step = |resource: Resource| ManualStep {
            description: resource.label(),
            resource,
            portal_path: vec![],
        };
        EnvPlan {
            env: env.into(),
            manual_steps: vec![
                step(Resource::contacts(None)),
                step(Resource::contacts(Some(("sync", None)))),
            ],
            ..EnvPlan::default()
        }
    }

    const BASE: &str = "
contacts: { notifications: [a@acme.no] }
overrides: { prod: { contacts: { notifications: [p@acme.no] } } }
clients:
  - name: sync
    contacts: { notifications: [s@acme.no] }
";

    fn kept(p: &EnvPlan) -> Vec<String> {
        p.manual_steps
            .iter()
            .map(|s| s.description.clone())
            .collect()
    }

    #[test]
    fn unchanged_contacts_are_not_repeated() {
        let mut p = plan("test");
        keep_new(&mut p, &view(BASE), &view(BASE));
        assert!(p.manual_steps.is_empty());
    }

    #[test]
    fn a_changed_contact_is_shown_in_the_environments_it_changes() {
        let current = BASE.replace("s@acme.no", "t@acme.no");
        let mut p = plan("test");
        keep_new(&mut p, &view(BASE), &view(&current));
        assert_eq!(kept(&p), ["contacts of client sync"]);

        // An override changed for prod only: test sees nothing new.
        let current = BASE.replace("p@acme.no", "q@acme.no");
        let mut test = plan("test");
        keep_new(&mut test, &view(BASE), &view(&current));
        assert!(test.manual_steps.is_empty());
        let mut prod = plan("prod");
        keep_new(&mut prod, &view(BASE), &view(&current));
        assert_eq!(kept(&prod), ["contacts of the API-provider integration"]);
    }

    #[test]
    fn everything_is_new_against_a_base_without_the_manifest() {
        let mut p = plan("test");
        keep_new(&mut p, &ContactsView::default(), &view(BASE));
        assert_eq!(p.manual_steps.len(), 2);
    }

    #[test]
    fn files_merge_like_the_manifest() {
        let merged = ContactsView::merge([
            view("contacts: { notifications: [a@acme.no] }"),
            view("clients: [{ name: sync, contacts: { notifications: [s@acme.no] } }]"),
        ]);
        assert_eq!(
            merged,
            view(
                BASE.replace(
                    "overrides: { prod: { contacts: { notifications: [p@acme.no] } } }\n",
                    ""
                )
                .as_str()
            )
        );
    }
}
