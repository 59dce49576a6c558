//! The token service's authorisation-server metadata (RFC 8414,
//! `/.well-known/oauth-authorization-server`): where Digdir recommends reading the token
//! endpoint (`token_endpoint`) and the grant's audience (`issuer`) from, rather than from
//! constants. Read once per run per URL; when it cannot be read, a preset environment falls
//! back to its built-in endpoints with a warning, and any other environment needs `token_url`
//! and `audience`.
//!
//! Precedence per URL: the manifest's `token_url` / `audience` win; else the metadata's; else the
//! preset's. Where both `token_url` and `audience` are set, the metadata is not read.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Deserialize;

use super::endpoints::{self, EndpointError, Target};
use super::retry::RetryPolicy;
use super::transport::{self, Sent};
use crate::manifest::model::{Environment, Preset};

/// The fields of the metadata mpctl uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub token_endpoint: String,
}

/// Metadata already read in this process, by URL.
static READ: Mutex<BTreeMap<String, Metadata>> = Mutex::new(BTreeMap::new());

/// Reads the metadata at `url` (once per process).
pub async fn fetch(url: &str, retry: &RetryPolicy) -> Result<Metadata, String> {
    if let Some(known) = READ.lock().ok().and_then(|m| m.get(url).cloned()) {
        return Ok(known);
    }
    let http = transport::http_client(retry.connect_timeout, retry.attempt_timeout)
        .map_err(|e| e.to_string())?;
    // A fallback exists for Digdir's environments: do not make the user wait through the
    // full backoff when the metadata is unreachable.
    let policy = RetryPolicy {
        max_attempts: retry.max_attempts.min(2),
        ..retry.clone()
    };
    let sent = transport::send(&policy, true, "GET", url, || {
        http.get(url)
            .header(reqwest::header::ACCEPT, "application/json")
    })
    .await;
    let metadata = match sent {
        Sent::Ok { body } => serde_json::from_str::<Metadata>(&body)
            .map_err(|e| format!("the answer is not authorisation-server metadata ({e})"))?,
        Sent::Status { status, .. } => return Err(format!("the server answered {status}")),
        Sent::Transport { message, .. } => return Err(message),
    };
    if metadata.issuer.trim().is_empty() || metadata.token_endpoint.trim().is_empty() {
        return Err("the metadata has an empty `issuer` or `token_endpoint`".into());
    }
    if let Ok(mut read) = READ.lock() {
        read.insert(url.to_owned(), metadata.clone());
    }
    Ok(metadata)
}

/// The metadata URL of an environment: its `metadata_url`, else its preset's (`test`, `prod`).
pub fn metadata_url(env_name: &str, env: &Environment) -> Option<String> {
    env.metadata_url
        .clone()
        .or_else(|| match endpoints::preset_of(env_name, env) {
            Some(Preset::Test) => Some(endpoints::TEST_METADATA.to_owned()),
            Some(Preset::Prod) => Some(endpoints::PROD_METADATA.to_owned()),
            Some(Preset::Local) | None => None,
        })
}

/// Why an environment's endpoints could not be worked out with the metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("environment `{env}`: cannot read the token service's metadata at {url}: {reason}")]
#[diagnostic(
    code(mpctl::endpoints::metadata),
    help(
        "check `metadata_url` of the environment, or set `token_url` and `audience` (the token service's issuer) so that the metadata is not needed"
    )
)]
pub struct MetadataError {
    pub env: String,
    pub url: String,
    pub reason: String,
}

/// Works out how to reach `env_name`, reading the token endpoint and issuer from the metadata
/// where the manifest does not set them (see the module's documentation).
pub async fn resolve(
    env_name: &str,
    env: &Environment,
    retry: &RetryPolicy,
) -> miette::Result<Target> {
    let url = metadata_url(env_name, env);
    let settled = env.token_url.is_some() && env.audience.is_some();
    let Some(url) = url.filter(|_| !settled) else {
        return Ok(endpoints::resolve(env_name, env)?);
    };
    match fetch(&url, retry).await {
        Ok(metadata) => Ok(with_metadata(env_name, env, &metadata)?),
        Err(reason) => match endpoints::resolve(env_name, env) {
            Ok(target) => {
                tracing::warn!(
                    "environment `{env_name}`: cannot read the token service's metadata at {url} ({reason}); using the built-in token endpoint and audience"
                );
                Ok(target)
            }
            Err(_) => Err(MetadataError {
                env: env_name.to_owned(),
                url,
                reason,
            }
            .into()),
        },
    }
}

/// The endpoints of `env_name` with the metadata filling in what the manifest does not set.
pub fn with_metadata(
    env_name: &str,
    env: &Environment,
    metadata: &Metadata,
) -> Result<Target, EndpointError> {
    let filled = Environment {
        token_url: env
            .token_url
            .clone()
            .or_else(|| Some(metadata.token_endpoint.clone())),
        audience: env
            .audience
            .clone()
            .or_else(|| Some(metadata.issuer.clone())),
        ..env.clone()
    };
    endpoints::resolve(env_name, &filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        Metadata {
            issuer: "https://test.maskinporten.no/".into(),
            token_endpoint: "https://test.maskinporten.no/token-from-metadata".into(),
        }
    }

    #[test]
    fn the_metadata_fills_in_what_the_manifest_does_not_set() {
        let Target::Remote(e) =
            with_metadata("test", &Environment::default(), &metadata()).unwrap()
        else {
            panic!("remote")
        };
        assert_eq!(
            e.token_url,
            "https://test.maskinporten.no/token-from-metadata"
        );
        assert_eq!(e.audience, "https://test.maskinporten.no/");
        assert_eq!(e.api_url, "https://api.test.samarbeid.digdir.no/api/v1");
        let env = Environment {
            token_url: Some("https://proxy.acme.no/token".into()),
            ..Environment::default()
        };
        let Target::Remote(e) = with_metadata("test", &env, &metadata()).unwrap() else {
            panic!("remote")
        };
        assert_eq!(e.token_url, "https://proxy.acme.no/token");
        assert_eq!(e.audience, "https://test.maskinporten.no/");
    }

    #[test]
    fn presets_have_metadata_urls_and_custom_environments_may_set_one() {
        assert_eq!(
            metadata_url("prod", &Environment::default()).as_deref(),
            Some("https://maskinporten.no/.well-known/oauth-authorization-server")
        );
        assert_eq!(metadata_url("local", &Environment::default()), None);
        assert_eq!(metadata_url("staging", &Environment::default()), None);
        let env = Environment {
            metadata_url: Some("http://127.0.0.1:1/.well-known/oauth-authorization-server".into()),
            ..Environment::default()
        };
        assert!(metadata_url("staging", &env).is_some());
    }

    #[tokio::test]
    async fn an_unreachable_metadata_url_falls_back_to_the_preset_or_fails_clearly() {
        let retry = RetryPolicy {
            max_attempts: 1,
            connect_timeout: std::time::Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        // Port 9 on loopback: nothing listens there.
        let dead = "http://127.0.0.1:9/.well-known/oauth-authorization-server".to_owned();
        let env = Environment {
            metadata_url: Some(dead.clone()),
            ..Environment::default()
        };
        let Target::Remote(e) = resolve("test", &env, &retry).await.unwrap() else {
            panic!("remote")
        };
        assert_eq!(e.token_url, "https://test.maskinporten.no/token");
        let custom = Environment {
            api_url: Some("http://127.0.0.1:9/api/v1".into()),
            ..env
        };
        let err = resolve("staging", &custom, &retry).await.unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains(&dead), "{text}");
        assert!(text.contains("token_url"), "{text}");
    }
}
