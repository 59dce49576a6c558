//! Requests per second the emulator serves on loopback: simple authenticated reads, and
//! durable writes (each fsynced before its answer) against a persistent state.
//!
//! Run: `cargo bench --bench emulator_throughput` (add `--profile dev` for a quick check).
//! Options through the environment: `BENCH_SECONDS` (default 3), `CONCURRENCY` (default 32).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mpctl::emulator::{Emulator, EmulatorConfig};
use mpctl::manifest::orgno::OrgNo;
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn token(emu: &Emulator, http: &reqwest::Client, org: &OrgNo) -> Result<String, String> {
    let admin = emu
        .bootstrap_org(org, &["bench".into()])
        .await
        .map_err(|e| e.to_string())?;
    let now = emu.clock().now_unix();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(admin.kid.clone());
    let claims = json!({
        "iss": admin.client_id, "aud": emu.issuer(), "iat": now, "exp": now + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
        "scope": "idporten:scopes.read idporten:scopes.write idporten:dcr.read",
    });
    let key = EncodingKey::from_rsa_pem(admin.private_key_pem.expose().as_bytes())
        .map_err(|e| e.to_string())?;
    let assertion = jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())?;
    let body: serde_json::Value = http
        .post(emu.token_url())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token: {body}"))
}

/// Runs `concurrency` loops of `request` for `seconds`; returns successful requests per second.
async fn measure<F, Fut>(seconds: u64, concurrency: u64, request: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (request, done, counter) = (request.clone(), done.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if request(n).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let seconds = env_u64("BENCH_SECONDS", 3);
    let concurrency = env_u64("CONCURRENCY", 32);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = EmulatorConfig {
        state_file: Some(dir.path().join("state.json")),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(config).await.map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .map_err(|e| e.to_string())?;
    let org = OrgNo::parse("974760673").map_err(|e| e.to_string())?;
    let token = Arc::new(token(&emu, &http, &org).await?);
    let api = Arc::new(emu.api_url());

    let (h, t, a) = (http.clone(), token.clone(), api.clone());
    let writes = measure(seconds, concurrency, move |n| {
        let (h, t, a) = (h.clone(), t.clone(), a.clone());
        async move {
            h.post(format!("{a}/scopes"))
                .bearer_auth(t.as_str())
                .json(&json!({"prefix": "bench", "subscope": format!("s{n}"), "description": "bench"}))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    })
    .await;
    println!("durable writes (POST /scopes, fsync each): {writes:.0} req/s");

    let (h, t, a) = (http.clone(), token.clone(), api.clone());
    let reads = measure(seconds, concurrency, move |_| {
        let (h, t, a) = (h.clone(), t.clone(), a.clone());
        async move {
            h.get(format!("{a}/scopes?scope=bench%3As1"))
                .bearer_auth(t.as_str())
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    println!("simple reads (GET /scopes?scope=…): {reads:.0} req/s");

    let (h, base) = (http.clone(), Arc::new(emu.issuer()));
    let unauthenticated = measure(seconds, concurrency, move |_| {
        let (h, base) = (h.clone(), base.clone());
        async move {
            h.get(format!("{base}jwk"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    println!("unauthenticated reads (GET /jwk): {unauthenticated:.0} req/s");
    emu.shutdown().await.map_err(|e| e.to_string())
}
