//! A generator of large, valid manifests for benchmarks and fault runs: `scopes` scopes under one
//! prefix, `grants` grants spread evenly over them (consumers drawn from a pool of valid
//! organisation numbers, the organisation itself among them so that its clients may use the
//! scopes), `clients` clients each with one to three of those scopes and one or two public keys
//! (JWK files), and `environments` environments that all hold every resource (a few scope
//! descriptions are overridden per environment, which changes no count).
//!
//! The same [`Spec`] (seed included) always gives the same bytes, so figures are comparable
//! from run to run. Keys are random 2048-bit RSA moduli: they have the shape of RSA public keys
//! (which is all the loader, the API and the emulator check) without the cost of generating
//! real key pairs, and no private key exists for them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};

use crate::manifest::orgno::OrgNo;

/// The organisation every generated manifest acts for.
pub const ORGANIZATION: &str = "910753282";

/// The scope prefix registered to [`ORGANIZATION`] in generated manifests.
pub const PREFIX: &str = "bench";

/// How large a manifest to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub scopes: usize,
    /// Grants in all, per environment (each scope gets `grants / scopes`, the first ones one
    /// more for the remainder; at most the consumer pool's size per scope).
    pub grants: usize,
    pub clients: usize,
    pub environments: usize,
    /// Give the organisation and every tenth client contacts (served by the emulator's contacts
    /// extension).
    pub contacts: bool,
    pub seed: u64,
}

impl Spec {
    /// The size the performance targets are stated for: 1,000 scopes, 10,000 grants, 500
    /// clients, 2 environments.
    pub const TARGET: Spec = Spec {
        scopes: 1000,
        grants: 10_000,
        clients: 500,
        environments: 2,
        contacts: true,
        seed: 1,
    };

    /// This spec with every count divided by `divisor` (at least one of each).
    pub fn scaled_down(&self, divisor: usize) -> Spec {
        let d = divisor.max(1);
        Spec {
            scopes: (self.scopes / d).max(1),
            grants: (self.grants / d).max(1),
            clients: (self.clients / d).max(1),
            ..*self
        }
    }

    /// The names of the generated environments.
    pub fn environment_names(&self) -> Vec<String> {
        (0..self.environments.max(1))
            .map(|i| format!("bench-{}", (b'a' + (i % 26) as u8) as char))
            .collect()
    }
}

/// What the generator decided, as plain data: the reference the soak checks the emulator's
/// state against and the benchmark computes the API minimum from, independently of the manifest
/// loader, the client and the diff that mpctl runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub orgno: String,
    pub prefix: String,
    pub environments: Vec<String>,
    /// The provider's contacts (`None`: the manifest gives none).
    pub contacts: Option<GeneratedContacts>,
    pub scopes: Vec<GeneratedScope>,
    pub clients: Vec<GeneratedClient>,
}

/// Notification addresses and, for the provider, invoice data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedContacts {
    pub notifications: Vec<String>,
    /// (e-mail, reference).
    pub invoice: Option<(String, String)>,
}

/// A generated scope, in every environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedScope {
    pub name: String,
    pub description: String,
    /// (environment, description there) when one environment overrides it.
    pub description_override: Option<(String, String)>,
    /// `PRIVATE` or `PUBLIC` (`PUBLIC` is the API's default; the manifest then omits it).
    pub visibility: &'static str,
    /// Consumer organisations, the organisation itself included when its clients use the scope.
    pub grants: Vec<String>,
}

impl GeneratedScope {
    /// The description in `env`.
    pub fn description_in(&self, env: &str) -> &str {
        match &self.description_override {
            Some((e, d)) if e == env => d,
            _ => &self.description,
        }
    }
}

/// A generated client, in every environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedClient {
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub keys: Vec<GeneratedKey>,
    pub contacts: Option<GeneratedContacts>,
}

/// A public RSA key as registered: `kid`, modulus and exponent (base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub kid: String,
    pub n: String,
    pub e: String,
    /// The key file, relative to the manifest.
    pub path: String,
}

impl GeneratedKey {
    fn jwk(&self) -> String {
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": self.n,
            "e": self.e,
        })
        .to_string()
    }
}

impl Organisation {
    /// Grants in all (per environment).
    pub fn grant_count(&self) -> usize {
        self.scopes.iter().map(|s| s.grants.len()).sum()
    }

    /// Clients with contacts of their own.
    pub fn clients_with_contacts(&self) -> usize {
        self.clients.iter().filter(|c| c.contacts.is_some()).count()
    }
}

/// A generated manifest: its text and the key files it names, relative to its directory.
#[derive(Debug, Clone)]
pub struct Generated {
    pub spec: Spec,
    /// What the manifest says, as data.
    pub organisation: Organisation,
    /// `mpctl.yaml`.
    pub manifest_yaml: String,
    /// (path relative to the manifest, file content) of every public key file.
    pub key_files: Vec<(String, String)>,
}

impl Generated {
    /// Writes the manifest (`mpctl.yaml`) and its key files into `dir`; returns the manifest's
    /// path.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir.join("keys"))?;
        for (path, content) in &self.key_files {
            std::fs::write(dir.join(path), content)?;
        }
        let manifest = dir.join("mpctl.yaml");
        std::fs::write(&manifest, &self.manifest_yaml)?;
        Ok(manifest)
    }

    /// Keys in all (per environment).
    pub fn key_count(&self) -> usize {
        self.key_files.len()
    }
}

/// Generates the manifest `spec` describes.
pub fn generate(spec: &Spec) -> Generated {
    let organisation = organisation(spec);
    let manifest_yaml = render(spec, &organisation);
    let key_files = organisation
        .clients
        .iter()
        .flat_map(|c| &c.keys)
        .map(|k| (k.path.clone(), k.jwk()))
        .collect();
    Generated {
        spec: *spec,
        organisation,
        manifest_yaml,
        key_files,
    }
}

/// Decides every scope, grant, client, key and contact of `spec`'s organisation.
fn organisation(spec: &Spec) -> Organisation {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let consumers = consumer_pool(&mut rng, 256);
    let scope_count = spec.scopes.max(1);
    let per_scope = spec.grants / scope_count;
    let remainder = spec.grants % scope_count;
    let envs = spec.environment_names();

    // Scopes the organisation itself is granted: its clients choose from these.
    let mut own_scopes = Vec::new();
    let mut scopes = Vec::with_capacity(spec.scopes);
    for i in 0..spec.scopes {
        let name = scope_name(i);
        let count = (per_scope + usize::from(i < remainder)).min(consumers.len() + 1);
        let own = i % 4 == 0 && count > 0;
        let mut grants: Vec<String> = Vec::with_capacity(count);
        if own {
            grants.push(ORGANIZATION.to_owned());
            own_scopes.push(name.clone());
        }
        let others: Vec<&OrgNo> = consumers
            .choose_multiple(&mut rng, count - grants.len())
            .collect();
        grants.extend(others.iter().map(|o| o.as_str().to_owned()));
        let description_override = match envs.last() {
            Some(last) if i % 20 == 0 && envs.len() > 1 => {
                Some((last.clone(), format!("Benchmark scope {i} ({last})")))
            }
            _ => None,
        };
        scopes.push(GeneratedScope {
            name,
            description: format!("Benchmark scope {i}"),
            description_override,
            visibility: if i % 7 == 0 { "PRIVATE" } else { "PUBLIC" },
            grants,
        });
    }

    let mut clients = Vec::with_capacity(spec.clients);
    for c in 0..spec.clients {
        let scopes = if own_scopes.is_empty() {
            Vec::new()
        } else {
            own_scopes
                .choose_multiple(&mut rng, 1 + c % 3)
                .cloned()
                .collect()
        };
        let keys = (0..if c % 5 == 0 { 2 } else { 1 })
            .map(|k| {
                let (n, e) = random_rsa_public(&mut rng);
                GeneratedKey {
                    kid: format!("bench-{c:04}-{k}"),
                    n,
                    e,
                    path: format!("keys/client-{c:04}-{k}.jwk.json"),
                }
            })
            .collect();
        let contacts = (spec.contacts && c % 10 == 0).then(|| GeneratedContacts {
            notifications: vec![format!("client-{c:04}@bench.example.no")],
            invoice: None,
        });
        clients.push(GeneratedClient {
            name: format!("client-{c:04}"),
            description: format!("Benchmark client {c}"),
            scopes,
            keys,
            contacts,
        });
    }

    Organisation {
        orgno: ORGANIZATION.to_owned(),
        prefix: PREFIX.to_owned(),
        contacts: spec.contacts.then(|| GeneratedContacts {
            notifications: vec!["drift@bench.example.no".into()],
            invoice: Some(("faktura@bench.example.no".into(), "PO-1".into())),
        }),
        environments: envs,
        scopes,
        clients,
    }
}

/// The manifest of `org`.
fn render(spec: &Spec, org: &Organisation) -> String {
    let mut y = String::with_capacity(64 * spec.grants + 256 * (spec.scopes + spec.clients));
    let _ = writeln!(
        y,
        "# Generated by `mpctl bench` (seed {}): {} scopes, {} grants, {} clients, {} environments.",
        spec.seed, spec.scopes, spec.grants, spec.clients, spec.environments
    );
    let _ = writeln!(
        y,
        "version: 1\norganization: \"{}\"\nprefixes: [{}]",
        org.orgno, org.prefix
    );
    y.push_str("environments:\n");
    for env in &org.environments {
        // Endpoints of `mpctl emulator serve` on its default address; the benchmark replaces
        // them with its own emulator's.
        let _ = writeln!(
            y,
            "  {env}:\n    api_url: http://127.0.0.1:8480/api/v1\n    token_url: http://127.0.0.1:8480/token\n    audience: http://127.0.0.1:8480/"
        );
    }
    if let Some(contacts) = &org.contacts {
        let _ = writeln!(
            y,
            "contacts:\n  notifications: [{}]",
            contacts.notifications.join(", ")
        );
        if let Some((email, reference)) = &contacts.invoice {
            let _ = writeln!(y, "  invoice: {{ email: {email}, reference: {reference} }}");
        }
    }

    y.push_str("scopes:\n");
    for scope in &org.scopes {
        let _ = writeln!(
            y,
            "  - name: {}\n    description: {}",
            scope.name, scope.description
        );
        if scope.visibility == "PRIVATE" {
            y.push_str("    visibility: PRIVATE\n");
        }
        if !scope.grants.is_empty() {
            y.push_str("    grants: [");
            for (k, g) in scope.grants.iter().enumerate() {
                if k > 0 {
                    y.push_str(", ");
                }
                let _ = write!(y, "\"{g}\"");
            }
            y.push_str("]\n");
        }
        if let Some((env, description)) = &scope.description_override {
            let _ = writeln!(
                y,
                "    overrides:\n      {env}:\n        description: {description}"
            );
        }
    }

    if !org.clients.is_empty() {
        y.push_str("clients:\n");
    }
    for client in &org.clients {
        let _ = writeln!(
            y,
            "  - name: {}\n    description: {}",
            client.name, client.description
        );
        if !client.scopes.is_empty() {
            let _ = writeln!(y, "    scopes: [{}]", client.scopes.join(", "));
        }
        y.push_str("    keys:\n");
        for key in &client.keys {
            let _ = writeln!(y, "      - {}", key.path);
        }
        if let Some(contacts) = &client.contacts {
            let _ = writeln!(
                y,
                "    contacts: {{ notifications: [{}] }}",
                contacts.notifications.join(", ")
            );
        }
    }
    y
}

/// The name of the `i`-th generated scope.
pub fn scope_name(i: usize) -> String {
    format!("{PREFIX}:api{:02}/resource{i:04}.read", i / 100)
}

/// `count` distinct valid organisation numbers, none of them [`ORGANIZATION`].
fn consumer_pool(rng: &mut StdRng, count: usize) -> Vec<OrgNo> {
    let mut pool: Vec<OrgNo> = Vec::with_capacity(count);
    while pool.len() < count {
        let base: u32 = rng.gen_range(80_000_000..100_000_000);
        let digits = base.to_string();
        for check in 0..10 {
            let candidate = format!("{digits}{check}");
            if candidate != ORGANIZATION
                && let Ok(org) = OrgNo::parse(&candidate)
                && !pool.contains(&org)
            {
                pool.push(org);
                break;
            }
        }
    }
    pool
}

/// A random 2048-bit modulus (odd, top bit set) and `e` = 65537, base64url.
fn random_rsa_public(rng: &mut StdRng) -> (String, String) {
    let mut n = [0u8; 256];
    rng.fill(&mut n[..]);
    n[0] |= 0x80;
    n[255] |= 1;
    (URL_SAFE_NO_PAD.encode(n), "AQAB".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Spec {
        Spec {
            scopes: 40,
            grants: 130,
            clients: 12,
            environments: 2,
            contacts: true,
            seed: 7,
        }
    }

    #[test]
    fn generated_manifest_is_valid_and_has_the_asked_counts_in_every_environment() {
        let generated = generate(&small());
        let dir = tempfile::tempdir().unwrap();
        let path = generated.write_to(dir.path()).unwrap();
        let loaded = match crate::manifest::load::load_at(&[path], 1_795_564_800) {
            Ok((loaded, _)) => loaded,
            Err(d) => panic!("{:?}", d.iter().map(|d| &d.message).collect::<Vec<_>>()),
        };
        let envs = loaded.manifest.environment_names();
        assert_eq!(envs, ["bench-a", "bench-b"]);
        for env in envs {
            let state = crate::state::resolve::resolve(&loaded, &env, 1_795_564_800);
            assert_eq!(state.scopes.len(), 40);
            let grants: usize = state.scopes.values().map(|s| s.grants.len()).sum();
            assert_eq!(grants, 130);
            assert_eq!(state.clients.len(), 12);
            let keys: usize = state.clients.values().map(|c| c.keys.len()).sum();
            assert_eq!(keys, generated.key_count());
            assert!(state.clients.values().all(|c| !c.scopes.is_empty()));
        }
    }

    #[test]
    fn the_same_spec_gives_the_same_bytes_and_another_seed_does_not() {
        let a = generate(&small());
        let b = generate(&small());
        assert_eq!(a.manifest_yaml, b.manifest_yaml);
        assert_eq!(a.key_files, b.key_files);
        let c = generate(&Spec { seed: 8, ..small() });
        assert_ne!(a.manifest_yaml, c.manifest_yaml);
    }

    #[test]
    fn scaling_down_keeps_at_least_one_of_each() {
        let s = Spec::TARGET.scaled_down(10);
        assert_eq!((s.scopes, s.grants, s.clients), (100, 1000, 50));
        let tiny = Spec::TARGET.scaled_down(100_000);
        assert_eq!((tiny.scopes, tiny.grants, tiny.clients), (1, 1, 1));
    }
}
