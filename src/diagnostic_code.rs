//! The catalogue of diagnostic codes: every code mpctl reports, with a one-line meaning.
//!
//! A code is a stable identifier of a kind of problem (`mpctl::orgno::check_digit`): it is
//! printed with the problem, carried in `--format json`, and listed in `docs/manifest.md`, whose
//! table is generated from this catalogue (a test compares the two). Errors derived with
//! `miette::Diagnostic` name their code in an attribute, which must be a literal there; a test
//! checks that each such code is in this catalogue too.

use std::fmt;

macro_rules! catalogue {
    ($($variant:ident = $code:literal, $meaning:literal;)*) => {
        /// A diagnostic code. See the [module](self) documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(
                #[doc = $meaning]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in the order of the documentation's table.
            pub const ALL: &[Code] = &[$(Code::$variant),*];

            /// The code as printed, e.g. `mpctl::orgno::check_digit`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// What the code means, in one line (the documentation's table).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

catalogue! {
    FileTooLarge = "mpctl::file::too_large", "the file is larger than a manifest may be";
    FileNotUtf8 = "mpctl::file::not_utf8", "the file is not UTF-8 text";
    FileRead = "mpctl::file::read", "the file cannot be read";
    FileNotAManifest = "mpctl::file::not_a_manifest", "a key, certificate, keystore, JWK, token or other file that is not a manifest; its content is never shown";
    YamlSyntax = "mpctl::yaml::syntax", "the YAML is malformed";
    YamlTab = "mpctl::yaml::tab", "a tab in indentation";
    YamlDuplicateKey = "mpctl::yaml::duplicate_key", "a key given twice in one mapping";
    YamlTooManyNodes = "mpctl::yaml::too_many_nodes", "too many nodes (e.g. an alias expanding without bound)";
    YamlTooDeep = "mpctl::yaml::too_deep", "nesting deeper than allowed";
    YamlMultipleDocuments = "mpctl::yaml::multiple_documents", "more than one YAML document in a file";
    YamlTag = "mpctl::yaml::tag", "a YAML tag (`!foo`), which manifests do not use";
    YamlKey = "mpctl::yaml::key", "a mapping key that is not a string";
    YamlAlias = "mpctl::yaml::alias", "an alias to an anchor that is not defined";
    SchemaUnknownField = "mpctl::schema::unknown_field", "a field the schema does not know";
    SchemaMissingField = "mpctl::schema::missing_field", "a required field is missing";
    SchemaType = "mpctl::schema::type", "a value of the wrong type";
    SchemaEnum = "mpctl::schema::enum", "a value that is not one of the allowed ones";
    SchemaRange = "mpctl::schema::range", "a number or list size out of range";
    SchemaPattern = "mpctl::schema::pattern", "a value of the wrong form";
    SchemaInvalid = "mpctl::schema::invalid", "the document does not have the shape of a manifest";
    SchemaInternal = "mpctl::schema::internal", "the schema itself could not be used (a bug in mpctl)";
    LoadNotFound = "mpctl::load::not_found", "a path given does not exist";
    LoadNoFiles = "mpctl::load::no_files", "a directory with no manifest files";
    LoadRead = "mpctl::load::read", "a directory that cannot be read";
    LoadSeveralManifests = "mpctl::load::several_manifests", "several manifests where one was expected";
    LoadOrphanPart = "mpctl::load::orphan_part", "a file that is part of no manifest";
    LoadAmbiguousPart = "mpctl::load::ambiguous_part", "a file that could belong to more than one manifest";
    MergeDuplicate = "mpctl::merge::duplicate", "two files defining the same thing";
    MergeOrganization = "mpctl::merge::organization", "files of one manifest naming different organisations";
    MergeOrganizationName = "mpctl::merge::organization_name", "files of one manifest naming one organisation differently";
    OrgnoCheckDigit = "mpctl::orgno::check_digit", "an organisation number whose check digit is wrong";
    OrgnoFirstDigit = "mpctl::orgno::first_digit", "an organisation number that does not start with 8 or 9";
    OrgnoFormat = "mpctl::orgno::format", "not an organisation number (9 digits)";
    OrgnoName = "mpctl::orgno::name", "an empty organisation name in `organizations`";
    PrefixSyntax = "mpctl::prefix::syntax", "a scope prefix of the wrong form";
    ScopeName = "mpctl::scope::name", "a scope name of the wrong form";
    ScopePrefix = "mpctl::scope::prefix", "a scope name under a prefix the manifest does not declare";
    ScopeDuplicate = "mpctl::scope::duplicate", "a scope defined twice in an environment";
    GrantDuplicate = "mpctl::grant::duplicate", "a grant given twice in an environment";
    ClientDuplicate = "mpctl::client::duplicate", "a client defined twice in an environment";
    ClientDuplicateScope = "mpctl::client::duplicate_scope", "a scope listed twice on a client";
    ClientDuplicateClientId = "mpctl::client::duplicate_client_id", "two clients pinning the same `client_id`";
    ClientRenameConflict = "mpctl::client::rename_conflict", "a client renamed to a name another client has";
    ClientScopeUndeclared = "mpctl::client::scope_undeclared", "a client asking for one of the organisation's own scopes that the manifest does not declare";
    ClientScopeNotGranted = "mpctl::client::scope_not_granted", "a client asking for one of the organisation's own scopes not granted to it";
    ContactsEmail = "mpctl::contacts::email", "a contact address that is not a valid e-mail address";
    EnvNone = "mpctl::env::none", "a manifest that declares no environment";
    EnvUndeclared = "mpctl::env::undeclared", "an environment used but not declared";
    EnvUnknown = "mpctl::env::unknown", "`--env` names an environment the manifest does not declare";
    EnvEndpoints = "mpctl::env::endpoints", "an environment without the endpoints it needs";
    EnvUrl = "mpctl::env::url", "an endpoint that is not a URL";
    EnvUnused = "mpctl::env::unused", "an override, grant environment or `client_ids` entry for an environment its resource is not in (a warning)";
    KeysNotFound = "mpctl::keys::not_found", "a key file that does not exist";
    KeysPath = "mpctl::keys::path", "a key path outside the repository, or not to a regular file with content";
    KeysFile = "mpctl::keys::file", "a key file that is not a public JWK or certificate, or a key close to expiry (a warning)";
    KeysTooMany = "mpctl::keys::too_many", "more keys on a client than the API accepts";
    KeysDuplicate = "mpctl::keys::duplicate", "a key file listed twice on a client";
    KeysDuplicateKid = "mpctl::keys::duplicate_kid", "two keys of a client with the same `kid`";
    KeysRetireAfter = "mpctl::keys::retire_after", "a `retire_after` that is not a date";
    ManifestInvalid = "mpctl::manifest::invalid", "the summary of an invalid manifest (the problems are listed above it)";
    PlanFile = "mpctl::plan::file", "a file given as a saved plan that is not one, or of another format version";
    PlanStale = "mpctl::plan::stale", "a saved plan that no longer matches the manifest or the live state; nothing is applied";
    PlanPaths = "mpctl::plan::paths", "a saved plan naming a manifest path that is absolute, climbs with `..`, leads outside the directory or does not exist; nothing is read";
    PlanManifestInvalid = "mpctl::plan::manifest_invalid", "the manifest a saved plan names does not load (`mpctl validate` shows why); nothing is applied";
    PlanEnvironment = "mpctl::plan::environment", "`--env` names an environment the saved plan does not have";
    ApplyPlanErrors = "mpctl::apply::plan_errors", "the plan has errors (listed with it); nothing is applied";
    ApplyMassDestroy = "mpctl::apply::mass_destroy", "the plan deactivates, revokes or replaces more than `mass_destroy_percent` allows, without `--allow-mass-destroy`; nothing is applied";
    ApplyNeedsConfirmation = "mpctl::apply::needs_confirmation", "`apply` off a terminal without `--yes` or a saved plan; nothing is applied";
    ApplyNoSavedPlan = "mpctl::apply::no_saved_plan", "`--replan-if-same` without a saved plan to compare with";
    BaseUnreadable = "mpctl::base::unreadable", "the manifest cannot be read at the git revision `--base` names";
    ImportExists = "mpctl::import::exists", "`import` would overwrite a file (the manifest given, or one with other content), or `--out` is a directory";
    ImportOrg = "mpctl::import::org", "`import --org` is not a valid organisation number";
    ImportOrganization = "mpctl::import::organization", "the organisation to import cannot be told: a token names none, or the environments' credentials act for different ones (pass `--org`)";
    ImportNotFound = "mpctl::import::not_found", "an `import --scope` or `--client` that the environments read do not have";
    TokenNoScopes = "mpctl::token::no_scopes", "`token` for a client with no scopes in the environment and no `--scope`";
    TokenClient = "mpctl::token::client", "`token` for a client the manifest does not have in the environment";
    TokenNotApplied = "mpctl::token::not_applied", "`token` for a client that is not live in the environment (apply first, or pin its `client_id`)";
    TokenNotJwt = "mpctl::token::not_jwt", "`token --decode` of an opaque access token, which has no claims to show";
    ApiStatus = "mpctl::api::status", "the API answered with an error status";
    ApiTransport = "mpctl::api::transport", "the API could not be reached, or its answer could not be read";
    ApiAuth = "mpctl::api::auth", "no access token could be obtained";
    ApiUnsupported = "mpctl::api::unsupported", "the environment has no API for the change (do it in Samarbeidsportalen)";
    ApiRefused = "mpctl::api::refused", "a request not sent, because it would not mean what was intended";
    EndpointsMissing = "mpctl::endpoints::missing", "an environment whose endpoints cannot be worked out";
    EndpointsMetadata = "mpctl::endpoints::metadata", "the authorisation server's metadata cannot be fetched or read";
    LiveUnreadable = "mpctl::live::unreadable", "the live state of an environment could not be read";
    AuthScopeNotHeld = "mpctl::auth::scope_not_held", "the admin client lacks a self-service scope the command needs";
    CredentialsMissing = "mpctl::credentials::missing", "an environment's credentials are not set";
    CredentialsUnreadable = "mpctl::credentials::unreadable", "a credential file cannot be read";
    CredentialsBadKey = "mpctl::credentials::bad_key", "a private key that cannot be read";
    CredentialsNoKid = "mpctl::credentials::no_kid", "a key without the `kid` Maskinporten needs";
    CredentialsBadKeystore = "mpctl::credentials::bad_keystore", "a keystore that cannot be opened";
    CredentialsWrongEnvironment = "mpctl::credentials::wrong_environment", "credentials made for another environment";
    CredentialsWrongOrganization = "mpctl::credentials::wrong_organization", "credentials of another organisation than the manifest's";
    CredentialsAdminScopes = "mpctl::credentials::admin_scopes", "`admin_scopes` or `MPCTL_<ENV>_SCOPES` is not a list of self-service scopes";
    EmulatorBind = "mpctl::emulator::bind", "the emulator cannot listen on the address";
    EmulatorIo = "mpctl::emulator::io", "the emulator cannot read or write its state";
    EmulatorOrganization = "mpctl::emulator::organization", "the embedded emulator has no organisation to act for";
    EmulatorLocked = "mpctl::emulator::locked", "the emulator's state is in use by another process";
    EmulatorCorrupt = "mpctl::emulator::corrupt", "the emulator's state file is not valid";
    EmulatorBootstrap = "mpctl::emulator::bootstrap", "a `--bootstrap` organisation that is not valid, or none where one is needed";
    EmulatorOption = "mpctl::emulator::option", "an emulator option (`--listen`, `--clock`, `--faults`, `--org-name`, `--env-file`) with a value it cannot use";
    EmulatorSetup = "mpctl::emulator::setup", "the emulator cannot start";
    ClockInvalid = "mpctl::clock::invalid", "`MPCTL_NOW` or `MPCTL_EMULATOR_NOW` is not an RFC 3339 time";
    IoRead = "mpctl::io::read", "a file, directory or answer a command needs cannot be read (the cause is shown)";
    IoWrite = "mpctl::io::write", "a file or directory a command writes cannot be created or written (the cause is shown)";
    RuntimeStart = "mpctl::runtime::start", "the async runtime cannot start (the system refused threads or file descriptors)";
    InternalBug = "mpctl::internal::bug", "something that cannot fail did (a bug in mpctl; please report it)";
}

impl Code {
    /// The code whose text is `code`, if there is one.
    pub fn from_code(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// Whether the code is a usage error: a flag's value the command cannot use, or flags that
    /// do not go together, found after clap parsed them. The command exits 64 for these, as for
    /// clap's own usage errors, so that a workflow's typo never reads as "changes" (2) or as
    /// an ordinary failure (1).
    pub const fn is_usage(self) -> bool {
        matches!(
            self,
            Code::EnvUnknown
                | Code::PlanEnvironment
                | Code::ApplyNoSavedPlan
                | Code::ImportOrg
                | Code::EmulatorBootstrap
                | Code::EmulatorOption
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Code> for String {
    fn from(code: Code) -> String {
        code.as_str().to_owned()
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The table of codes in `docs/manifest.md`, one row per code.
pub fn docs_table() -> String {
    let mut table = String::from("| code | problem |\n|---|---|\n");
    for code in Code::ALL {
        table.push_str(&format!("| `{}` | {} |\n", code.as_str(), code.meaning()));
    }
    table
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    const TABLE_START: &str = "<!-- diagnostic codes: start -->\n";
    const TABLE_END: &str = "<!-- diagnostic codes: end -->\n";

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is in the catalogue twice");
            let parts: Vec<&str> = text.split("::").collect();
            assert!(
                parts.len() == 3
                    && parts[0] == "mpctl"
                    && parts[1..].iter().all(|p| !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
                "{text} is not of the form mpctl::area::name"
            );
            assert!(!code.meaning().is_empty() && !code.meaning().contains('\n'));
            assert!(
                !code.meaning().contains('|'),
                "{text}: a `|` would break the table"
            );
            assert_eq!(Code::from_code(text), Some(*code));
        }
        assert_eq!(Code::from_code("mpctl::no::such"), None);
    }

    #[test]
    fn the_docs_table_is_generated_from_the_catalogue() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manifest.md");
        let docs = std::fs::read_to_string(&path).unwrap();
        let start = docs
            .find(TABLE_START)
            .expect("the start marker in docs/manifest.md");
        let end = docs
            .find(TABLE_END)
            .expect("the end marker in docs/manifest.md");
        let committed = &docs[start + TABLE_START.len()..end];
        let expected = docs_table();
        assert!(
            committed == expected,
            "the table of codes in docs/manifest.md is not the catalogue's; replace the lines \
             between the markers with:\n\n{expected}"
        );
    }

    /// The Rust files under `dir`, leaving out the directories named in `skip`.
    fn rust_files(dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !skip.iter().any(|s| path.ends_with(s)) {
                    rust_files(&path, skip, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every code written in the source is one of the catalogue's: string literals only here,
    /// and `code(...)` attributes of derived diagnostics by their text.
    #[test]
    fn every_code_in_the_source_is_in_the_catalogue() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &[], &mut files);
        let this = src.join("diagnostic_code.rs");
        let mut derived = 0;
        for file in files.iter().filter(|f| **f != this) {
            let text = std::fs::read_to_string(file).unwrap();
            let literal = ["\"", "mpctl::"].concat();
            assert!(
                !text.contains(&literal),
                "{} writes a code as a string; use diagnostic_code::Code",
                file.display()
            );
            let attribute = ["code(", "mpctl::"].concat();
            for (at, _) in text.match_indices(&attribute) {
                let rest = &text[at + "code(".len()..];
                let code = &rest[..rest.find(')').unwrap()];
                assert!(
                    Code::from_code(code).is_some(),
                    "{}: `{code}` is not in the catalogue",
                    file.display()
                );
                derived += 1;
            }
        }
        assert!(derived > 0, "the scan found no derived codes");
    }

    /// Every error mpctl makes itself carries a code: each `miette!`/`bail!` in `src/` (the
    /// benchmark's developer tooling aside) names one, and no command turns a plain error into
    /// a code-less report with `into_diagnostic` (`failure::OrFail` gives it a code instead;
    /// `wrap_err` keeps the code of the report it wraps).
    #[test]
    fn every_error_has_a_code() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &["bench"], &mut files);
        let mut macros = 0;
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let name = path.display();
            if path.starts_with(src.join("commands")) {
                assert!(
                    !code.contains(".into_diagnostic()"),
                    "{name}: `into_diagnostic` makes an error without a code; use `or_fail`"
                );
            }
            for opener in ["miette!(", "bail!("] {
                for (at, _) in code.match_indices(opener) {
                    let body = &code[at + opener.len()..];
                    let mut depth = 1;
                    let end = body
                        .char_indices()
                        .find(|(_, c)| {
                            match c {
                                '(' => depth += 1,
                                ')' => depth -= 1,
                                _ => {}
                            }
                            depth == 0
                        })
                        .map_or(body.len(), |(i, _)| i);
                    let line = code[..at].lines().count();
                    assert!(
                        body[..end].contains("code = Code::"),
                        "{name}:{line}: an error without `code = Code::…`"
                    );
                    macros += 1;
                }
            }
        }
        assert!(macros > 40, "the scan found only {macros} errors");
    }
}
