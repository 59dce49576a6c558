//! `mpctl token`: proves that an integration works by getting an access token for one of the
//! manifest's clients with its own private key — what teams otherwise check by hand after every
//! change.
//!
//! The client's `client_id` is the one pinned in `client_ids`, or else the live client of that
//! name (read with the admin client's `idporten:dcr.read`). The token endpoint and audience are
//! the environment's (metadata, presets and overrides as for every command). The private key
//! is read with the admin credentials' loader and never printed; the access token goes to
//! stdout alone, so that `$(mpctl token …)` works.

use base64::Engine;

use super::Exit;
use super::failure::OrFail;
use crate::api::admin_scopes::{AdminScope, AdminScopes};
use crate::api::auth::{TokenConfig, TokenSource};
use crate::api::connect::{Access, Connection};
use crate::api::credentials::Credentials;
use crate::api::endpoints::{DigdirEnv, Target};
use crate::api::retry::RetryPolicy;
use crate::cli::TokenArgs;
use crate::diagnostic_code::Code;
use crate::printer::Printer;
use crate::state::ClientState;

pub fn run(args: &TokenArgs, printer: &Printer) -> miette::Result<Exit> {
    let loaded = crate::engine::load(&args.paths)?;
    crate::engine::select_environments(&loaded.manifest, std::slice::from_ref(&args.env))?;
    let now = crate::clock::now_unix()?;
    let desired = crate::state::resolve::resolve(&loaded, &args.env, now);
    let client = find_client(&loaded, &desired.clients, &args.client, &args.env)?;
    let scopes: Vec<String> = if args.scopes.is_empty() {
        client.scopes.iter().cloned().collect()
    } else {
        args.scopes.clone()
    };
    if scopes.is_empty() {
        miette::bail!(
            code = Code::TokenNoScopes,
            help = "give the scopes to ask for with --scope",
            "client `{}` has no scopes in environment `{}`, so there is nothing to ask a token for",
            args.client,
            args.env
        );
    }
    let retry = RetryPolicy::default();
    let runtime = super::runtime()?;
    let token = runtime.block_on(async {
        let environment = loaded
            .manifest
            .environments
            .get(&args.env)
            .cloned()
            .unwrap_or_default();
        let target = crate::api::metadata::resolve(&args.env, &environment, &retry).await?;
        // The admin connection is needed to find the client id by name, and for `local` to run
        // the embedded emulator (held until the token is issued).
        let (client_id, token_url, audience, digdir, _connection): (
            String,
            String,
            String,
            Option<DigdirEnv>,
            Option<Connection>,
        ) = match (&client.client_id, target) {
            (Some(id), Target::Remote(e)) => (id.clone(), e.token_url, e.audience, e.digdir, None),
            (pinned, _) => {
                let access = Access::Exactly(AdminScopes::of(&[AdminScope::DcrRead]));
                let connection =
                    crate::api::connect(&loaded, &args.env, access, 4, &retry).await?;
                let id = match pinned {
                    Some(id) => id.clone(),
                    None => live_client_id(&connection, &args.client, &args.env).await?,
                };
                let (token_url, audience, digdir) = connection.client.token_endpoint();
                let (token_url, audience) = (token_url.to_owned(), audience.to_owned());
                (id, token_url, audience, digdir, Some(connection))
            }
        };
        let registered: Vec<(String, Vec<u8>)> = client
            .keys
            .values()
            .filter_map(|k| Some((k.kid.clone(), modulus(&k.jwk)?)))
            .collect();
        let credentials = Credentials::from_key_file(
            client_id,
            &args.key,
            args.kid.as_deref(),
            "--kid",
            |n| {
                registered
                    .iter()
                    .find(|(_, m)| m.as_slice() == n)
                    .map(|(kid, _)| kid.clone())
            },
        )?;
        credentials.check_environment(&args.env, digdir)?;
        let http = reqwest::Client::builder()
            .connect_timeout(retry.connect_timeout)
            .timeout(retry.attempt_timeout)
            .build()
            .or_fail(Code::ApiTransport, || "cannot set up the HTTP client".into())?;
        let tokens = TokenSource::new(
            http,
            TokenConfig {
                env: args.env.clone(),
                token_url,
                audience,
                scope: scopes.join(" "),
                digdir,
                retry: retry.clone(),
            },
            credentials,
        )
        .for_client(&args.client);
        tokens.token().await.map_err(|e| {
            miette::miette!(
                code = Code::ApiAuth,
                help = "check the client id, its key and scopes in the manifest and that they are applied in this environment",
                "no token for client `{}`: {}",
                args.client,
                match e {
                    crate::api::ApiError::Auth(message) => message,
                    other => other.to_string(),
                }
            )
        })
    })?;
    if args.decode {
        printer.out(&decode(token.secret())?);
    } else {
        printer.out(token.secret());
    }
    Ok(Exit::Success)
}

/// The client named `name` in the environment, or an error naming the clients there.
fn find_client<'a>(
    loaded: &crate::manifest::LoadedManifest,
    clients: &'a std::collections::BTreeMap<String, ClientState>,
    name: &str,
    env: &str,
) -> miette::Result<&'a ClientState> {
    if let Some(client) = clients.get(name) {
        return Ok(client);
    }
    if loaded.manifest.clients.iter().any(|c| c.name == name) {
        miette::bail!(
            code = Code::TokenClient,
            help = "check the client's `environments`",
            "client `{name}` is not in environment `{env}`"
        );
    }
    let known: Vec<&str> = clients.keys().map(String::as_str).collect();
    miette::bail!(
        code = Code::TokenClient,
        help = if known.is_empty() {
            format!("the manifest has no clients in `{env}`")
        } else {
            format!("the clients in `{env}` are: {}", known.join(", "))
        },
        "the manifest has no client `{name}`"
    )
}

/// The `client_id` of the active live client named `name`.
async fn live_client_id(connection: &Connection, name: &str, env: &str) -> miette::Result<String> {
    let clients = connection
        .client
        .list_clients()
        .await
        .map_err(miette::Report::new)?;
    clients
        .into_iter()
        .filter(|c| c.client_name.as_deref() == Some(name) && c.active != Some(false))
        .max_by(|a, b| a.created.cmp(&b.created))
        .and_then(|c| c.client_id)
        .ok_or_else(|| {
            miette::miette!(
                code = Code::TokenNotApplied,
                help = "apply the manifest first (`mpctl apply`), or pin the client's id in `client_ids`",
                "client `{name}` does not exist in environment `{env}`"
            )
        })
}

/// The RSA modulus (big-endian, no leading zeros) of a public JWK.
fn modulus(jwk: &serde_json::Map<String, serde_json::Value>) -> Option<Vec<u8>> {
    let n = jwk.get("n")?.as_str()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(n.trim_end_matches('='))
        .ok()?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Some(bytes[start..].to_vec())
}

/// The header and claims of a JWT access token as pretty JSON; the signature is left out.
fn decode(token: &str) -> miette::Result<String> {
    let part = |index: usize| -> Option<serde_json::Value> {
        let text = token.split('.').nth(index)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    match (token.split('.').count(), part(0), part(1)) {
        (3, Some(header), Some(claims)) => Ok(serde_json::to_string_pretty(
            &serde_json::json!({ "header": header, "claims": claims }),
        )
        .or_fail(Code::InternalBug, || {
            "cannot write the token's claims as JSON".into()
        })?),
        _ => miette::bail!(
            code = Code::TokenNotJwt,
            help = "run without --decode to print the token",
            "the access token is not a JWT (an opaque token), so it has no claims to show"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_shows_header_and_claims_but_not_the_signature() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!(
            "{}.{}.c2lnbmF0dXJl",
            enc(r#"{"alg":"RS256","kid":"k"}"#),
            enc(r#"{"scope":"acme:orders.read"}"#)
        );
        let text = decode(&token).unwrap();
        assert!(text.contains("\"kid\": \"k\""), "{text}");
        assert!(text.contains("acme:orders.read"), "{text}");
        assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
        assert!(decode("opaque-token").is_err());
    }

    #[test]
    fn moduli_ignore_leading_zeros() {
        let mut jwk = serde_json::Map::new();
        jwk.insert("n".into(), "AAEC".into());
        assert_eq!(modulus(&jwk), Some(vec![1, 2]));
    }
}
