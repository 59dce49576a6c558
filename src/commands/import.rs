//! `mpctl import`: read the live configuration of one or more environments and write a
//! manifest (and the clients' public key files) that plans to zero changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use miette::Context;

use super::failure::OrFail;
use super::{Exit, runtime};
use crate::api::admin_scopes::AdminScopes;
use crate::api::connect::{Access, connect_env};
use crate::api::retry::RetryPolicy;
use crate::api::{ApiError, SelfService};
use crate::cli::ImportArgs;
use crate::diagnostic_code::Code;
use crate::import::{self, ImportedEnv};
use crate::manifest::model::{Environments, Manifest};
use crate::manifest::orgno::OrgNo;
use crate::printer::Printer;

/// Requests in flight per environment while reading.
const CONCURRENCY: usize = 8;

pub fn run(args: &ImportArgs, printer: &Printer) -> miette::Result<Exit> {
    if let Some(out) = &args.out {
        check_out(out, args)?;
    }
    let base = match &args.manifest {
        Some(path) => Some(read_manifest(path)?),
        None => None,
    };
    let environments: Environments = base
        .as_ref()
        .map(|m| m.environments.clone())
        .unwrap_or_default();
    let prefixes = base
        .as_ref()
        .map(|m| m.prefixes.clone())
        .unwrap_or_default();
    let organization = match &args.org {
        Some(org) => Some(OrgNo::parse(org.trim()).or_fail(Code::ImportOrg, || {
            "--org is not a valid organisation number".into()
        })?),
        None => base.as_ref().map(|m| m.organization.clone()),
    };

    let mut env_names: Vec<String> = Vec::new();
    for env in &args.envs {
        if !env_names.contains(env) {
            env_names.push(env.clone());
        }
    }

    let rt = runtime()?;
    let results = rt.block_on(async {
        let reads = env_names.iter().map(|name| {
            let environment = environments.get(name).cloned().unwrap_or_default();
            let organization = organization.clone();
            let prefixes = prefixes.clone();
            async move {
                // Both sides are read, unless the environment declares that its admin client
                // holds the read scope of only one: then only that side is imported.
                let access = match crate::api::connect::declared_scopes(name, &environment)? {
                    Some((held, _)) => {
                        let read = held.intersection(AdminScopes::read());
                        if read.is_empty() {
                            miette::bail!(
                                code = Code::AuthScopeNotHeld,
                                help = "list `idporten:scopes.read` and/or `idporten:dcr.read` in MPCTL_<ENV>_SCOPES or the environment's `admin_scopes`",
                                "`{name}`: the admin client is declared to hold no read scope, so there is nothing to import"
                            );
                        }
                        if !read.sides().scopes || !read.sides().clients {
                            printer.status(&format!(
                                "warning: `{name}`: the admin client is declared to hold only {}; the other side is not imported",
                                read.listed()
                            ));
                        }
                        Access::Exactly(read)
                    }
                    None => Access::Read,
                };
                let connection = connect_env(
                    name,
                    &environment,
                    organization.as_ref(),
                    &prefixes,
                    access,
                    CONCURRENCY,
                    &RetryPolicy::default(),
                )
                .await?;
                let token_org = connection
                    .client
                    .token()
                    .await
                    .map_err(miette::Report::new)?
                    .organization;
                let live = connection
                    .client
                    .fetch()
                    .await
                    .map_err(|e: ApiError| miette::Report::new(e))
                    .wrap_err_with(|| format!("cannot read environment `{name}`"))?;
                printer.detail(&format!(
                    "{name}: read with {} requests",
                    connection.client.request_count()
                ));
                Ok::<_, miette::Report>((
                    token_org,
                    ImportedEnv {
                        name: name.clone(),
                        environment,
                        live,
                    },
                ))
            }
        });
        futures_util::future::try_join_all(reads).await
    })?;

    let organization = match organization {
        Some(org) => org,
        None => single_organization(&results)?,
    };
    let envs: Vec<ImportedEnv> = results.into_iter().map(|(_, env)| env).collect();
    let mut imported = import::build(&organization, &envs);
    if !args.full {
        import::omit_defaults(&mut imported.manifest);
    }
    let selected = !args.scopes.is_empty() || !args.clients.is_empty();
    let yaml = if selected {
        // Only the selected clients' key files are written.
        let keys: Vec<String> = imported
            .manifest
            .clients
            .iter()
            .filter(|c| args.clients.contains(&c.name))
            .flat_map(|c| {
                c.attribute_sets()
                    .flat_map(|(_, a)| a.keys())
                    .map(|k| k.path().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        imported.key_files.retain(|path, _| keys.contains(path));
        import::snippet(&imported, &env_names, &args.scopes, &args.clients).map_err(|e| {
            miette::miette!(
                code = Code::ImportNotFound,
                help = "check the name (`mpctl import` without --scope/--client lists everything)",
                "{e}"
            )
        })?
    } else {
        import::to_yaml(&imported, &env_names).or_fail(Code::InternalBug, || {
            "cannot write the manifest as YAML".into()
        })?
    };

    let key_dir = match &args.out {
        Some(out) => out.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => PathBuf::new(),
    };
    write_key_files(&key_dir, &imported.key_files)?;
    match &args.out {
        Some(out) => {
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).or_fail(Code::IoWrite, || {
                    format!("cannot create {}", parent.display())
                })?;
            }
            std::fs::write(out, &yaml)
                .or_fail(Code::IoWrite, || format!("cannot write {}", out.display()))?;
            printer.status(&format!(
                "wrote {} ({} scopes, {} clients, {} key files)",
                out.display(),
                imported.manifest.scopes.len(),
                imported.manifest.clients.len(),
                imported.key_files.len()
            ));
        }
        None => {
            printer.out(&yaml);
            if !imported.key_files.is_empty() {
                printer.status(&format!(
                    "wrote {} public key files under {}",
                    imported.key_files.len(),
                    key_dir.join("keys").display()
                ));
            }
        }
    }
    for note in &imported.notes {
        printer.status(&format!("note: {note}"));
    }
    Ok(Exit::Success)
}

/// The organisation the tokens act for, when `--org` was not given; all must agree.
fn single_organization(results: &[(Option<OrgNo>, ImportedEnv)]) -> miette::Result<OrgNo> {
    let mut found: Option<&OrgNo> = None;
    for (org, env) in results {
        let Some(org) = org else {
            miette::bail!(
                code = Code::ImportOrganization,
                help = "pass --org with the organisation number",
                "environment `{}`: the access token does not name its organisation",
                env.name
            );
        };
        if let Some(first) = found
            && first != org
        {
            miette::bail!(
                code = Code::ImportOrganization,
                help = "import one organisation at a time: pass --org, or use credentials of one organisation for every environment",
                "the credentials act for different organisations ({first} and {org})"
            );
        }
        found = Some(org);
    }
    found.cloned().ok_or_else(|| {
        miette::miette!(
            code = Code::ImportOrganization,
            help = "name the environments to read with --env",
            "no environment given"
        )
    })
}

/// Reads a manifest for its `environments` (endpoints), `organization` and `prefixes`.
fn read_manifest(path: &Path) -> miette::Result<Manifest> {
    let text = std::fs::read_to_string(path)
        .or_fail(Code::FileRead, || format!("cannot read {}", path.display()))?;
    serde_yaml_ng::from_str(&text).or_fail(Code::SchemaInvalid, || {
        format!(
            "{} is not a valid manifest (check it with `mpctl validate`)",
            path.display()
        )
    })
}

/// Refuses, before anything is read, an `--out` that would replace a file without `--force`
/// (above all the manifest given to `--manifest`), or that is not a file.
fn check_out(out: &Path, args: &ImportArgs) -> miette::Result<()> {
    if out.is_dir() {
        miette::bail!(
            code = Code::ImportExists,
            help = "name the manifest file to write, e.g. `--out manifests/mpctl.yaml`",
            "--out {} is a directory",
            out.display()
        );
    }
    if !out.exists() || args.force {
        return Ok(());
    }
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if args.manifest.as_deref().is_some_and(|m| same(m, out)) {
        miette::bail!(
            code = Code::ImportExists,
            help =
                "write the import elsewhere and compare, or pass --force to replace the manifest",
            "--out {} is the manifest given to --manifest; not overwriting it",
            out.display()
        );
    }
    miette::bail!(
        code = Code::ImportExists,
        help = "pass --force to replace it, or choose another --out",
        "{} exists; not overwriting it",
        out.display()
    )
}

/// Writes the public key files under `dir`; an existing file with other content is never
/// overwritten.
fn write_key_files(
    dir: &Path,
    files: &BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
) -> miette::Result<()> {
    for (relative, jwk) in files {
        let path = dir.join(relative);
        let mut text = serde_json::to_string_pretty(jwk).or_fail(Code::InternalBug, || {
            format!("cannot write {relative} as JSON")
        })?;
        text.push('\n');
        if let Ok(existing) = std::fs::read_to_string(&path) {
            if existing == text {
                continue;
            }
            miette::bail!(
                code = Code::ImportExists,
                help = "move the existing file away, or write the manifest elsewhere with --out",
                "{} exists with other content; not overwriting it",
                path.display()
            );
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).or_fail(Code::IoWrite, || {
                format!("cannot create {}", parent.display())
            })?;
        }
        std::fs::write(&path, text)
            .or_fail(Code::IoWrite, || format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
