//! One place that owns how much to print and whether to colour it: every command writes its
//! results and progress through a [`Printer`].

use std::io::{IsTerminal, Write};

use crate::cli::{ColorChoice, GlobalArgs};

/// How much to print, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Owns quiet/verbose and colour for a run.
#[derive(Debug, Clone)]
pub struct Printer {
    pub verbosity: Verbosity,
    /// Whether stdout gets ANSI colour.
    pub color: bool,
    /// Whether stderr is a terminal (progress bars, prompts).
    pub interactive: bool,
}

impl Printer {
    pub fn new(args: &GlobalArgs) -> Self {
        let verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Self {
            verbosity,
            color,
            interactive: std::io::stderr().is_terminal(),
        }
    }

    /// A printer for tests and library use: normal verbosity, no colour, not interactive.
    pub fn plain() -> Self {
        Self {
            verbosity: Verbosity::Normal,
            color: false,
            interactive: false,
        }
    }

    /// Sets up `tracing`: `-v` shows HTTP requests (info), `-vv` debug, `-vvv` trace.
    /// `RUST_LOG` overrides. Logs go to stderr.
    pub fn init_tracing(&self, verbose: u8) {
        use tracing_subscriber::EnvFilter;
        let default = match verbose {
            0 => "warn",
            1 => "warn,mpctl=info",
            2 => "info,mpctl=debug",
            _ => "debug,mpctl=trace",
        };
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(self.color && std::io::stderr().is_terminal())
            .with_target(false)
            .try_init();
    }

    /// Prints a result line or block to stdout (always, even with `--quiet`).
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
        let _ = stdout.flush();
    }

    /// Awaits `work` with a spinner, `message` and the time taken on stderr, when stderr is a
    /// terminal and neither `--quiet` nor `-v` (whose request lines would break into it) is
    /// given: reading a large organisation takes thousands of requests. Cleared when done.
    pub async fn while_waiting<T>(
        &self,
        message: &str,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        if !self.interactive || self.verbosity != Verbosity::Normal {
            return work.await;
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            spinner.set_style(style);
        }
        spinner.set_message(message.to_owned());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        let out = work.await;
        spinner.finish_and_clear();
        out
    }

    /// Prints a status line to stderr, unless `--quiet`.
    pub fn status(&self, text: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{text}");
        }
    }

    /// Prints a detail line to stderr with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{text}");
        }
    }

    /// Prints an error report to stderr (always).
    /// Prints an error. An invalid manifest is reported exactly as `mpctl validate` reports
    /// it (each problem with its file, line and the YAML underlined, then the summary line),
    /// whichever command found it.
    pub fn report(&self, report: &miette::Report) {
        if let Some(diagnostics) = report.downcast_ref::<crate::manifest::Diagnostics>() {
            let mut diagnostics = diagnostics.clone();
            diagnostics.sort();
            let rendered = diagnostics.render(self.color, crate::commands::RENDER_WIDTH);
            eprint!("{rendered}");
            eprintln!("{}", diagnostics.error_summary());
            return;
        }
        eprintln!("{report:?}");
    }
}

/// Installs the miette report handler with colour and width matching the printer.
pub fn install_miette_handler(printer: &Printer) {
    let color = printer.color || (printer.interactive && std::env::var_os("NO_COLOR").is_none());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(color)
                .terminal_links(false)
                .width(100)
                .build(),
        )
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_yields_the_works_result_with_or_without_a_spinner() {
        for (interactive, verbosity) in [
            (true, Verbosity::Normal),
            (true, Verbosity::Verbose),
            (false, Verbosity::Normal),
        ] {
            let printer = Printer {
                verbosity,
                color: false,
                interactive,
            };
            let work = async {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                42
            };
            assert_eq!(printer.while_waiting("Reading", work).await, 42);
        }
    }
}
