//! `mpctl keys list` and `mpctl keys rotate`.

use super::Exit;
use crate::api::Access;
use crate::cli::{KeysListArgs, KeysRotateArgs, OutputFormat};
use crate::diagnostic_code::Code;
use crate::keys::list::{EnvKeys, KeyOverview};
use crate::keys::rotate::{RotateOptions, find_manifest, rotate as rotate_key};
use crate::manifest::LoadedManifest;
use crate::printer::Printer;
use crate::state::LiveEnv;
use crate::state::resolve;

/// Lists every key of every client in the chosen environments, nearest expiry first. Exits 0
/// even when keys are flagged (`drift` is the command that fails on them); 1 when an
/// environment could not be read (the others are still listed).
pub fn list(args: &KeysListArgs, printer: &Printer) -> miette::Result<Exit> {
    let now = crate::clock::now_unix()?;
    let (loaded, _warnings) = crate::manifest::load::load_at(&args.manifest.paths, now)?;
    let envs = crate::engine::select_environments(&loaded.manifest, &args.env.envs)?;
    let warn_expiry_days = args
        .warn_expiry_days
        .unwrap_or(loaded.manifest.settings.warn_expiry_days);
    let runtime = super::runtime()?;
    let results = runtime.block_on(async {
        let fetches = envs.iter().map(|env| fetch_live(&loaded, env, &args.env));
        futures_util::future::join_all(fetches).await
    });
    // An environment that cannot be read is reported; the others are still listed.
    let mut read = Vec::new();
    let mut failures = Vec::new();
    for (env, result) in envs.iter().zip(results) {
        match result {
            Ok(live) => read.push((env.clone(), resolve::resolve(&loaded, env, now), live)),
            Err(report) => failures.push((env.clone(), report)),
        }
    }
    if read.is_empty()
        && let Some((_, report)) = failures.pop()
    {
        for (_, other) in &failures {
            printer.report(other);
        }
        return Err(report);
    }
    let inputs: Vec<EnvKeys<'_>> = read
        .iter()
        .map(|(env, desired, live)| EnvKeys { env, desired, live })
        .collect();
    let mut overview = KeyOverview::build(&inputs, now, warn_expiry_days);
    overview.unreadable = failures.iter().map(|(env, _)| env.clone()).collect();
    let text = match args.format {
        OutputFormat::Human => overview.render_human(printer.color),
        OutputFormat::Markdown => overview.render_markdown(),
        OutputFormat::Json => serde_json::to_string_pretty(&overview.render_json())
            .map_err(|e| miette::miette!(code = Code::InternalBug, "cannot write JSON: {e}"))?,
    };
    printer.out(&text);
    for (_, report) in &failures {
        printer.report(report);
    }
    Ok(if failures.is_empty() {
        Exit::Success
    } else {
        Exit::Failure
    })
}

/// Reads one environment's live state with read-only access.
async fn fetch_live(
    loaded: &LoadedManifest,
    env: &str,
    requests: &crate::cli::EnvArgs,
) -> miette::Result<LiveEnv> {
    // Keys belong to clients: only `idporten:dcr.read` is needed.
    let access = Access::Exactly(crate::api::admin_scopes::AdminScopes::of(&[
        crate::api::admin_scopes::AdminScope::DcrRead,
    ]));
    let connection = super::connect(loaded, env, access, requests).await?;
    crate::engine::fetch(env, &connection.client).await
}

/// Generates a new key pair for a client, adds its public key to the manifest and shows the
/// diff. The private key is written to its file and nowhere else.
pub fn rotate(args: &KeysRotateArgs, printer: &Printer) -> miette::Result<Exit> {
    let manifest = match &args.manifest {
        Some(path) => path.clone(),
        None => find_manifest(std::path::Path::new("."), &args.client)?,
    };
    let options = RotateOptions {
        client: args.client.clone(),
        env: args.env.clone(),
        manifest,
        private_key_out: args.private_key_out.clone(),
        grace_days: args.grace,
        dry_run: args.dry_run,
        all_environments: args.all_environments,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let outcome = rotate_key(&options)?;
    if !printer.is_quiet() {
        printer.out(&colour_diff(&outcome.diff, printer.color));
    }
    for warning in &outcome.warnings {
        printer.warn(warning);
    }
    let manifest = outcome.manifest.display();
    let public = outcome.public_key_file.display();
    let private = options.private_key_out.display();
    // With --quiet, the one-line result.
    if printer.is_quiet() {
        printer.out(&if outcome.written {
            format!(
                "Added key {} to `{}` in {manifest}; private key in {private}.",
                outcome.kid, options.client
            )
        } else {
            format!(
                "Dry run: key {} for `{}` not written.",
                outcome.kid, options.client
            )
        });
        return Ok(Exit::Success);
    }
    if !outcome.written {
        printer.status(&format!(
            "Dry run: nothing was written. Without --dry-run this writes the private key to \
             {private}, the public key (kid {}) to {public}, and the change above to {manifest}.",
            outcome.kid
        ));
        return Ok(Exit::Success);
    }
    let scope = if outcome.from_override {
        format!("its `keys` override for `{}`", options.env)
    } else {
        "its `keys`, used in all its environments".to_owned()
    };
    printer.status(&format!(
        "Generated a new RSA-2048 key for `{}` and added it to {scope}.\n  private key: {private} \
         (mode 0600; shown nowhere else)\n  public key:  {public} (kid {})\n  manifest:    {manifest}",
        options.client, outcome.kid
    ));
    let retire = match &outcome.retired {
        Some((path, date)) => format!(
            "\n  4. By {date}, switch the integration to the new private key: after that day \
             plan removes {path}."
        ),
        None => String::new(),
    };
    printer.status(&format!(
        "Next:\n  1. Store {private} where the integration reads its key (a secret store), then \
         delete this copy.\n  2. Commit {manifest} and {public}; the pull request's plan shows \
         \"add key {}\".\n  3. Merge: apply registers the new key next to the old one.{retire}",
        outcome.kid
    ));
    Ok(Exit::Success)
}

/// Colours a unified diff's added and removed lines for a terminal.
fn colour_diff(diff: &str, colour: bool) -> String {
    if !colour {
        return diff.to_owned();
    }
    let green = anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Green.into()));
    let red = anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Red.into()));
    let cyan = anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Cyan.into()));
    diff.lines()
        .map(|line| {
            let style = if line.starts_with("+++") || line.starts_with("---") {
                anstyle::Style::new().bold()
            } else if line.starts_with('+') {
                green
            } else if line.starts_with('-') {
                red
            } else if line.starts_with("@@") {
                cyan
            } else {
                return format!("{line}\n");
            };
            format!("{style}{line}{style:#}\n")
        })
        .collect()
}
