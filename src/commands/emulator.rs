//! `mpctl emulator serve` and `mpctl emulator init`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Exit;
use super::failure::OrFail;
use crate::cli::{EmulatorInitArgs, EmulatorServeArgs};
use crate::diagnostic_code::Code;
use crate::emulator::{AdminIdentity, Emulator, EmulatorConfig, FaultConfig, parse_bootstrap};
use crate::manifest::orgno::OrgNo;
use crate::printer::Printer;

/// Writes a private key file with mode 0600, replacing it only if its content differs.
fn write_private_file(path: &Path, content: &str) -> miette::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .or_fail(Code::IoWrite, || format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        // An existing file keeps its mode on open; make sure it is private.
        if path.exists() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
    let mut file = options
        .open(path)
        .or_fail(Code::IoWrite, || format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, content.as_bytes())
        .and_then(|()| file.sync_all())
        .or_fail(Code::IoWrite, || format!("cannot write {}", path.display()))
}

fn key_file(dir: &Path, org: &OrgNo) -> PathBuf {
    dir.join(format!("admin-{org}.pem"))
}

fn certificate_file(dir: &Path, org: &OrgNo) -> PathBuf {
    dir.join(format!("admin-{org}.business.pem"))
}

/// Makes sure a business certificate for `org` from the emulator's CA is on disk: its private
/// key, the certificate and the CA certificate in one PEM file (mode 0600). An existing file
/// is kept: the CA lives in the state, so its certificates stay valid until they expire.
fn ensure_business_certificate(
    emulator: &Emulator,
    org: &OrgNo,
    path: &Path,
) -> miette::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|text| text.contains("BEGIN CERTIFICATE")) {
        return Ok(());
    }
    let cert = emulator.issue_business_certificate(org, 365)?;
    let content = format!(
        "{}{}{}",
        cert.private_key_pem.expose(),
        cert.certificate_pem,
        emulator.ca_cert_pem()
    );
    write_private_file(path, &content)
}

fn state_dir(state: &Path) -> PathBuf {
    state
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Parses every `--bootstrap` value.
fn bootstraps(specs: &[String]) -> miette::Result<Vec<(OrgNo, Vec<String>)>> {
    specs
        .iter()
        .map(|spec| parse_bootstrap(spec).map_err(miette::Report::new))
        .collect()
}

/// Parses every `--org-name ORGNO=NAME` value.
fn org_names(specs: &[String]) -> miette::Result<Vec<(OrgNo, String)>> {
    specs
        .iter()
        .map(|spec| {
            let help = "use ORGNO=NAME, e.g. --org-name \"942110464=Trondheim kommune\"";
            let Some((number, name)) = spec.split_once('=') else {
                miette::bail!(
                    code = Code::EmulatorOption,
                    help = help,
                    "--org-name `{spec}` has no `=`"
                );
            };
            let org = OrgNo::parse(number.trim()).map_err(|e| {
                miette::miette!(
                    code = Code::EmulatorOption,
                    help = help,
                    "--org-name `{spec}`: {e}"
                )
            })?;
            if name.trim().is_empty() {
                miette::bail!(
                    code = Code::EmulatorOption,
                    help = help,
                    "--org-name `{spec}` has an empty name"
                );
            }
            Ok((org, name.trim().to_owned()))
        })
        .collect()
}

/// The shell lines that point environment `env` of a manifest at an organisation's admin
/// client: its id, key id and key file (a path; the key itself is never printed).
fn export_lines(env: &str, admin: &AdminIdentity, key_file: &Path) -> String {
    let prefix = format!("MPCTL_{}", crate::api::credentials::variable_prefix(env));
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    format!(
        "export {prefix}_CLIENT_ID={}\nexport {prefix}_KEY_ID={}\nexport {prefix}_KEY_FILE={}\n",
        quote(&admin.client_id),
        quote(&admin.kid),
        quote(&key_file.display().to_string()),
    )
}

/// What each bootstrapped organisation's admin client is, and the `export` lines that use it.
struct Registered {
    text: String,
    exports: Vec<String>,
}

/// Bootstraps each organisation, writes its admin key file, and describes the credentials.
async fn register(
    emulator: &Emulator,
    orgs: &[(OrgNo, Vec<String>)],
    admin_scopes: &[String],
    key_dir: &Path,
    env: &str,
) -> miette::Result<Registered> {
    let mut text = String::new();
    let mut exports = Vec::new();
    for (org, prefixes) in orgs {
        let admin: AdminIdentity = if admin_scopes.is_empty() {
            emulator.bootstrap_org(org, prefixes).await?
        } else {
            emulator
                .bootstrap_org_with_scopes(org, prefixes, admin_scopes)
                .await?
        };
        let path = key_file(key_dir, org);
        write_private_file(&path, admin.private_key_pem.expose())?;
        let certificate = certificate_file(key_dir, org);
        ensure_business_certificate(emulator, org, &certificate)?;
        let prefixes = emulator.prefixes(org).unwrap_or_default();
        text.push_str(&format!(
            "\norganisation {org} (prefixes: {})\n  admin client id: {}\n  admin scopes:    {}\n  key id (kid):    {}\n  private key:     {} (mode 0600)\n  business certificate: {} (key + certificate chain, mode 0600; use it as the key file without a key id to authenticate with x5c)\n",
            if prefixes.is_empty() { "none".to_owned() } else { prefixes.join(", ") },
            admin.client_id,
            if admin_scopes.is_empty() {
                "all self-service scopes".to_owned()
            } else {
                crate::emulator::parse_admin_scopes(admin_scopes)?
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(" ")
            },
            admin.kid,
            path.display(),
            certificate.display(),
        ));
        let lines = export_lines(env, &admin, &path);
        text.push_str(&format!("\n  for environment `{env}`:\n"));
        for line in lines.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        exports.push(lines);
    }
    Ok(Registered { text, exports })
}

pub fn serve(args: &EmulatorServeArgs, printer: &Printer) -> miette::Result<Exit> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        miette::miette!(
            code = Code::EmulatorOption,
            help = "use HOST:PORT with an IP address, e.g. 127.0.0.1:8480",
            "--listen `{}` is not an address",
            args.listen
        )
    })?;
    let clock_start = args
        .clock
        .as_deref()
        .map(|c| {
            OffsetDateTime::parse(c, &Rfc3339).map_err(|e| {
                miette::miette!(
                    code = Code::EmulatorOption,
                    help = "use RFC 3339, e.g. 2030-01-01T00:00:00Z",
                    "--clock `{c}` is not a time: {e}"
                )
            })
        })
        .transpose()?;
    let faults: FaultConfig = match &args.faults {
        Some(spec) => spec.parse().map_err(|e| {
            miette::miette!(
                code = Code::EmulatorOption,
                help = "e.g. latency=20ms,error_rate=0.05,rate_limit=100/s,drop_rate=0.01,drop_after_rate=0.01,propagation=2s,seed=7",
                "{e}"
            )
        })?,
        None => FaultConfig::default(),
    };
    let orgs = bootstraps(&args.bootstrap)?;
    let names = org_names(&args.org_name)?;
    if args.env_file.is_some() && orgs.len() != 1 {
        miette::bail!(
            code = Code::EmulatorOption,
            help = "pass the organisation to act for, e.g. --bootstrap 910753282:acme --env-file .mpctl/dev.env",
            "--env-file needs exactly one --bootstrap organisation (got {})",
            orgs.len()
        );
    }
    if !args.admin_scopes.is_empty() {
        crate::emulator::parse_admin_scopes(&args.admin_scopes)?;
    }
    let config = EmulatorConfig {
        listen,
        state_file: Some(args.state.clone()),
        contacts_extension: args.contacts_extension,
        clock_start,
        faults,
    };
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let emulator = Emulator::start(config).await?;
        for (org, name) in &names {
            emulator.set_org_name(org, name).await?;
        }
        let registered = register(
            &emulator,
            &orgs,
            &args.admin_scopes,
            &state_dir(&args.state),
            &args.env,
        ).await?;
        if let (Some(path), Some(lines)) = (&args.env_file, registered.exports.first()) {
            std::fs::write(path, lines)
                .or_fail(Code::IoWrite, || format!("cannot write {}", path.display()))?;
        }
        let bound = emulator.addr();
        if !bound.ip().is_loopback() {
            // Printed even with --quiet: this is about who else can reach it.
            eprintln!("{}", exposure_warning(bound, &state_dir(&args.state)));
        }
        // The URLs are as seen from this machine (the issuer must be one fixed URL); the
        // address bound is printed as it is.
        let listening = if bound.ip().is_unspecified() {
            format!("{bound} (every network interface; URLs below as seen from this machine)")
        } else {
            emulator.issuer()
        };
        let manifest_env = format!(
            "\nTo use it, give a manifest environment its endpoints:\n  environments:\n    {env}:\n      api_url: {api}\n      token_url: {token}\n      audience: {issuer}\n",
            env = args.env,
            issuer = emulator.issuer(),
            api = emulator.api_url(),
            token = emulator.token_url(),
        );
        let env_file = match &args.env_file {
            Some(path) => format!(
                "\nThe export lines are in {} (`source {}`).\n",
                path.display(),
                path.display()
            ),
            None => String::new(),
        };
        printer.out(&format!(
            "mpctl emulator listening on {listening}\n  bound:    {bound}\n  API:      {api}\n  token:    {token}\n  audience: {issuer}\n  state:    {state}\n  contacts extension: {ext}{credentials}{manifest_env}{env_file}",
            issuer = emulator.issuer(),
            api = emulator.api_url(),
            token = emulator.token_url(),
            state = args.state.display(),
            ext = if args.contacts_extension { "on" } else { "off" },
            credentials = registered.text,
        ));
        printer.status("Press Ctrl-C to stop.");
        wait_for_signal().await;
        printer.status("Stopping; writing the state snapshot.");
        emulator.shutdown().await?;
        Ok::<_, miette::Report>(())
    })?;
    Ok(Exit::Success)
}

/// The warning for an emulator reachable from other machines.
fn exposure_warning(bound: SocketAddr, key_dir: &Path) -> String {
    format!(
        "warning: the emulator listens on {bound}, which other machines can reach. Its \
         /emulator/* control endpoints (audit log, faults, clock) have no authentication, and \
         anyone who can read {} can act as its organisations. Listen on 127.0.0.1 unless this \
         is meant.",
        key_dir.display()
    )
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn init(args: &EmulatorInitArgs, printer: &Printer) -> miette::Result<Exit> {
    let orgs = bootstraps(&args.bootstrap)?;
    if !args.admin_scopes.is_empty() {
        crate::emulator::parse_admin_scopes(&args.admin_scopes)?;
    }
    if orgs.is_empty() {
        miette::bail!(
            code = Code::EmulatorBootstrap,
            help = "e.g. `mpctl emulator init --bootstrap 910753282:acme` (your organisation number and scope prefixes)",
            "`mpctl emulator init` needs at least one --bootstrap organisation"
        );
    }
    let dir = args.dir.join("emulator");
    let state = dir.join("state.json");
    let config = EmulatorConfig {
        state_file: Some(state.clone()),
        contacts_extension: true,
        ..EmulatorConfig::default()
    };
    let runtime = super::runtime()?;
    let credentials = runtime.block_on(async {
        let emulator = Emulator::start(config).await?;
        let credentials = register(&emulator, &orgs, &args.admin_scopes, &dir, "dev")
            .await?
            .text;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, emulator.ca_cert_pem())
            .or_fail(Code::IoWrite, || format!("cannot write {}", ca.display()))?;
        emulator.shutdown().await?;
        Ok::<_, miette::Report>(credentials)
    })?;
    printer.out(&format!(
        "Wrote a local emulator setup in {dir}:\n  state:   {state}\n  test CA: {ca}{credentials}\n\
         Use it:\n  - in a manifest, `environments: {{ local: {{}} }}` runs this emulator in-process (state in .mpctl/emulator);\n  \
         - or serve it: mpctl emulator serve --state {state} --contacts-extension\n    \
         and point an environment's api_url/token_url/audience at the printed URLs, with\n    \
         MPCTL_<ENV>_CLIENT_ID, MPCTL_<ENV>_KEY_ID and MPCTL_<ENV>_KEY_FILE set to the admin values above.",
        dir = dir.display(),
        state = state.display(),
        ca = dir.join("ca.pem").display(),
    ));
    Ok(Exit::Success)
}
