//! Helpers shared by the emulator's integration tests: signing grant assertions, getting
//! tokens over HTTP, calling the API with reqwest ([`Env`], three organisations), and, for
//! those async tests, running the binary against such an emulator ([`run_mpctl`] with
//! [`environment_yaml`] and [`admin_vars`]).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mpctl::emulator::{AdminIdentity, Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const ORG_A: &str = "974760673";
pub const ORG_B: &str = "991825827";
pub const ORG_C: &str = "889640782";

pub const ADMIN_SCOPES: &str = "idporten:scopes.read idporten:scopes.write idporten:dcr.read idporten:dcr.write idporten:dcr.modify";

pub fn org(n: &str) -> OrgNo {
    OrgNo::parse(n).unwrap()
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// How an assertion identifies its key.
pub enum KeyRef<'a> {
    Kid(&'a str),
    X5c(&'a [String]),
}

/// Claims of a grant assertion, with defaults a test can change.
pub struct Assertion {
    pub iss: String,
    pub aud: Value,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

impl Assertion {
    pub fn new(iss: &str, aud: &str, scope: &str, at: i64) -> Self {
        Self {
            iss: iss.into(),
            aud: aud.into(),
            scope: scope.into(),
            iat: at,
            exp: at + 60,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub fn sign(&self, key: KeyRef<'_>, private_key_pem: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        match key {
            KeyRef::Kid(kid) => header.kid = Some(kid.into()),
            KeyRef::X5c(chain) => header.x5c = Some(chain.to_vec()),
        }
        let claims = json!({
            "iss": self.iss, "aud": self.aud, "scope": self.scope,
            "iat": self.iat, "exp": self.exp, "jti": self.jti,
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

/// Posts an assertion to the token endpoint.
pub async fn post_token(
    http: &reqwest::Client,
    token_url: &str,
    assertion: &str,
) -> (StatusCode, Value) {
    let response = http
        .post(token_url)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An emulator with organisations A (prefix `acme`), B (prefix `beta`) and C (no prefix),
/// and an access token per organisation.
pub struct Env {
    pub emu: Emulator,
    pub http: reqwest::Client,
    pub admins: Vec<AdminIdentity>,
    pub tokens: Vec<String>,
}

pub async fn admin_token(
    emu: &Emulator,
    http: &reqwest::Client,
    admin: &AdminIdentity,
    scope: &str,
) -> String {
    let at = emu.clock().now_unix();
    let assertion = Assertion::new(&admin.client_id, &emu.issuer(), scope, at)
        .sign(KeyRef::Kid(&admin.kid), admin.private_key_pem.expose());
    let (status, body) = post_token(http, &emu.token_url(), &assertion).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

impl Env {
    pub async fn start() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    pub async fn with(config: EmulatorConfig) -> Self {
        let emu = Emulator::start(config).await.unwrap();
        let http = reqwest::Client::new();
        let mut admins = Vec::new();
        let mut tokens = Vec::new();
        for (n, prefixes) in [
            (ORG_A, vec!["acme".to_owned()]),
            (ORG_B, vec!["beta".to_owned()]),
            (ORG_C, vec![]),
        ] {
            let admin = emu.bootstrap_org(&org(n), &prefixes).await.unwrap();
            tokens.push(admin_token(&emu, &http, &admin, ADMIN_SCOPES).await);
            admins.push(admin);
        }
        Self {
            emu,
            http,
            admins,
            tokens,
        }
    }

    /// The JSON answer to a GET of `url` without a token (metadata, JWKS, diagnostics).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> T {
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.emu.api_url(), path)
    }

    /// Calls the API as organisation `who` (0 = A, 1 = B, 2 = C).
    pub async fn call(
        &self,
        who: usize,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(Some(&self.tokens[who]), method, path, body)
            .await
    }

    pub async fn call_with(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create_scope(&self, who: usize, prefix: &str, subscope: &str) -> Value {
        let (status, body) = self
            .call(
                who,
                Method::POST,
                "/scopes",
                Some(json!({"prefix": prefix, "subscope": subscope, "description": "test scope"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn grant(&self, who: usize, scope: &str, consumer: &str) -> (StatusCode, Value) {
        self.call(
            who,
            Method::PUT,
            &format!("/scopes/access/{consumer}?scope={}", enc(scope)),
            None,
        )
        .await
    }

    /// The grants of `scope` as organisation `who` lists them.
    pub async fn grants_of(&self, who: usize, scope: &str) -> (StatusCode, Value) {
        self.call(
            who,
            Method::GET,
            &format!("/scopes/access?scope={}", enc(scope)),
            None,
        )
        .await
    }

    /// The scopes granted to organisation `who`, with those accessible for all.
    pub async fn accessible(&self, who: usize) -> (StatusCode, Value) {
        self.call(
            who,
            Method::GET,
            "/scopes/access/all?accessible_for_all=true",
            None,
        )
        .await
    }

    pub async fn create_client(&self, who: usize, scopes: &[&str]) -> (StatusCode, Value) {
        self.call(
            who,
            Method::POST,
            "/clients",
            Some(json!({
                "client_name": "order-sync", "description": "Nightly order sync",
                "integration_type": "maskinporten", "application_type": "web",
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["urn:ietf:params:oauth:grant-type:jwt-bearer"],
                "scopes": scopes,
            })),
        )
        .await
    }
}

/// Options to connect the API client to `emu` as environment `emu` on behalf of `org`, with
/// write access and short retries.
pub fn connect_options(emu: &Emulator, org: &OrgNo) -> mpctl::api::connect::ConnectOptions {
    use mpctl::api::retry::RetryPolicy;
    use std::time::Duration;
    mpctl::api::connect::ConnectOptions {
        env: "emu".into(),
        endpoints: mpctl::api::endpoints::Endpoints {
            api_url: emu.api_url(),
            token_url: emu.token_url(),
            audience: emu.issuer(),
            digdir: None,
        },
        access: mpctl::api::Access::Write,
        concurrency: 4,
        retry: RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        organization: Some(org.clone()),
        clock: None,
    }
}

/// URL-encodes a query value.
pub fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// An RSA-2048 key shared by the tests of this process (key generation is slow), under a
/// new `kid`: (private PEM, public JWK with `kid`, `alg`, `use`).
pub fn new_key(kid: &str) -> (String, Value) {
    static SHARED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let pem = SHARED.get_or_init(|| mpctl::emulator::ca::generate_rsa_pem().unwrap());
    key_with_kid(pem.clone(), kid)
}

/// A freshly generated RSA-2048 key.
pub fn fresh_key(kid: &str) -> (String, Value) {
    key_with_kid(mpctl::emulator::ca::generate_rsa_pem().unwrap(), kid)
}

fn key_with_kid(pem: String, kid: &str) -> (String, Value) {
    let mut jwk = mpctl::emulator::token::public_jwk(&pem).unwrap();
    jwk.insert("kid".into(), kid.into());
    jwk.insert("alg".into(), "RS256".into());
    jwk.insert("use".into(), "sig".into());
    (pem, Value::Object(jwk))
}

/// Runs the binary ([`super::mpctl_in`]) in `dir` with extra environment variables, off the
/// async runtime so that an in-process emulator keeps serving.
pub async fn run_mpctl(
    dir: &std::path::Path,
    args: &[&str],
    vars: &[(String, String)],
) -> std::process::Output {
    let mut cmd = super::mpctl_in(dir, args);
    cmd.envs(vars.iter().map(|(name, value)| (name, value)));
    super::output_off_runtime(cmd).await
}

/// An environment of a manifest pointing at `emu` (all three URLs).
pub fn environment_yaml(name: &str, emu: &Emulator) -> String {
    format!(
        "  {name}:\n    api_url: {}\n    token_url: {}\n    audience: {}\n",
        emu.api_url(),
        emu.token_url(),
        emu.issuer()
    )
}

/// The `MPCTL_<ENV>_*` variables of `admin`, with its key written into `dir`.
pub fn admin_vars(
    env: &str,
    admin: &AdminIdentity,
    dir: &std::path::Path,
) -> Vec<(String, String)> {
    let key_file = dir.join(format!("{env}-admin-{}.pem", admin.client_id));
    std::fs::write(&key_file, admin.private_key_pem.expose()).unwrap();
    let prefix = env.to_uppercase().replace('-', "_");
    vec![
        (format!("MPCTL_{prefix}_CLIENT_ID"), admin.client_id.clone()),
        (
            format!("MPCTL_{prefix}_KEY_FILE"),
            key_file.display().to_string(),
        ),
        (format!("MPCTL_{prefix}_KEY_ID"), admin.kid.clone()),
    ]
}
