//! Test support for the API client: RSA keys and certificates made on the spot, and a tiny
//! scripted HTTP/1.1 server that records every request exactly as it arrived on the wire and
//! answers with scripted statuses, `Retry-After` headers or a dropped connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use mpctl::api::HttpClient;
use mpctl::api::connect::{Access, ConnectOptions, build_client};
use mpctl::api::credentials::Credentials;
use mpctl::api::endpoints::Endpoints;
use mpctl::api::retry::RetryPolicy;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The organisation the fake token endpoint issues tokens for.
pub const ORG: &str = "910753282";
/// A marker inside every issued access token, to look for in logs.
pub const TOKEN_SECRET: &str = "SECRETSIGNATUREdonotlog";

/// The public half of [`private_key_pem`] as a key to register on a client, under `kid`.
pub fn client_key(kid: &str) -> mpctl::state::KeyState {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem()).unwrap();
    let b64 =
        |n: &rsa::BigUint| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_bytes_be());
    let jwk = serde_json::json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(key.n()), "e": b64(key.e())});
    mpctl::state::KeyState {
        kid: kid.into(),
        jwk: serde_json::from_value(jwk).unwrap(),
        exp: None,
        cert_not_after: None,
        source: None,
        retire_after: None,
    }
}

/// One RSA key per test binary (generation is slow), as PKCS#8 PEM.
pub fn private_key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("key generation");
        key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string()
    })
}

/// A CA named `ca_name` and a leaf certificate for [`private_key_pem`] signed by it (DER).
pub fn certificate_chain(ca_name: &str, org: &str) -> (Vec<u8>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let leaf_key =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(private_key_pem(), &rcgen::PKCS_RSA_SHA256)
            .expect("leaf key");
    let mut leaf_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ACME AS");
    leaf_params.distinguished_name.push(
        rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]),
        rcgen::DnValue::PrintableString(org.try_into().expect("printable")),
    );
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("leaf");
    (leaf.der().to_vec(), ca_cert.der().to_vec())
}

/// A PKCS#12 keystore with [`private_key_pem`] and the chain, under `password`.
pub fn keystore(chain: &[Vec<u8>], password: &str) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem()).expect("key");
    let der = key.to_pkcs8_der().expect("der");
    let certs = chain
        .iter()
        .map(|c| p12_keystore::Certificate::from_der(c).expect("cert"));
    let entry = p12_keystore::PrivateKeyChain::new(der.as_bytes(), [1u8, 2, 3], certs);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("key", p12_keystore::KeyStoreEntry::PrivateKeyChain(entry));
    store.writer(password).write().expect("p12")
}

/// Credentials with [`private_key_pem`] and `kid`.
pub fn kid_credentials(kid: &str) -> Credentials {
    Credentials::from_private_key(
        "admin-client".into(),
        private_key_pem(),
        Some(kid),
        "test key",
        "MPCTL_TEST_KEY_ID",
    )
    .expect("credentials")
}

/// A fake access token for `org` (not signed: the client only reads it).
pub fn fake_token(org: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        b64(r#"{"alg":"RS256"}"#),
        b64(&format!(
            r#"{{"consumer":{{"authority":"iso6523-actorid-upis","ID":"0192:{org}"}},"scope":"x"}}"#
        )),
        TOKEN_SECRET
    )
}

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The request target exactly as sent: path and raw query.
    pub target: String,
    pub body: String,
    pub authorization: Option<String>,
}

impl Recorded {
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// What the server does with the next API request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this status, extra headers and body.
    Status(u16, Vec<(String, String)>, String),
    /// Read the request, then close the connection without answering.
    Drop,
    /// Read the request, then wait this long before answering `200 []`.
    Stall(std::time::Duration),
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::Status(status, Vec::new(), body.to_string())
    }
}

/// A scripted server: `/token` answers with a token for its organisation; every other request
/// takes the next scripted reply, or `200 []` when the script is empty.
pub struct FakeServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    token_org: Arc<Mutex<String>>,
    token_replies: Arc<Mutex<VecDeque<Reply>>>,
}

impl FakeServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = Self {
            addr,
            requests: Arc::default(),
            script: Arc::default(),
            token_org: Arc::new(Mutex::new(ORG.to_owned())),
            token_replies: Arc::default(),
        };
        let requests = server.requests.clone();
        let script = server.script.clone();
        let token_org = server.token_org.clone();
        let token_replies = server.token_replies.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let requests = requests.clone();
                let script = script.clone();
                let token_org = token_org.clone();
                let token_replies = token_replies.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, requests, script, token_org, token_replies).await;
                });
            }
        });
        server
    }

    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    pub fn push_token_reply(&self, reply: Reply) {
        self.token_replies.lock().unwrap().push_back(reply);
    }

    pub fn set_token_org(&self, org: &str) {
        *self.token_org.lock().unwrap() = org.to_owned();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn api_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target != "/token")
            .collect()
    }

    pub fn token_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == "/token")
            .collect()
    }

    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            api_url: format!("http://{}/api/v1", self.addr),
            token_url: format!("http://{}/token", self.addr),
            audience: format!("http://{}/", self.addr),
            digdir: None,
        }
    }

    pub fn options(&self, access: Access) -> ConnectOptions {
        ConnectOptions {
            env: "test-env".into(),
            endpoints: self.endpoints(),
            access,
            concurrency: 4,
            retry: fast_retry(),
            organization: Some(mpctl::manifest::orgno::OrgNo::new_unchecked(ORG)),
            clock: None,
        }
    }

    pub fn client(&self, access: Access) -> HttpClient {
        build_client(&self.options(access), kid_credentials("kid-1")).expect("client")
    }
}

/// Retries with millisecond waits, so tests stay fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    token_org: Arc<Mutex<String>>,
    token_replies: Arc<Mutex<VecDeque<Reply>>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut authorization = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                content_length = value.trim().parse().unwrap_or(0);
            } else if name == "authorization" {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    while buffer.len() < header_end + content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[header_end..]).to_string();
    requests.lock().unwrap().push(Recorded {
        method,
        target: target.clone(),
        body,
        authorization,
    });
    let reply = if target == "/token" {
        let scripted = token_replies.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| {
            let org = token_org.lock().unwrap().clone();
            Reply::json(
                200,
                serde_json::json!({"access_token": fake_token(&org), "token_type": "Bearer", "expires_in": 120, "scope": "x"}),
            )
        })
    } else {
        let scripted = script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| Reply::Status(200, Vec::new(), "[]".into()))
    };
    let reply = match reply {
        Reply::Stall(wait) => {
            tokio::time::sleep(wait).await;
            Reply::Status(200, Vec::new(), "[]".into())
        }
        other => other,
    };
    match reply {
        Reply::Stall(_) => Ok(()),
        Reply::Drop => {
            drop(stream);
            Ok(())
        }
        Reply::Status(status, headers, body) => {
            let mut response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        }
    }
}
