//! Reading an environment: the lists, one scope or client, grants, keys and contacts, and the
//! whole live state at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::Method;

use super::{Call, Failed, HttpClient, check_scope_name, client_segment};
use crate::api::ApiError;
use crate::api::wire::{ClientResponse, ContactsResponse, GrantResponse, Jwks, ScopeResponse};
use crate::manifest::model::Contacts;
use crate::manifest::orgno::OrgNo;
use crate::state::{EnvState, LiveEnv};

impl HttpClient {
    /// `GET /scopes?inactive=true`: the organisation's scopes, deactivated ones included.
    pub async fn list_scopes(&self) -> Result<Vec<ScopeResponse>, ApiError> {
        let raw: Vec<serde_json::Value> = self
            .json(Call {
                method: Method::GET,
                path: "/scopes".into(),
                query: vec![("inactive", "true")],
                body: None,
                idempotent: true,
                operation: "list scopes".into(),
            })
            .await?;
        let mut scopes = Vec::with_capacity(raw.len());
        let mut cache = self.live_scopes.lock().unwrap_or_else(|e| e.into_inner());
        for value in raw {
            let scope: ScopeResponse =
                serde_json::from_value(value.clone()).map_err(|e| ApiError::Status {
                    operation: format!("{}: list scopes", self.config.env),
                    status: 200,
                    message: format!("the answer is not the expected JSON ({e})"),
                })?;
            if let (Some(name), serde_json::Value::Object(object)) = (scope.full_name(), value) {
                cache.insert(name, object);
            }
            scopes.push(scope);
        }
        Ok(scopes)
    }

    /// The scope `name` as the server has it, every field included: as last listed, else
    /// read (`None` when it does not exist).
    pub(super) async fn scope_as_read(
        &self,
        name: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, ApiError> {
        let cached = self
            .live_scopes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        if cached.is_some() {
            return Ok(cached);
        }
        let call = Call {
            method: Method::GET,
            path: "/scopes".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("read scope {name}"),
        };
        match self.send(&call).await {
            Ok(body) => match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(serde_json::Value::Object(object)) => Ok(Some(object)),
                // Some deployments answer a filtered list rather than the object.
                Ok(serde_json::Value::Array(items)) => Ok(items.into_iter().find_map(|v| {
                    let found = serde_json::from_value::<ScopeResponse>(v.clone())
                        .ok()?
                        .full_name()?
                        == name;
                    match v {
                        serde_json::Value::Object(object) if found => Some(object),
                        _ => None,
                    }
                })),
                _ => Err(ApiError::Status {
                    operation: format!("{}: {}", self.config.env, call.operation),
                    status: 200,
                    message: "the answer is not a scope".into(),
                }),
            },
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// `GET /scopes?scope=NAME`: one scope, `None` when it does not exist.
    pub async fn get_scope(&self, name: &str) -> Result<Option<ScopeResponse>, ApiError> {
        check_scope_name(name, "read scope")?;
        let call = Call {
            method: Method::GET,
            path: "/scopes".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("read scope {name}"),
        };
        match self.send(&call).await {
            Ok(body) => {
                let value: serde_json::Value =
                    serde_json::from_str(&body).map_err(|e| ApiError::Status {
                        operation: format!("{}: {}", self.config.env, call.operation),
                        status: 200,
                        message: format!("the answer is not JSON ({e})"),
                    })?;
                // Some deployments answer a filtered list rather than the object.
                let scope = match value {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .filter_map(|v| serde_json::from_value::<ScopeResponse>(v).ok())
                        .find(|s| s.full_name().as_deref() == Some(name)),
                    other => serde_json::from_value(other).ok(),
                };
                Ok(scope)
            }
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Refuses a scope list in which two entries share a name: the live state keys scopes by
    /// name, and which of them the manifest's scope is cannot be told, so none is picked.
    fn check_unique_scope_names(&self, scopes: &[ScopeResponse]) -> Result<(), ApiError> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for name in scopes.iter().filter_map(ScopeResponse::full_name) {
            *seen.entry(name).or_default() += 1;
        }
        let mut shared: Vec<(String, usize)> = seen.into_iter().filter(|(_, n)| *n > 1).collect();
        if shared.is_empty() {
            return Ok(());
        }
        shared.sort();
        let listed: Vec<String> = shared
            .iter()
            .map(|(name, n)| format!("{name} ({n} times)"))
            .collect();
        Err(ApiError::Status {
            operation: format!("{}: list scopes", self.config.env),
            status: 200,
            message: format!(
                "the list has scopes that share a name: {}. mpctl cannot tell which one the manifest means and changes nothing; deactivate the extra one in Samarbeidsportalen (or ask servicedesk@digdir.no)",
                listed.join(", ")
            ),
        })
    }

    /// `GET /scopes/access?scope=NAME`: a scope's grants.
    pub async fn scope_grants(&self, name: &str) -> Result<Vec<GrantResponse>, ApiError> {
        check_scope_name(name, "list grants")?;
        self.json(Call {
            method: Method::GET,
            path: "/scopes/access".into(),
            query: vec![("scope", name)],
            body: None,
            idempotent: true,
            operation: format!("list grants of scope {name}"),
        })
        .await
    }

    /// `GET /scopes/access/all?accessible_for_all=true`: the scopes the organisation may use.
    pub async fn accessible(&self) -> Result<Vec<GrantResponse>, ApiError> {
        self.json(Call {
            method: Method::GET,
            path: "/scopes/access/all".into(),
            query: vec![("accessible_for_all", "true")],
            body: None,
            idempotent: true,
            operation: "list the scopes the organisation may use".into(),
        })
        .await
    }

    /// `GET /clients`: the organisation's clients.
    pub async fn list_clients(&self) -> Result<Vec<ClientResponse>, ApiError> {
        let clients: Vec<ClientResponse> = self
            .json(Call {
                method: Method::GET,
                path: "/clients".into(),
                query: Vec::new(),
                body: None,
                idempotent: true,
                operation: "list clients".into(),
            })
            .await?;
        if let Ok(mut cache) = self.live_clients.lock() {
            for client in &clients {
                if let Some(id) = &client.client_id {
                    cache.insert(id.clone(), client.clone());
                }
            }
        }
        Ok(clients)
    }

    /// `GET /clients/{id}/jwks`: a client's keys (none when it has no key set).
    pub async fn client_keys(&self, client_id: &str) -> Result<Jwks, ApiError> {
        let path = format!("/clients/{}/jwks", client_segment(client_id, "read keys")?);
        let call = Call {
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation: format!("read keys of client {client_id}"),
        };
        match self.send(&call).await {
            Ok(body) if body.trim().is_empty() => Ok(Jwks::default()),
            Ok(body) => serde_json::from_str(&body).map_err(|e| ApiError::Status {
                operation: format!("{}: {}", self.config.env, call.operation),
                status: 200,
                message: format!("the answer is not a JWKS ({e})"),
            }),
            Err(Failed {
                status: Some(404), ..
            }) => Ok(Jwks::default()),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// Whether the environment offers the contacts extension (asked once, and only where
    /// [`super::ClientConfig::probe_contacts`] allows).
    pub async fn contacts_api(&self) -> Result<bool, ApiError> {
        if !self.config.probe_contacts {
            return Ok(false);
        }
        self.contacts_api
            .get_or_try_init(|| async {
                match self.read_contacts("/extensions/contacts").await? {
                    Some(_) => Ok(true),
                    None => Ok(false),
                }
            })
            .await
            .copied()
    }

    /// The provider integration's contacts where the environment has the extension (one
    /// request, which also answers whether it has it); `None` otherwise.
    async fn provider_contacts(&self) -> Result<Option<Contacts>, ApiError> {
        if !self.config.probe_contacts {
            return Ok(None);
        }
        let contacts = self.read_contacts("/extensions/contacts").await?;
        let _ = self.contacts_api.set(contacts.is_some());
        Ok(contacts)
    }

    async fn read_contacts(&self, path: &str) -> Result<Option<Contacts>, ApiError> {
        let call = Call {
            method: Method::GET,
            path: path.to_owned(),
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation: "read contacts".into(),
        };
        match self.send(&call).await {
            Ok(body) => serde_json::from_str::<ContactsResponse>(&body)
                .map(|c| Some(c.to_contacts()))
                .map_err(|e| ApiError::Status {
                    operation: format!("{}: read contacts ({path})", self.config.env),
                    status: 200,
                    message: format!("the answer is not a contacts object ({e})"),
                }),
            Err(Failed {
                status: Some(404 | 405 | 501),
                ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// `GET /clients/{id}`: one client as the server has it (`None` when it does not exist).
    pub(super) async fn read_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientResponse>, ApiError> {
        let operation = format!("read client {client_id}");
        let segment = client_segment(client_id, &operation)?;
        let call = Call {
            method: Method::GET,
            path: format!("/clients/{segment}"),
            query: Vec::new(),
            body: None,
            idempotent: true,
            operation,
        };
        match self.send(&call).await {
            Ok(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| ApiError::Status {
                    operation: format!("{}: {}", self.config.env, call.operation),
                    status: 200,
                    message: format!("the answer is not a client ({e})"),
                }),
            Err(Failed {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(self.error(&call.operation, f)),
        }
    }

    /// The newest active client named `name`.
    pub(super) async fn find_client_by_name(&self, name: &str) -> Result<Option<String>, ApiError> {
        let clients = self.list_clients().await?;
        Ok(clients
            .into_iter()
            .filter(|c| c.client_name.as_deref() == Some(name) && c.active != Some(false))
            .max_by(|a, b| a.created.cmp(&b.created))
            .and_then(|c| c.client_id))
    }
}

enum Job {
    Grants(String),
    Keys(String),
    ClientContacts(String),
}

enum JobResult {
    Grants(String, Vec<GrantResponse>),
    Keys(String, Jwks),
    ClientContacts(String, Option<Contacts>),
}

impl HttpClient {
    async fn run(&self, job: Job) -> Result<JobResult, ApiError> {
        Ok(match job {
            Job::Grants(scope) => {
                let grants = self.scope_grants(&scope).await?;
                JobResult::Grants(scope, grants)
            }
            Job::Keys(id) => {
                let keys = self.client_keys(&id).await?;
                JobResult::Keys(id, keys)
            }
            Job::ClientContacts(id) => {
                let path = format!(
                    "/extensions/clients/{}/contacts",
                    client_segment(&id, "read contacts")?
                );
                let contacts = self.read_contacts(&path).await?;
                JobResult::ClientContacts(id, contacts)
            }
        })
    }

    pub(super) async fn fetch_live(&self) -> Result<LiveEnv, ApiError> {
        // A side the token cannot read is not asked for: its lists stay empty, and the plan
        // says it was not read.
        let sides = self.config.sides;
        let (scopes, clients, accessible, provider_contacts) = futures_util::try_join!(
            async {
                match sides.scopes {
                    true => self.list_scopes().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.clients {
                    true => self.list_clients().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.clients {
                    true => self.accessible().await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match sides.scopes || sides.clients {
                    true => self.provider_contacts().await,
                    false => Ok(None),
                }
            },
        )?;
        let contacts_api = provider_contacts.is_some();
        // Read only to learn whether the extension exists: the provider's own contacts belong
        // to the provider side.
        let provider_contacts = provider_contacts.filter(|_| sides.scopes);
        self.check_unique_scope_names(&scopes)?;

        let mut jobs = Vec::new();
        for scope in &scopes {
            if let Some(name) = scope.full_name() {
                jobs.push(Job::Grants(name));
            }
        }
        for client in &clients {
            let Some(id) = &client.client_id else {
                continue;
            };
            // A deactivated client is history: its keys and contacts are not read.
            if client.active == Some(false) {
                continue;
            }
            jobs.push(Job::Keys(id.clone()));
            if contacts_api {
                jobs.push(Job::ClientContacts(id.clone()));
            }
        }
        let results: Vec<JobResult> = stream::iter(jobs)
            .map(|job| self.run(job))
            .buffer_unordered(self.config.concurrency.max(1))
            .try_collect()
            .await?;

        let mut grants: HashMap<String, BTreeSet<OrgNo>> = HashMap::new();
        let mut org_names: BTreeMap<String, String> = BTreeMap::new();
        let mut keys: HashMap<String, Jwks> = HashMap::new();
        let mut client_contacts: HashMap<String, Contacts> = HashMap::new();
        for result in results {
            match result {
                JobResult::Grants(scope, list) => {
                    for g in &list {
                        if let (Some(number), Some(name)) =
                            (&g.consumer_orgno, &g.consumer_organization_name)
                        {
                            org_names.insert(number.clone(), name.clone());
                        }
                    }
                    grants.insert(
                        scope,
                        list.iter()
                            .filter(|g| g.is_approved())
                            .filter_map(|g| g.consumer_orgno.as_deref())
                            .map(OrgNo::new_unchecked)
                            .collect(),
                    );
                }
                JobResult::Keys(id, jwks) => {
                    keys.insert(id, jwks);
                }
                JobResult::ClientContacts(id, Some(contacts)) => {
                    client_contacts.insert(id, contacts);
                }
                JobResult::ClientContacts(_, None) => {}
            }
        }

        let mut state = EnvState {
            contacts: provider_contacts,
            ..Default::default()
        };
        for scope in &scopes {
            let Some(name) = scope.full_name() else {
                continue;
            };
            let scope_grants = grants.remove(&name).unwrap_or_default();
            if let Some(s) = scope.to_state(scope_grants) {
                state.scopes.insert(name, s);
            }
        }
        for client in &clients {
            let Some(id) = &client.client_id else {
                continue;
            };
            let client_keys = keys.get(id).map(Jwks::to_states).unwrap_or_default();
            if let Some(mut c) = client.to_state(client_keys) {
                c.contacts = client_contacts.remove(id);
                state.clients.insert(id.clone(), c);
            }
        }
        let accessible_scopes = accessible
            .iter()
            .filter(|g| g.is_approved())
            .filter_map(|g| g.scope.clone())
            .collect();
        Ok(LiveEnv {
            state,
            accessible_scopes,
            contacts_api,
            org_names,
        })
    }
}
