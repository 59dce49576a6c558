//! One place that owns how much to print and whether to colour it: every command writes its
//! results and progress through a [`Printer`].

pub mod progress;

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use crate::cli::{ColorChoice, GlobalArgs};

/// Width of rendered diagnostics, fixed so that output is the same everywhere.
pub(crate) const RENDER_WIDTH: usize = 100;

/// How much to print, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Owns quiet/verbose and colour for a run, and the progress display: every line to stderr goes
/// through it, so that warnings and status lines are printed above a spinner or bar, not into
/// it, and `--quiet` silences all but errors and the result.
#[derive(Debug, Clone)]
pub struct Printer {
    pub verbosity: Verbosity,
    /// Whether stdout gets ANSI colour.
    pub color: bool,
    /// Whether stderr is a terminal (progress bars, prompts).
    pub interactive: bool,
    /// The spinner or bar on stderr now, if any.
    live: Arc<Mutex<Option<indicatif::ProgressBar>>>,
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
        Self::with(verbosity, color, std::io::stderr().is_terminal())
    }

    /// A printer with these settings.
    pub fn with(verbosity: Verbosity, color: bool, interactive: bool) -> Self {
        Self {
            verbosity,
            color,
            interactive,
            live: Arc::default(),
        }
    }

    /// A printer for tests and library use: normal verbosity, no colour, not interactive.
    pub fn plain() -> Self {
        Self::with(Verbosity::Normal, false, false)
    }

    /// Sets up `tracing`. Without `-v` (or `RUST_LOG`), warnings and errors are printed by this
    /// printer like its own (`warning: …`, none with `--quiet`); `-v` shows HTTP requests
    /// (info), `-vv` debug, `-vvv` trace, as log lines. Logs go to stderr.
    pub fn init_tracing(&self, verbose: u8) {
        use tracing_subscriber::EnvFilter;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let from_env = EnvFilter::try_from_default_env().ok();
        if verbose == 0 && from_env.is_none() {
            use tracing_subscriber::Layer;
            let layer = progress::EventPrinter::new(self.clone())
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
            let _ = tracing_subscriber::registry().with(layer).try_init();
            return;
        }
        let default = match verbose {
            0 | 1 => "warn,mpctl=info",
            2 => "info,mpctl=debug",
            _ => "debug,mpctl=trace",
        };
        let filter = from_env.unwrap_or_else(|| EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(progress::LineWriter::new(self.clone()))
            .with_ansi(self.color && std::io::stderr().is_terminal())
            .with_target(false)
            .try_init();
    }

    /// Prints a result line or block to stdout (always, even with `--quiet`).
    pub fn out(&self, text: &str) {
        self.above_live(|| {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = stdout.write_all(b"\n");
            }
            let _ = stdout.flush();
        });
    }

    /// Whether `--quiet` was given: print only errors and the one-line result.
    pub fn is_quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// Awaits `work` while showing that it runs: on a terminal a spinner with `message`, the
    /// requests sent and the time taken (cleared when done); elsewhere a line every few seconds
    /// (see [`progress::interval`]) once it has taken that long. Nothing with `--quiet`, nor
    /// with `-v`, whose request lines say it all.
    pub async fn while_waiting<T>(
        &self,
        message: &str,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        if self.verbosity != Verbosity::Normal {
            return work.await;
        }
        if !self.interactive {
            return progress::with_lines(self, message, work).await;
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_style(progress::spinner_style());
        spinner.set_message(message.to_owned());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        self.set_live(Some(spinner.clone()));
        let out = work.await;
        self.set_live(None);
        spinner.finish_and_clear();
        out
    }

    /// The progress display of applying `total` changes to an environment: a bar counting
    /// changes and requests on a terminal (when `bar` allows it: not under JSON output), a line
    /// per phase and a count every few seconds elsewhere (a line per change with `-v`), nothing
    /// with `--quiet` (the result says what failed).
    pub fn apply_progress(&self, total: usize, bar: bool) -> Box<dyn crate::apply::Progress> {
        match self.verbosity {
            Verbosity::Quiet => Box::new(crate::apply::NoProgress),
            Verbosity::Normal if self.interactive && bar => {
                let progress = progress::BarProgress::new(total);
                self.set_live(Some(progress.bar()));
                Box::new(progress.releasing(self.clone()))
            }
            _ => Box::new(progress::LineProgress::new(self, total)),
        }
    }

    /// Prints a status line to stderr, unless `--quiet`.
    pub fn status(&self, text: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.eprint(text);
        }
    }

    /// Prints a warning to stderr (`warning: …`), unless `--quiet`.
    pub fn warn(&self, text: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.eprint(&format!("warning: {text}"));
        }
    }

    /// Prints an error line to stderr (`error: …`), even with `--quiet`.
    pub fn error(&self, text: &str) {
        self.eprint(&format!("error: {text}"));
    }

    /// Prints a detail line to stderr with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.verbosity >= Verbosity::Verbose {
            self.eprint(text);
        }
    }

    /// Prints an error. An invalid manifest is reported exactly as `mpctl validate` reports
    /// it (each problem with its file, line and the YAML underlined, then the summary line),
    /// whichever command found it.
    pub fn report(&self, report: &miette::Report) {
        if let Some(diagnostics) = report.downcast_ref::<crate::manifest::Diagnostics>() {
            let mut diagnostics = diagnostics.clone();
            diagnostics.sort();
            let rendered = diagnostics.render(self.color, RENDER_WIDTH);
            self.eprint(&format!("{rendered}{}", diagnostics.error_summary()));
            return;
        }
        self.eprint(&format!("{report:?}"));
    }

    /// Prints a line (or lines) to stderr, above the spinner or bar if one is shown.
    fn eprint(&self, text: &str) {
        self.above_live(|| {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            if !text.ends_with('\n') {
                let _ = stderr.write_all(b"\n");
            }
            let _ = stderr.flush();
        });
    }

    /// Runs `print` with the spinner or bar (if any) hidden, so that its line stays intact.
    fn above_live(&self, print: impl FnOnce()) {
        let live = self.live.lock().ok().and_then(|l| l.clone());
        match live {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Sets the spinner or bar other lines are printed above.
    pub(crate) fn set_live(&self, bar: Option<indicatif::ProgressBar>) {
        if let Ok(mut live) = self.live.lock() {
            *live = bar;
        }
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
            let printer = Printer::with(verbosity, false, interactive);
            let work = async {
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
                42
            };
            assert_eq!(printer.while_waiting("Reading", work).await, 42);
        }
    }
}
