//! Command-line interface: one subcommand per user task. Flags are documented where defined;
//! `mpctl help <command>` shows the long help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod usage;

/// Maskinporten self-service as code: scopes, grants, clients and keys from YAML manifests.
///
/// Write manifests, check them with `mpctl validate`, see what would change with `mpctl plan`,
/// make it so with `mpctl apply`, and watch for changes made by hand with `mpctl drift`.
/// The `local` environment runs an embedded emulator of the Maskinporten API, so everything
/// can be tried without credentials.
///
/// Exit status: 0 success (no changes), 1 error, 2 changes present (`plan --detailed-exitcode`,
/// `drift`), 64 usage error (unknown flag, value or subcommand, or a value the command cannot
/// use, such as an `--env` the manifest does not declare).
#[derive(Debug, Parser)]
#[command(name = "mpctl", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The exit status of a usage error (BSD `EX_USAGE`): a mistyped flag, value or subcommand.
/// Not clap's default 2, which CI reads as "changes present".
pub const EXIT_USAGE: u8 = 64;

/// Prints a command-line parse error (or the help or version asked for) and returns its exit
/// status: 0 for `--help` and `--version`, [`EXIT_USAGE`] for everything else.
pub fn usage_error(error: &clap::Error) -> std::process::ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        std::process::ExitCode::from(EXIT_USAGE)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and the one-line result: no plan before apply, no progress, no
    /// warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more: `-v` shows each HTTP request (method, path, status, duration), `-vv` debug
    /// logs. Secrets are never printed.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colour: `auto` uses it on a terminal unless `NO_COLOR` is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests without touching any API: schema, YAML hazards, organisation numbers,
    /// scope names and prefixes, grants, key files. Reports every problem at once.
    ///
    /// Exit status: 0 valid, 1 invalid, 64 usage error. With `GITHUB_ACTIONS=true` problems are also printed as
    /// GitHub annotations, so they show on the pull request's diff.
    Validate(ValidateArgs),

    /// Show what `apply` would change in each environment, in the order it would do it.
    ///
    /// Exit status: 0 success, 1 error; with `--detailed-exitcode`, 2 when there are changes;
    /// 64 usage error.
    Plan(PlanArgs),

    /// Make each environment match the manifest: create, update, grant, revoke and deactivate,
    /// phase by phase (scopes, grants, clients, then removals in reverse).
    ///
    /// Asks for confirmation on a terminal; in CI pass `--yes` or a saved plan file.
    /// Exit status: 0 applied (or nothing to do), 1 error or refused, 64 usage error.
    Apply(ApplyArgs),

    /// Report where live state differs from the manifest, including resources the manifest
    /// does not list and keys about to expire.
    ///
    /// Exit status: 0 no drift; 2 drift, including drift apply would refuse to correct
    /// (protected resources, the mass-destroy limit); 1 could not check; 64 usage error.
    Drift(DriftArgs),

    /// Write a manifest from an organisation's live configuration, to adopt mpctl after
    /// managing things in Samarbeidsportalen. Planning the result shows no changes.
    Import(ImportArgs),

    /// Client keys: list every key with its expiry, or rotate one.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Get an access token for a client of the manifest, to prove an integration works: a
    /// JWT-bearer grant signed with the client's private key.
    ///
    /// Prints only the access token on stdout (or with `--decode` its header and claims, never
    /// its signature). Changes reach Maskinporten's token service after up to two minutes, so a
    /// client, key or grant changed just now may not work yet.
    Token(TokenArgs),

    /// Print the manifest's JSON Schema (or the plan output's with `--plan`).
    Schema(SchemaArgs),

    /// Run or set up the Maskinporten emulator: a local stand-in for Digdir's self-service API
    /// and token endpoint.
    #[command(subcommand)]
    Emulator(EmulatorCommand),

    /// Print shell completions.
    Completions(CompletionsArgs),

    /// Benchmarks and fault-injection runs of mpctl itself (for its developers; see
    /// docs/performance.md and docs/reliability.md).
    #[command(subcommand, hide = true)]
    Bench(BenchCommand),
}

/// `mpctl bench …`: proof at scale and under faults.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Plan and apply a generated manifest against emulators with injected latency; report
    /// requests, wall time, CPU time and peak memory against the targets.
    Run(BenchRunArgs),
    /// Apply generated manifests while the emulator injects faults and restarts; check that a
    /// re-run converges to exactly the manifest.
    Soak(BenchSoakArgs),
    /// Write a generated manifest and its key files into a directory.
    Generate(BenchGenerateArgs),
    /// Serve emulators for `bench run` (internal: started by it as a child process).
    #[command(hide = true)]
    Emulators(BenchEmulatorsArgs),
}

/// The size of a generated manifest.
#[derive(Debug, Args)]
pub struct BenchSizeArgs {
    #[arg(long, default_value_t = 1000)]
    pub scopes: usize,
    /// Grants in all, spread evenly over the scopes.
    #[arg(long, default_value_t = 10_000)]
    pub grants: usize,
    #[arg(long, default_value_t = 500)]
    pub clients: usize,
    #[arg(long = "environments", default_value_t = 2)]
    pub environments: usize,
    /// Seed of the generator: the same seed gives the same manifest.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BenchRunArgs {
    #[command(flatten)]
    pub size: BenchSizeArgs,
    /// Latency the emulators add to every request.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    pub latency_ms: u64,
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// The sequential run (concurrency 1) uses the size divided by this, and is extrapolated.
    #[arg(long, default_value_t = 10)]
    pub sequential_divisor: usize,
    /// The rate-limited run: apply to one environment limited to this many requests per
    /// second (0: skip it).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub rate_limit: u32,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Rewrite the results tables of this Markdown page (between `<!-- bench:begin -->` and
    /// `<!-- bench:end -->`).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchSoakArgs {
    /// Trials to run (each its own seed: `--seed`, `--seed`+1, …).
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 150)]
    pub scopes: usize,
    #[arg(long, default_value_t = 600)]
    pub grants: usize,
    #[arg(long, default_value_t = 40)]
    pub clients: usize,
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Start no trial after this many minutes.
    #[arg(long, default_value_t = 30)]
    pub max_minutes: u64,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Rewrite the results of this Markdown page (between `<!-- bench:begin -->` and
    /// `<!-- bench:end -->`).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    #[command(flatten)]
    pub size: BenchSizeArgs,
    /// Directory to write `mpctl.yaml` and `keys/` into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchEmulatorsArgs {
    /// One emulator per environment name.
    #[arg(long = "env", value_name = "ENV", required = true)]
    pub envs: Vec<String>,
    #[arg(long, default_value_t = 20, value_name = "MS")]
    pub latency_ms: u64,
    /// Limit every emulator to this many requests per second (429 past it).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Serve the contacts extension.
    #[arg(long)]
    pub contacts: bool,
}

/// Where the manifests are.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Manifest files or directories (every `*.yaml`/`*.yml` inside, recursively). Several files
    /// merge into one manifest.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
}

/// Which environments to work on.
#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Only these environments (repeatable; default: every environment of the manifest).
    #[arg(short, long = "env", value_name = "ENV")]
    pub envs: Vec<String>,

    /// How many API requests to have in flight at once, per environment, at most: fewer while
    /// the server answers 429 (rate limiting), rising again when it stops.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Give up on one attempt of a request after this many seconds; failed attempts are retried
    /// (at most five in all). Raise it behind a slow proxy.
    #[arg(long, env = "MPCTL_TIMEOUT", default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Give up on opening a connection after this many seconds.
    #[arg(long, env = "MPCTL_CONNECT_TIMEOUT", default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,
}

impl EnvArgs {
    /// How requests are retried and timed out, with this command line's timeouts.
    pub fn retry_policy(&self) -> crate::api::retry::RetryPolicy {
        crate::api::retry::RetryPolicy {
            attempt_timeout: std::time::Duration::from_secs(self.timeout),
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: grouped, with symbols and colour.
    Human,
    /// For pull-request comments and job summaries.
    Markdown,
    /// For programs: versioned, described by `schema/plan.schema.json`.
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,

    /// `human` diagnostics, or `json` (one object per diagnostic, for tools).
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub env: EnvArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Save the plan to FILE for `mpctl apply FILE`; it is bound to digests of the manifest and
    /// of each environment's live state, so a stale plan is refused.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 2 when there are changes (0 none, 1 error), as `terraform plan -detailed-exitcode`.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Warn about keys expiring within this many days (default: the manifest's
    /// `settings.warn_expiry_days`, 30).
    #[arg(long, value_name = "DAYS")]
    pub warn_expiry_days: Option<u32>,

    /// Show a manual step (contacts, invoice data: Digdir has no API for them) only when this
    /// change made it: compare with the manifest at git revision REF (e.g. `origin/main`).
    /// Default in a GitHub pull request: `origin/$GITHUB_BASE_REF`; else every step is shown.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Manifest files or directories, or one plan file saved by `mpctl plan --out` (recognised
    /// by its content, whatever its name).
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub env: EnvArgs,

    /// Do not ask for confirmation (needed when not on a terminal, unless applying a saved plan).
    #[arg(short, long)]
    pub yes: bool,

    /// Allow a plan that deactivates, revokes or replaces more than the manifest's
    /// `settings.mass_destroy_percent` of an environment's managed resources.
    #[arg(long)]
    pub allow_mass_destroy: bool,

    /// With a saved plan whose manifest or live state has moved on since it was saved: plan
    /// again, and apply that fresh plan only when its changes are exactly the saved plan's
    /// (otherwise refuse, listing the differences). For applying a reviewed plan after a merge.
    #[arg(long)]
    pub replan_if_same: bool,

    /// Output format of the plan shown before applying and of the result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Show a manual step only when this change made it: compare with the manifest at git
    /// revision REF (e.g. the commit before the merge), as for `plan --base`. Not with a saved
    /// plan, whose manual steps were chosen when it was planned (a usage error).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub env: EnvArgs,

    /// Output format; `markdown` suits an issue body.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Count keys expiring within this many days as drift (default: the manifest's
    /// `settings.warn_expiry_days`, 30).
    #[arg(long, value_name = "DAYS")]
    pub warn_expiry_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Environments to read (repeatable). Several merge into one manifest, with differences
    /// written as per-environment overrides.
    #[arg(short, long = "env", value_name = "ENV", required = true)]
    pub envs: Vec<String>,

    /// The organisation to import (default: the one the credentials belong to).
    #[arg(long, value_name = "ORGNO")]
    pub org: Option<String>,

    /// Write the manifest here instead of standard output (missing directories are created);
    /// public keys go to a `keys/` directory beside it. An existing file is kept unless
    /// `--force` is given.
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Replace the `--out` file if it exists (key files with other content are still never
    /// overwritten).
    #[arg(long, requires = "out")]
    pub force: bool,

    /// A manifest whose `environments` (endpoints) to use; needed for environments other than
    /// `test`, `prod` and `local`.
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,

    /// Also write values equal to the API's defaults (left out by default: a field left out is
    /// not managed, so planning shows no change either way).
    #[arg(long)]
    pub full: bool,

    /// Import only this scope (repeatable), as YAML to paste into an existing manifest's
    /// `scopes:`.
    #[arg(long = "scope", value_name = "NAME")]
    pub scopes: Vec<String>,

    /// Import only this client (repeatable), as YAML to paste into an existing manifest's
    /// `clients:`; its key files are written as for a whole import.
    #[arg(long = "client", value_name = "NAME")]
    pub clients: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List every key of every client in every environment, nearest expiry first.
    List(KeysListArgs),
    /// Generate a new key pair for a client, add its public key to the manifest, and mark the
    /// key it replaces for retirement.
    Rotate(KeysRotateArgs),
}

#[derive(Debug, Args)]
pub struct KeysListArgs {
    #[command(flatten)]
    pub manifest: ManifestArgs,
    #[command(flatten)]
    pub env: EnvArgs,

    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Flag keys expiring within this many days (default: the manifest's setting, 30).
    #[arg(long, value_name = "DAYS")]
    pub warn_expiry_days: Option<u32>,
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// The client's name in the manifest.
    pub client: String,

    /// The manifest file that declares the client (default: searched under the current
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,

    /// The environment the new key is for: it is added to the client's `keys` override for
    /// that environment (created from the client's keys if there is none), so the client's
    /// other environments keep their keys.
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: String,

    /// Add the key to the client's own `keys` instead, used in every environment that has no
    /// `keys` override.
    #[arg(long)]
    pub all_environments: bool,

    /// Where to write the new private key (PEM, mode 0600). Never overwritten.
    #[arg(long, value_name = "FILE")]
    pub private_key_out: PathBuf,

    /// Days the replaced key stays registered (its `retire_after`).
    #[arg(long, default_value_t = 14, value_name = "DAYS")]
    pub grace: u32,

    /// Only show the manifest diff; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The client's name in the manifest.
    pub client: String,

    /// The environment to get the token in.
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: String,

    /// The client's private key: PEM (PKCS#8 or PKCS#1; with its certificate chain, a business
    /// certificate, sent as `x5c` when no key id is given or found) or JWK. Never printed.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// The registered key id (default: the JWK's own, else the kid of the client's public key
    /// in the manifest that matches the private key).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,

    /// Scopes to ask for (repeatable; default: the client's scopes in the environment).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,

    /// Print the token's header and claims as JSON instead of the token.
    #[arg(long)]
    pub decode: bool,

    /// Manifest files or directories, as for `plan`.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of `plan --format json` instead of the manifest's.
    #[arg(long)]
    pub plan: bool,

    /// Write the schemas into this directory (`mpctl.schema.json`; `mpctl-part.schema.json`
    /// for files without `version`; `plan.schema.json`) instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Serve the emulator over HTTP until interrupted.
    Serve(EmulatorServeArgs),
    /// Write a ready-to-use local setup under `.mpctl/`: state, test CA, admin key.
    Init(EmulatorInitArgs),
}

#[derive(Debug, Args)]
pub struct EmulatorServeArgs {
    /// Address to listen on. Anything but a loopback address (e.g. `0.0.0.0:8480`) makes the
    /// emulator reachable from other machines, with unauthenticated `/emulator/*` control
    /// endpoints: mpctl warns when it is so.
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR")]
    pub listen: String,

    /// State file; created if missing. Every acknowledged write is durable in it.
    #[arg(
        long,
        default_value = ".mpctl/emulator/state.json",
        value_name = "FILE"
    )]
    pub state: PathBuf,

    /// Register an organisation with scope prefixes, e.g. `910753282:acme,acme2`
    /// (repeatable). Prints the admin credentials for each.
    #[arg(long, value_name = "ORGNO[:PREFIX,...]")]
    pub bootstrap: Vec<String>,

    /// Offer the contacts/invoice endpoints (an emulator extension: Digdir has no such API).
    #[arg(long)]
    pub contacts_extension: bool,

    /// Name an organisation, e.g. `942110464=Trondheim kommune` (repeatable): grants to it
    /// then carry `consumer_organization_name`, as Digdir's API sends it.
    #[arg(long, value_name = "ORGNO=NAME")]
    pub org_name: Vec<String>,

    /// The manifest environment the printed `export MPCTL_<ENV>_…` lines are for.
    #[arg(long, default_value = "dev", value_name = "NAME")]
    pub env: String,

    /// Also write the `export MPCTL_<ENV>_…` lines of the bootstrapped organisation to FILE
    /// (for `source FILE`); needs exactly one --bootstrap.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,

    /// The self-service scopes the bootstrapped admin clients hold (default: all), e.g.
    /// `idporten:scopes.read,idporten:scopes.write` for a provider-only admin client. The
    /// token endpoint refuses any other scope (`invalid_scope`).
    #[arg(long, value_name = "SCOPE[,SCOPE...]", value_delimiter = ',')]
    pub admin_scopes: Vec<String>,

    /// Start the emulator's clock at this time (RFC 3339) instead of now, to test expiry.
    #[arg(long, value_name = "TIME")]
    pub clock: Option<String>,

    /// Fault injection, e.g. `latency=20ms,error_rate=0.05,rate_limit=100/s,drop_rate=0.01,drop_after_rate=0.01,propagation=2s,seed=7` (see docs/emulator.md).
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
}

#[derive(Debug, Args)]
pub struct EmulatorInitArgs {
    /// Directory to write into.
    #[arg(long, default_value = ".mpctl", value_name = "DIR")]
    pub dir: PathBuf,

    /// Organisations to register, as for `serve --bootstrap`.
    #[arg(long, value_name = "ORGNO[:PREFIX,...]")]
    pub bootstrap: Vec<String>,

    /// The self-service scopes the admin clients hold, as for `serve --admin-scopes`.
    #[arg(long, value_name = "SCOPE[,SCOPE...]", value_delimiter = ',')]
    pub admin_scopes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_default_to_the_retry_policy_and_are_bounded() {
        use clap::Parser;
        let env_args = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Plan(plan)) => Ok(plan.env),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        let defaults = env_args(&["mpctl", "plan", "m.yaml"])
            .unwrap()
            .retry_policy();
        assert_eq!(defaults, crate::api::retry::RetryPolicy::default());
        let set = env_args(&[
            "mpctl",
            "plan",
            "m.yaml",
            "--timeout",
            "5",
            "--connect-timeout",
            "2",
        ])
        .unwrap()
        .retry_policy();
        assert_eq!(set.attempt_timeout, std::time::Duration::from_secs(5));
        assert_eq!(set.connect_timeout, std::time::Duration::from_secs(2));
        assert!(env_args(&["mpctl", "plan", "m.yaml", "--timeout", "0"]).is_err());
    }
}
