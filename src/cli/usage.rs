//! Usage errors beyond what clap's derive checks: a flag that means nothing with the file given,
//! and suggestions for a mistyped subcommand that never name a hidden one.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser};

use super::{Cli, Command};

impl Cli {
    /// Parses `args` (the program name first) as [`Parser::try_parse_from`] does, and refuses
    /// as a usage error what clap cannot see: `apply PLAN_FILE --base REF`.
    pub fn try_parse_checked_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args).map_err(without_hidden_suggestions)?;
        cli.check_usage()?;
        Ok(cli)
    }

    fn check_usage(&self) -> Result<(), clap::Error> {
        if let Command::Apply(args) = &self.command
            && args.base.is_some()
            && let [path] = args.paths.as_slice()
            && crate::plan::saved::is_plan_file(path)
        {
            // A saved plan's manual steps were chosen when it was planned (`plan --base`) and
            // are applied as reviewed, so a base given now could only be ignored.
            let mut command = Cli::command();
            command.build();
            let apply = command
                .find_subcommand_mut("apply")
                .expect("`apply` is a subcommand");
            return Err(apply.error(
                ErrorKind::ArgumentConflict,
                format!(
                    "the argument '--base <REF>' cannot be used with a saved plan ({}): its manual \
                     steps were chosen when it was planned; pass --base to `mpctl plan --out`",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

/// `error` without the hidden subcommands among its suggestions (clap suggests them too): a
/// mistyped `benc` is not pointed at the hidden `bench`.
fn without_hidden_suggestions(mut error: clap::Error) -> clap::Error {
    if error.kind() != ErrorKind::InvalidSubcommand {
        return error;
    }
    let mut hidden = Vec::new();
    hidden_subcommands(&Cli::command(), &mut hidden);
    if let Some(ContextValue::Strings(suggested)) = error.remove(ContextKind::SuggestedSubcommand) {
        let shown: Vec<String> = suggested
            .into_iter()
            .filter(|s| !hidden.contains(s))
            .collect();
        if !shown.is_empty() {
            error.insert(
                ContextKind::SuggestedSubcommand,
                ContextValue::Strings(shown),
            );
        }
    }
    // An empty list of other tips would still print as a blank line.
    if let Some(ContextValue::StyledStrs(tips)) = error.get(ContextKind::Suggested)
        && tips.is_empty()
    {
        error.remove(ContextKind::Suggested);
    }
    error
}

/// The names and aliases of every hidden subcommand, at any depth.
fn hidden_subcommands(command: &clap::Command, out: &mut Vec<String>) {
    for sub in command.get_subcommands() {
        if sub.is_hide_set() {
            out.push(sub.get_name().to_owned());
            out.extend(sub.get_all_aliases().map(str::to_owned));
        }
        hidden_subcommands(sub, out);
    }
}
