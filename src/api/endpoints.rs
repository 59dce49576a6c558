//! Where an environment's API and token endpoint are: Digdir's presets for `test` and `prod`,
//! the embedded emulator for `local`, and any of the three URLs overridden in the manifest.

use crate::manifest::model::{Environment, Preset};

/// The URLs one environment is reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base URL of the self-service API, without a trailing slash (e.g. `…/api/v1`).
    pub api_url: String,
    /// Maskinporten's token endpoint.
    pub token_url: String,
    /// The `aud` of the JWT grant: the token service's issuer.
    pub audience: String,
    /// Which of Digdir's environments these URLs belong to, judged by the audience; `None` for
    /// anything else (an emulator, a proxy). Used to catch a test key used against prod.
    pub digdir: Option<DigdirEnv>,
}

/// Digdir's two environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigdirEnv {
    Test,
    Prod,
}

impl DigdirEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            DigdirEnv::Test => "test",
            DigdirEnv::Prod => "prod",
        }
    }
}

/// Digdir's test environment.
pub const TEST: (&str, &str, &str) = (
    "https://api.test.samarbeid.digdir.no/api/v1",
    "https://test.maskinporten.no/token",
    "https://test.maskinporten.no/",
);
/// Digdir's production environment.
pub const PROD: (&str, &str, &str) = (
    "https://api.samarbeid.digdir.no/api/v1",
    "https://maskinporten.no/token",
    "https://maskinporten.no/",
);

/// The authorisation-server metadata of Digdir's test environment.
pub const TEST_METADATA: &str =
    "https://test.maskinporten.no/.well-known/oauth-authorization-server";
/// The authorisation-server metadata of Digdir's production environment.
pub const PROD_METADATA: &str = "https://maskinporten.no/.well-known/oauth-authorization-server";

/// How to reach an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP API with these endpoints (credentials needed).
    Remote(Endpoints),
    /// The embedded emulator, started in-process (no credentials needed).
    Local,
}

/// Why an environment's endpoints cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error(
    "environment `{env}` has no {missing}: it is not `test`, `prod` or `local`, so it needs `preset:`, or `api_url` with `metadata_url` or with both `token_url` and `audience`"
)]
#[diagnostic(
    code(mpctl::endpoints::missing),
    help(
        "set them under `environments.{env}` in the manifest (`preset: test` starts from Digdir's test endpoints); `mpctl import` reads them from the manifest given with --manifest"
    )
)]
pub struct EndpointError {
    pub env: String,
    pub missing: &'static str,
}

/// The preset an environment starts from: its own `preset`, else its name when that is
/// `test`, `prod` or `local`.
pub fn preset_of(env_name: &str, env: &Environment) -> Option<Preset> {
    env.preset.or(match env_name {
        "test" => Some(Preset::Test),
        "prod" => Some(Preset::Prod),
        "local" => Some(Preset::Local),
        _ => None,
    })
}

/// Works out how to reach `env_name`. `local` without URL overrides is the embedded emulator;
/// with overrides (e.g. an emulator served by `mpctl emulator serve`) it is a remote like any.
pub fn resolve(env_name: &str, env: &Environment) -> Result<Target, EndpointError> {
    let preset = preset_of(env_name, env);
    let overridden = env.api_url.is_some()
        || env.token_url.is_some()
        || env.audience.is_some()
        || env.metadata_url.is_some();
    let base = match preset {
        Some(Preset::Local) if !overridden => return Ok(Target::Local),
        Some(Preset::Test) => Some(TEST),
        Some(Preset::Prod) => Some(PROD),
        Some(Preset::Local) | None => None,
    };
    let pick = |over: &Option<String>, preset: Option<&str>, missing: &'static str| {
        over.clone()
            .or_else(|| preset.map(str::to_owned))
            .ok_or_else(|| EndpointError {
                env: env_name.to_owned(),
                missing,
            })
    };
    let api_url = pick(&env.api_url, base.map(|b| b.0), "`api_url`")?;
    let token_url = pick(&env.token_url, base.map(|b| b.1), "`token_url`")?;
    let audience = pick(&env.audience, base.map(|b| b.2), "`audience`")?;
    Ok(Target::Remote(Endpoints {
        api_url: api_url.trim_end_matches('/').to_owned(),
        token_url,
        digdir: digdir_env_of(&audience),
        audience,
    }))
}

/// Which Digdir environment an audience belongs to (trailing slash optional).
pub fn digdir_env_of(audience: &str) -> Option<DigdirEnv> {
    let a = audience.trim_end_matches('/');
    if a == TEST.2.trim_end_matches('/') {
        Some(DigdirEnv::Test)
    } else if a == PROD.2.trim_end_matches('/') {
        Some(DigdirEnv::Prod)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_the_environment_name() {
        let Target::Remote(test) = resolve("test", &Environment::default()).unwrap() else {
            panic!("test is remote")
        };
        assert_eq!(test.api_url, "https://api.test.samarbeid.digdir.no/api/v1");
        assert_eq!(test.token_url, "https://test.maskinporten.no/token");
        assert_eq!(test.audience, "https://test.maskinporten.no/");
        assert_eq!(test.digdir, Some(DigdirEnv::Test));
        let Target::Remote(prod) = resolve("prod", &Environment::default()).unwrap() else {
            panic!("prod is remote")
        };
        assert_eq!(prod.audience, "https://maskinporten.no/");
        assert_eq!(prod.digdir, Some(DigdirEnv::Prod));
        assert_eq!(
            resolve("local", &Environment::default()).unwrap(),
            Target::Local
        );
    }

    #[test]
    fn overrides_replace_single_urls() {
        let env = Environment {
            preset: Some(Preset::Prod),
            api_url: Some("https://proxy.acme.no/api/v1/".into()),
            ..Default::default()
        };
        let Target::Remote(e) = resolve("production", &env).unwrap() else {
            panic!()
        };
        assert_eq!(e.api_url, "https://proxy.acme.no/api/v1");
        assert_eq!(e.token_url, "https://maskinporten.no/token");
        assert_eq!(e.digdir, Some(DigdirEnv::Prod));
    }

    #[test]
    fn local_with_urls_is_a_remote_emulator() {
        let env = Environment {
            api_url: Some("http://127.0.0.1:8480/api/v1".into()),
            token_url: Some("http://127.0.0.1:8480/token".into()),
            audience: Some("http://127.0.0.1:8480/".into()),
            ..Default::default()
        };
        let Target::Remote(e) = resolve("local", &env).unwrap() else {
            panic!()
        };
        assert_eq!(e.digdir, None);
    }

    #[test]
    fn unknown_names_need_urls() {
        let err = resolve("staging", &Environment::default()).unwrap_err();
        assert_eq!(err.env, "staging");
        assert!(err.to_string().contains("api_url"));
    }
}
