//! The executor: carries out one environment's plan, phase by phase.
//!
//! Inside a phase, independent changes run concurrently (bounded); the steps of one client
//! (create → keys → contacts) run in order, so a key upload after a create uses the new
//! `client_id`, and several key changes of a client become one whole-set upload. A failure lets
//! the phase's running work finish, then stops: later phases are not started. The report says
//! what was done, what failed and what was not done; since every change is computed from the
//! live state, running `apply` again converges.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::StreamExt;

use crate::api::{ApiError, ContactTarget, SelfService};
use crate::plan::{Action, Change, ClientRef, EnvPlan, Phase};

#[cfg(any(test, feature = "testkit"))]
pub mod fake;

pub use crate::plan::report::{ApplyReport, Failure};

/// Receives progress of an apply. Implementations print it; tests may ignore it.
pub trait Progress: Send + Sync {
    /// A phase with `count` changes starts.
    fn phase(&self, env: &str, phase: Phase, count: usize);
    /// A change finished (`error` is `None` on success).
    fn finished(&self, change: &Change, error: Option<&str>);
    /// The environment is done.
    fn end(&self) {}
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _: &str, _: Phase, _: usize) {}
    fn finished(&self, _: &Change, _: Option<&str>) {}
}

/// Applies one environment's plan. Never panics; every outcome is in the report.
pub async fn execute<S: SelfService>(
    plan: &EnvPlan,
    api: &S,
    concurrency: usize,
    progress: &dyn Progress,
) -> ApplyReport {
    let mut report = ApplyReport {
        env: plan.env.clone(),
        manual_steps: plan.manual_steps.clone(),
        ..ApplyReport::default()
    };
    let created: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut stopped = false;
    for phase in Phase::ALL {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.phase == phase).collect();
        if changes.is_empty() {
            continue;
        }
        if stopped {
            report.not_done.extend(changes.into_iter().cloned());
            continue;
        }
        progress.phase(&plan.env, phase, changes.len());
        let (creates, tasks): (Vec<_>, Vec<_>) =
            group_into_tasks(&changes).into_iter().partition(|task| {
                matches!(
                    task.first().map(|c| &c.action),
                    Some(Action::CreateClient(_))
                )
            });
        let created_ref = &created;
        let mut outcomes: Vec<TaskOutcome> = futures_util::stream::iter(
            tasks
                .into_iter()
                .map(|task| run_task(task, api, created_ref, progress)),
        )
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
        outcomes.extend(create_clients(creates, api, concurrency, created_ref, progress).await);
        for outcome in outcomes {
            report.done.extend(outcome.done);
            if !outcome.failed.is_empty() {
                stopped = true;
            }
            report.failed.extend(outcome.failed);
            report.not_done.extend(outcome.not_done);
        }
    }
    progress.end();
    report.created_clients = created.into_inner().unwrap_or_else(|e| e.into_inner());
    report
}

/// Runs the tasks that create clients (each with its keys and contacts) in waves of
/// `concurrency`, reading the live client names again before each wave: a client whose name
/// has become live since the plan was made (another apply creating it at the same time — the
/// API has no lock) is not created a second time. Two applies can still both create a client
/// between one's read and its create; the next plan reports such duplicates with the way out.
async fn create_clients<S: SelfService>(
    tasks: Vec<Vec<&Change>>,
    api: &S,
    concurrency: usize,
    created: &Mutex<BTreeMap<String, String>>,
    progress: &dyn Progress,
) -> Vec<TaskOutcome> {
    let mut outcomes = Vec::new();
    let mut tasks = tasks.into_iter().peekable();
    while tasks.peek().is_some() {
        let wave: Vec<Vec<&Change>> = tasks.by_ref().take(concurrency.max(1)).collect();
        let live = api.live_client_names().await;
        let mut ready = Vec::new();
        for task in wave {
            let Some(Action::CreateClient(client)) = task.first().map(|c| &c.action) else {
                ready.push(task);
                continue;
            };
            let error = match &live {
                Ok(names) if names.contains(&client.name) => format!(
                    "a live client is named `{}` since the plan was made (another apply running at the same time?); not created a second time: run plan again, and run one apply per environment at a time",
                    client.name
                ),
                Ok(_) => {
                    ready.push(task);
                    continue;
                }
                Err(e) => format!("cannot read the live clients again before creating: {e}"),
            };
            outcomes.push(refuse_task(task, error, progress));
        }
        outcomes.extend(
            futures_util::stream::iter(
                ready
                    .into_iter()
                    .map(|task| run_task(task, api, created, progress)),
            )
            .buffer_unordered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await,
        );
    }
    outcomes
}

/// A task not carried out: its first change failed with `error`, the rest not done.
fn refuse_task(task: Vec<&Change>, error: String, progress: &dyn Progress) -> TaskOutcome {
    let mut outcome = TaskOutcome::default();
    let mut changes = task.into_iter();
    if let Some(first) = changes.next() {
        progress.finished(first, Some(&error));
        outcome.failed.push(Failure {
            change: first.clone(),
            error,
        });
    }
    outcome.not_done.extend(changes.cloned());
    outcome
}

/// Groups a phase's changes into tasks: all steps of one client (or of the provider's contacts)
/// in one task, in plan order; every other change alone.
fn group_into_tasks<'a>(changes: &[&'a Change]) -> Vec<Vec<&'a Change>> {
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut tasks: Vec<Vec<&Change>> = Vec::new();
    for change in changes {
        match task_key(change) {
            Some(key) => match by_key.get(&key) {
                Some(&i) => {
                    if let Some(task) = tasks.get_mut(i) {
                        task.push(change);
                    }
                }
                None => {
                    by_key.insert(key, tasks.len());
                    tasks.push(vec![change]);
                }
            },
            None => tasks.push(vec![change]),
        }
    }
    tasks
}

/// The key under which a change's task is found by later changes of the same client.
fn task_key(change: &Change) -> Option<String> {
    match &change.action {
        Action::CreateClient(c) => Some(format!("client:{}", c.name)),
        Action::UpdateClient { client, .. }
        | Action::PutKeys { client, .. }
        | Action::PutContacts {
            client: Some(client),
            ..
        } => Some(match client {
            ClientRef::Existing(id) => format!("id:{id}"),
            ClientRef::Created(name) => format!("client:{name}"),
        }),
        _ => None,
    }
}

#[derive(Default)]
struct TaskOutcome {
    done: Vec<Change>,
    failed: Vec<Failure>,
    not_done: Vec<Change>,
}

async fn run_task<S: SelfService>(
    task: Vec<&Change>,
    api: &S,
    created: &Mutex<BTreeMap<String, String>>,
    progress: &dyn Progress,
) -> TaskOutcome {
    let mut outcome = TaskOutcome::default();
    let mut keys_put = false;
    let mut failed = false;
    for change in task {
        if failed {
            outcome.not_done.push(change.clone());
            continue;
        }
        let is_key_put = matches!(change.action, Action::PutKeys { .. });
        let result = if is_key_put && keys_put {
            // The whole key set already went up with an earlier change of this client.
            Ok(())
        } else {
            perform(&change.action, api, created).await
        };
        if is_key_put && result.is_ok() {
            keys_put = true;
        }
        match result {
            Ok(()) => {
                progress.finished(change, None);
                outcome.done.push(change.clone());
            }
            Err(e) => {
                let error = e.to_string();
                progress.finished(change, Some(&error));
                outcome.failed.push(Failure {
                    change: change.clone(),
                    error,
                });
                failed = true;
            }
        }
    }
    outcome
}

fn resolve(
    client: &ClientRef,
    created: &Mutex<BTreeMap<String, String>>,
) -> Result<String, ApiError> {
    match client {
        ClientRef::Existing(id) => Ok(id.clone()),
        ClientRef::Created(name) => {
            let map = created.lock().unwrap_or_else(|e| e.into_inner());
            map.get(name).cloned().ok_or_else(|| ApiError::Status {
                operation: format!("client `{name}`"),
                status: 0,
                message: "the client was not created, so its keys and contacts cannot be set"
                    .into(),
            })
        }
    }
}

async fn perform<S: SelfService>(
    action: &Action,
    api: &S,
    created: &Mutex<BTreeMap<String, String>>,
) -> Result<(), ApiError> {
    match action {
        Action::None => Err(ApiError::Status {
            operation: "apply".into(),
            status: 0,
            message: "the change carries no operation (a plan read from JSON is applied by planning again)".into(),
        }),
        Action::CreateScope(scope) => api.create_scope(scope).await,
        Action::UpdateScope(scope) => api.update_scope(scope).await,
        Action::DeactivateScope(name) => api.deactivate_scope(name).await,
        Action::Grant { scope, consumer } => api.grant(scope, consumer).await,
        Action::Revoke { scope, consumer } => api.revoke(scope, consumer).await,
        Action::CreateClient(client) => {
            let id = api.create_client(client).await?;
            created
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(client.name.clone(), id);
            Ok(())
        }
        Action::UpdateClient { client, desired } => {
            let id = resolve(client, created)?;
            api.update_client(&id, desired).await
        }
        Action::DeactivateClient(id) => api.deactivate_client(id).await,
        Action::PutKeys { client, keys } => {
            let id = resolve(client, created)?;
            api.put_keys(&id, keys).await
        }
        Action::PutContacts { client, contacts } => {
            let target = match client {
                None => ContactTarget::Provider,
                Some(c) => ContactTarget::Client(resolve(c, created)?),
            };
            api.put_contacts(&target, contacts).await
        }
    }
}

#[cfg(test)]
mod tests;
