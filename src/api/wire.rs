//! The self-service API's JSON, as typed structs.
//!
//! Responses are read tolerantly: every field is optional and unknown fields are ignored, so a
//! new field on Digdir's side never breaks a fetch. Requests are strict: only the fields mpctl
//! means to set are sent, and an unset option is left out rather than sent as `null`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::manifest::model::ScopeAttributes;
use crate::manifest::orgno::OrgNo;
use crate::secret::Secret;
use crate::state::{ClientState, KeyState, ScopeState};

/// The grant type of every Maskinporten client and of the admin client's own token requests.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The integration type of the clients mpctl manages.
pub const MASKINPORTEN: &str = "maskinporten";

/// A scope as the API returns it (`GET /scopes`, `GET /scopes?scope=`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScopeResponse {
    pub prefix: Option<String>,
    pub subscope: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub long_description: Option<String>,
    pub visibility: Option<String>,
    pub token_type: Option<String>,
    pub at_max_age: Option<u32>,
    pub authorization_max_lifetime: Option<u32>,
    pub allowed_integration_types: Option<Vec<String>>,
    pub accessible_for_all: Option<bool>,
    pub enforced_aud_for_access_token: Option<String>,
    pub delegation_source: Option<String>,
    pub active: Option<bool>,
    pub owner_orgno: Option<String>,
    pub created: Option<String>,
    pub last_updated: Option<String>,
}

impl ScopeResponse {
    /// The full scope name: `name`, or `prefix:subscope` when the server left `name` out.
    pub fn full_name(&self) -> Option<String> {
        match (&self.name, &self.prefix, &self.subscope) {
            (Some(name), _, _) if !name.is_empty() => Some(name.clone()),
            (_, Some(prefix), Some(subscope)) => Some(format!("{prefix}:{subscope}")),
            _ => None,
        }
    }

    /// The scope in the diff's shape, with the given grants. A missing `active` means active
    /// (older API versions list only active scopes without the field).
    pub fn to_state(&self, grants: BTreeSet<OrgNo>) -> Option<ScopeState> {
        Some(ScopeState {
            name: self.full_name()?,
            description: self.description.clone().unwrap_or_default(),
            attributes: self.attributes(),
            active: self.active.unwrap_or(true),
            grants,
            protected: false,
        })
    }
}

impl ScopeResponse {
    /// The optional fields as mpctl knows them. This is the scope's wire mapping: a field the
    /// API returns is read here, a value mpctl does not know becomes unset (not managed).
    fn attributes(&self) -> ScopeAttributes {
        ScopeAttributes {
            long_description: self.long_description.clone(),
            visibility: self.visibility.as_deref().and_then(parse_enum),
            token_type: self.token_type.as_deref().and_then(parse_enum),
            at_max_age: self.at_max_age,
            authorization_max_lifetime: self.authorization_max_lifetime,
            allowed_integration_types: self
                .allowed_integration_types
                .as_ref()
                .map(|types| types.iter().filter_map(|t| parse_enum(t)).collect()),
            accessible_for_all: self.accessible_for_all,
            enforced_aud_for_access_token: self.enforced_aud_for_access_token.clone(),
            delegation_source: self.delegation_source.clone(),
        }
    }
}

/// Parses one of the manifest's enums from its wire spelling; `None` for values mpctl does not
/// know (e.g. visibility `INTERNAL`), which are then left unmanaged.
fn parse_enum<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()
}

/// The body of `POST /scopes` (create) and `PUT /scopes?scope=` (update). `prefix` and
/// `subscope` identify the scope; every other field is sent only when set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeRequest {
    pub prefix: String,
    pub subscope: String,
    pub description: String,
    /// The optional fields, each sent only when set: the manifest spells them as the API does.
    #[serde(flatten)]
    pub attributes: ScopeAttributes,
    /// Sent on update only: `true` reactivates a deactivated scope (the API refuses to
    /// re-create one with `POST`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl ScopeRequest {
    /// The request for a desired scope; `None` when the name has no `prefix:` part.
    /// `with_active` adds `active` (for updates).
    pub fn from_state(scope: &ScopeState, with_active: bool) -> Option<Self> {
        let (prefix, subscope) = scope.name.split_once(':')?;
        if prefix.is_empty() || subscope.is_empty() {
            return None;
        }
        Some(Self {
            prefix: prefix.to_owned(),
            subscope: subscope.to_owned(),
            description: scope.description.clone(),
            attributes: scope.attributes.clone(),
            active: with_active.then_some(scope.active),
        })
    }
}

/// Fields of a scope the server sets; never sent back.
const SCOPE_SERVER_FIELDS: [&str; 2] = ["created", "last_updated"];

/// The body of a scope update: the scope as read (`live`, every field the server sent, known
/// to mpctl or not, minus server-set timestamps) with `changes` (a [`ScopeRequest`]) over it.
/// Without a live object, just the changes.
pub fn scope_update_body(
    live: Option<serde_json::Map<String, serde_json::Value>>,
    changes: serde_json::Value,
) -> serde_json::Value {
    let mut body = live.unwrap_or_default();
    for field in SCOPE_SERVER_FIELDS {
        body.remove(field);
    }
    if let serde_json::Value::Object(changes) = changes {
        body.extend(changes);
    }
    serde_json::Value::Object(body)
}

/// One access grant (`GET /scopes/access?scope=`, `GET /scopes/access/all`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GrantResponse {
    pub scope: Option<String>,
    pub state: Option<String>,
    pub consumer_orgno: Option<String>,
    pub owner_orgno: Option<String>,
    pub created: Option<String>,
    pub last_updated: Option<String>,
    pub owner_organization_name: Option<String>,
    pub consumer_organization_name: Option<String>,
}

impl GrantResponse {
    /// Whether the grant gives access: `APPROVED`, or no state at all (older responses).
    pub fn is_approved(&self) -> bool {
        self.state
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("APPROVED"))
    }
}

/// A client as the API returns it (`GET /clients`, `POST /clients`, `GET /clients/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientResponse {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub description: Option<String>,
    pub integration_type: Option<String>,
    pub application_type: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub client_orgno: Option<String>,
    pub access_token_lifetime: Option<u32>,
    pub authorization_lifetime: Option<u32>,
    pub refresh_token_lifetime: Option<u32>,
    pub client_uri: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub active: Option<bool>,
    pub created: Option<String>,
    pub last_updated: Option<String>,
}

impl ClientResponse {
    /// The client in the diff's shape, with the given keys; `None` without a `client_id`.
    pub fn to_state(&self, keys: BTreeMap<String, KeyState>) -> Option<ClientState> {
        Some(ClientState {
            client_id: Some(self.client_id.clone()?),
            name: self.client_name.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            scopes: self.scopes.iter().flatten().cloned().collect(),
            keys,
            access_token_lifetime: self.access_token_lifetime,
            active: self.active.unwrap_or(true),
            contacts: None,
            renamed_from: Vec::new(),
            protected: false,
            integration_type: self.integration_type.clone(),
        })
    }
}

/// The body of `POST /clients` and `PUT /clients/{id}`: a Maskinporten client.
///
/// For an update the API wants the object as read minus server-set fields, so fields mpctl
/// does not manage (`client_uri`, lifetimes of other kinds, …) are carried over from the live
/// client when it is known (see [`ClientRequest::merged_onto`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub client_name: String,
    pub description: String,
    pub integration_type: String,
    pub application_type: String,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_orgno: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_lifetime: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Sent on update only: `true` reactivates a deactivated client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl ClientRequest {
    /// A new Maskinporten client (`POST /clients`): the fixed Maskinporten settings plus the
    /// desired name, description, scopes and token lifetime.
    pub fn for_create(client: &ClientState) -> Self {
        Self {
            client_id: None,
            client_name: client.name.clone(),
            description: client.description.clone(),
            integration_type: "maskinporten".into(),
            application_type: "web".into(),
            token_endpoint_auth_method: "private_key_jwt".into(),
            grant_types: vec![JWT_BEARER.into()],
            scopes: client.scopes.iter().cloned().collect(),
            client_orgno: None,
            access_token_lifetime: client.access_token_lifetime,
            authorization_lifetime: None,
            refresh_token_lifetime: None,
            client_uri: None,
            redirect_uris: None,
            post_logout_redirect_uris: None,
            active: None,
        }
    }

    /// The update of an existing client: the live object as read (when known), with the
    /// desired managed fields laid over it. `active: true` is sent only to `reactivate` a
    /// deactivated client: an update of an active one leaves the state alone.
    pub fn merged_onto(
        client_id: &str,
        desired: &ClientState,
        live: Option<&ClientResponse>,
        reactivate: bool,
    ) -> Self {
        let mut request = Self::for_create(desired);
        request.client_id = Some(client_id.to_owned());
        request.active = reactivate.then_some(true);
        if let Some(live) = live {
            if let Some(t) = &live.integration_type {
                request.integration_type = t.clone();
            }
            if let Some(t) = &live.application_type {
                request.application_type = t.clone();
            }
            if let Some(t) = &live.token_endpoint_auth_method {
                request.token_endpoint_auth_method = t.clone();
            }
            if let Some(g) = &live.grant_types {
                request.grant_types = g.clone();
            }
            request.client_orgno = live.client_orgno.clone();
            if request.access_token_lifetime.is_none() {
                request.access_token_lifetime = live.access_token_lifetime;
            }
            request.authorization_lifetime = live.authorization_lifetime;
            request.refresh_token_lifetime = live.refresh_token_lifetime;
            request.client_uri = live.client_uri.clone();
            request.redirect_uris = live.redirect_uris.clone();
            request.post_logout_redirect_uris = live.post_logout_redirect_uris.clone();
        }
        request
    }
}

/// A client's key set (`GET|POST /clients/{id}/jwks`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Jwks {
    pub keys: Vec<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
}

/// The JWK members mpctl registers; everything else a key carries (the server's `exp`,
/// `created`, …) is not part of the key's identity.
const JWK_MEMBERS: [&str; 7] = ["kty", "alg", "use", "kid", "n", "e", "x5c"];

/// The public JWK as it is registered: only the members `kty`, `alg`, `use`, `kid`, `n`, `e`
/// and `x5c`.
pub fn registrable_jwk(
    jwk: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    jwk.iter()
        .filter(|(k, _)| JWK_MEMBERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Jwks {
    /// The body that registers `keys` (their registrable members only).
    pub fn from_keys(keys: &[KeyState]) -> Self {
        Self {
            keys: keys.iter().map(|k| registrable_jwk(&k.jwk)).collect(),
            created: None,
            last_updated: None,
        }
    }

    /// The live keys by `kid`, with the server's `exp` and the certificate's Not After.
    pub fn to_states(&self) -> BTreeMap<String, KeyState> {
        self.keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.get("kid")?.as_str()?.to_owned();
                let exp = jwk.get("exp").and_then(serde_json::Value::as_i64);
                let cert_not_after = jwk
                    .get("x5c")
                    .and_then(|v| v.as_array())
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| leaf.as_str())
                    .and_then(certificate_not_after);
                Some((
                    kid.clone(),
                    KeyState {
                        kid,
                        jwk: registrable_jwk(jwk),
                        exp,
                        cert_not_after,
                        source: None,
                        retire_after: None,
                    },
                ))
            })
            .collect()
    }
}

/// Not After (Unix seconds) of a base64 (standard alphabet, DER) certificate from `x5c`.
pub fn certificate_not_after(b64_der: &str) -> Option<i64> {
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64_der)
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// The contacts extension's answer (emulator only; Digdir has no such API), read tolerantly.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ContactsResponse {
    pub notifications: Vec<String>,
    pub invoice: Option<InvoiceResponse>,
}

/// Invoice data in a [`ContactsResponse`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct InvoiceResponse {
    pub email: Option<String>,
    pub reference: Option<String>,
}

impl ContactsResponse {
    /// The contacts in the manifest's shape (invoice data without an e-mail is no invoice).
    pub fn to_contacts(&self) -> crate::manifest::model::Contacts {
        crate::manifest::model::Contacts {
            notifications: self.notifications.clone(),
            invoice: self.invoice.as_ref().and_then(|i| {
                Some(crate::manifest::model::Invoice {
                    email: i.email.clone()?,
                    reference: i.reference.clone(),
                })
            }),
        }
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenResponse {
    pub access_token: Secret<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
}

/// The server's own words from an error body: the first of the usual message fields of a
/// JSON body (OAuth2 `error_description`, Spring `message`, Digdir's `error_description` /
/// `error_id`, …), or the body's text itself, cut to a readable length.
pub fn error_message(body: &str) -> String {
    let trimmed = body.trim();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(trimmed) {
        let text = |key: &str| {
            map.get(key)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let mut parts = Vec::new();
        if let Some(code) = text("error")
            .or_else(|| text("error_id"))
            .or_else(|| text("code"))
        {
            parts.push(code.to_owned());
        }
        if let Some(message) = text("error_description")
            .or_else(|| text("message"))
            .or_else(|| text("detail"))
            .or_else(|| text("title"))
        {
            parts.push(message.to_owned());
        }
        if !parts.is_empty() {
            return truncate(&parts.join(": "), 1000);
        }
    }
    if trimmed.is_empty() {
        "(no message in the response)".into()
    } else {
        truncate(trimmed, 1000)
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::model::{IntegrationType, TokenType, Visibility};

    #[test]
    fn scope_response_ignores_unknown_fields_and_missing_ones() {
        let scope: ScopeResponse = serde_json::from_str(
            r#"{"prefix":"acme","subscope":"orders.read","description":"d",
                "visibility":"INTERNAL","brand_new_field":{"x":1},"allowed_integration_types":["maskinporten","future_type"]}"#,
        )
        .unwrap();
        let state = scope.to_state(BTreeSet::new()).unwrap();
        assert_eq!(state.name, "acme:orders.read");
        assert!(state.active);
        assert_eq!(state.attributes.visibility, None);
        assert_eq!(
            state.attributes.allowed_integration_types,
            Some(vec![IntegrationType::Maskinporten])
        );
    }

    #[test]
    fn scope_request_sends_no_nulls_for_unset_options() {
        let state = ScopeState {
            name: "acme:orders.read".into(),
            description: "Read orders".into(),
            attributes: ScopeAttributes {
                visibility: Some(Visibility::Private),
                ..Default::default()
            },
            active: true,
            ..Default::default()
        };
        let create =
            serde_json::to_value(ScopeRequest::from_state(&state, false).unwrap()).unwrap();
        assert_eq!(
            create,
            serde_json::json!({"prefix":"acme","subscope":"orders.read","description":"Read orders","visibility":"PRIVATE"})
        );
        let update = serde_json::to_value(ScopeRequest::from_state(&state, true).unwrap()).unwrap();
        assert_eq!(update["active"], serde_json::json!(true));
    }

    /// Every attribute, set to a value other than the API's default.
    fn every_attribute() -> ScopeAttributes {
        ScopeAttributes {
            long_description: Some("Long".into()),
            visibility: Some(Visibility::Private),
            token_type: Some(TokenType::Opaque),
            at_max_age: Some(300),
            authorization_max_lifetime: Some(600),
            allowed_integration_types: Some(vec![
                IntegrationType::Maskinporten,
                IntegrationType::ApiKlient,
            ]),
            accessible_for_all: Some(true),
            enforced_aud_for_access_token: Some("https://api.acme.no".into()),
            delegation_source: Some("https://www.altinn.no".into()),
        }
    }

    #[test]
    fn every_scope_attribute_is_sent_in_the_api_spelling_and_read_back() {
        let attributes = every_attribute();
        let sent = serde_json::to_value(&attributes).unwrap();
        let names: Vec<&str> = sent
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            ScopeAttributes::FIELDS,
            "every_attribute() must set every field"
        );
        let state = ScopeState {
            name: "acme:orders".into(),
            description: "Orders".into(),
            attributes: attributes.clone(),
            active: true,
            ..Default::default()
        };
        let body = serde_json::to_value(ScopeRequest::from_state(&state, false).unwrap()).unwrap();
        assert_eq!(body["token_type"], "OPAQUE");
        assert_eq!(
            body["allowed_integration_types"],
            serde_json::json!(["maskinporten", "api_klient"])
        );
        // What the API returns for what was sent maps back to the same attributes: a field
        // added to `ScopeAttributes` but not to the response mapping fails here.
        let read: ScopeResponse = serde_json::from_value(body).unwrap();
        assert_eq!(
            read.to_state(BTreeSet::new()).unwrap().attributes,
            attributes
        );
    }

    #[test]
    fn scope_request_needs_a_prefix() {
        let state = ScopeState {
            name: "noprefix".into(),
            ..Default::default()
        };
        assert!(ScopeRequest::from_state(&state, false).is_none());
    }

    #[test]
    fn client_update_keeps_unmanaged_live_fields_and_drops_timestamps() {
        let live: ClientResponse = serde_json::from_value(serde_json::json!({
            "client_id": "abc", "client_name": "old", "integration_type": "maskinporten",
            "application_type": "web", "client_uri": "https://acme.no", "created": "2020-01-01T00:00:00Z",
            "last_updated": "2021-01-01T00:00:00Z", "client_orgno": "910753282"
        }))
        .unwrap();
        let desired = ClientState {
            name: "new".into(),
            description: "d".into(),
            scopes: ["acme:a".to_owned()].into(),
            active: true,
            ..Default::default()
        };
        let body = serde_json::to_value(ClientRequest::merged_onto(
            "abc",
            &desired,
            Some(&live),
            false,
        ))
        .unwrap();
        assert_eq!(body["client_name"], "new");
        assert_eq!(body["client_uri"], "https://acme.no");
        assert_eq!(body["client_orgno"], "910753282");
        assert!(body.get("active").is_none(), "`active` only to reactivate");
        assert!(body.get("created").is_none() && body.get("last_updated").is_none());
        assert!(body.get("redirect_uris").is_none(), "no nulls: {body}");
        let reactivation = serde_json::to_value(ClientRequest::merged_onto(
            "abc",
            &desired,
            Some(&live),
            true,
        ))
        .unwrap();
        assert_eq!(reactivation["active"], true);
    }

    #[test]
    fn scope_update_is_the_scope_as_read_with_the_changes_over_it() {
        let live = serde_json::json!({
            "prefix": "acme", "subscope": "orders", "name": "acme:orders",
            "description": "old", "delegation_source": "https://www.altinn.no",
            "requires_user_consent": true, "descriptions": {"nb": "Ordre"},
            "created": "2020-01-01T00:00:00Z", "last_updated": "2021-01-01T00:00:00Z"
        });
        let changes = serde_json::json!({
            "prefix": "acme", "subscope": "orders", "description": "new", "active": true
        });
        let body = scope_update_body(live.as_object().cloned(), changes.clone());
        assert_eq!(body["description"], "new");
        assert_eq!(body["active"], true);
        assert_eq!(body["delegation_source"], "https://www.altinn.no");
        assert_eq!(body["requires_user_consent"], true, "unknown fields kept");
        assert_eq!(body["descriptions"]["nb"], "Ordre");
        assert!(body.get("created").is_none() && body.get("last_updated").is_none());
        assert_eq!(scope_update_body(None, changes.clone()), changes);
    }

    #[test]
    fn jwks_keeps_the_server_exp_apart_from_the_key() {
        let jwks: Jwks = serde_json::from_value(serde_json::json!({
            "keys": [{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB","exp":1900000000,"created":"x"}],
            "created": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        let keys = jwks.to_states();
        let key = &keys["k1"];
        assert_eq!(key.exp, Some(1_900_000_000));
        assert!(!key.jwk.contains_key("exp") && !key.jwk.contains_key("created"));
        let body = serde_json::to_value(Jwks::from_keys(std::slice::from_ref(key))).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"AQAB","e":"AQAB"}]})
        );
    }

    #[test]
    fn error_message_surfaces_json_or_plain_text() {
        assert_eq!(
            error_message(
                r#"{"error":"invalid_grant","error_description":"expired (correlation id: 1)"}"#
            ),
            "invalid_grant: expired (correlation id: 1)"
        );
        assert_eq!(
            error_message(r#"{"status":409,"error":"Conflict","message":"Scope exists"}"#),
            "Conflict: Scope exists"
        );
        assert_eq!(
            error_message("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(error_message(""), "(no message in the response)");
        assert!(error_message(&"x".repeat(5000)).chars().count() <= 1001);
    }

    #[test]
    fn token_response_debug_hides_the_token() {
        let token = TokenResponse {
            access_token: Secret::new("eyJsecret".into()),
            ..Default::default()
        };
        assert!(!format!("{token:?}").contains("eyJsecret"));
    }
}
