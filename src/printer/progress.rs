//! How a long run shows that it is alive: a spinner or bar on a terminal, counting requests or
//! changes; a line every few seconds elsewhere (CI logs); and `tracing` events printed through
//! the [`Printer`], so no log line breaks into a bar or ignores `--quiet`.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Printer;
use crate::api::requests_sent;
use crate::apply::Progress;
use crate::plan::{Change, Phase};

/// How often a progress line is printed when stderr is not a terminal: `MPCTL_PROGRESS_SECONDS`
/// (a positive number; default 5).
pub fn interval() -> Duration {
    std::env::var("MPCTL_PROGRESS_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

/// `1,200`: a count with thousands separated, as progress lines show it.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A key for indicatif templates: the requests sent since the display started.
fn requests_key(
    since: u64,
) -> impl Fn(&indicatif::ProgressState, &mut dyn std::fmt::Write) + Send + Sync + Clone + 'static {
    move |_, w| {
        let _ = write!(w, "{}", thousands(requests_sent().saturating_sub(since)));
    }
}

/// The spinner shown while live state is read: message, requests sent, time taken.
pub(crate) fn spinner_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{spinner} {msg} ({requests} requests, {elapsed})")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
        .with_key("requests", requests_key(requests_sent()))
}

/// Awaits `work`, printing `message: N requests, T s` every [`interval`] while it runs.
pub(crate) async fn with_lines<T>(
    printer: &Printer,
    message: &str,
    work: impl std::future::Future<Output = T>,
) -> T {
    let every = interval();
    let started = Instant::now();
    let since = requests_sent();
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let work = std::pin::pin!(work);
    let mut work = work;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticker.tick() => printer.status(&format!(
                "{message}: {} requests, {} s",
                thousands(requests_sent().saturating_sub(since)),
                started.elapsed().as_secs()
            )),
        }
    }
}

/// Progress as an indicatif bar on a terminal: changes done of all, and requests sent.
pub struct BarProgress {
    bar: indicatif::ProgressBar,
    printer: Option<Printer>,
}

impl BarProgress {
    /// A bar over `total` changes.
    pub fn new(total: usize) -> Self {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} changes, {requests} requests {wide_msg}",
        ) {
            bar.set_style(
                style
                    .progress_chars("=> ")
                    .with_key("requests", requests_key(requests_sent())),
            );
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        Self { bar, printer: None }
    }

    /// The bar, for the printer to print other lines above it.
    pub(crate) fn bar(&self) -> indicatif::ProgressBar {
        self.bar.clone()
    }

    /// Tells `printer` when the bar is gone.
    pub(crate) fn releasing(mut self, printer: Printer) -> Self {
        self.printer = Some(printer);
        self
    }
}

impl Progress for BarProgress {
    fn phase(&self, env: &str, phase: Phase, _: usize) {
        self.bar
            .set_prefix(format!("{env} · phase {}", phase.number()));
        self.bar.set_message(phase.title());
    }

    fn finished(&self, change: &Change, error: Option<&str>) {
        self.bar.inc(1);
        if let Some(e) = error {
            self.bar
                .println(format!("FAILED {}: {e}", change.headline()));
        }
    }

    fn end(&self) {
        if let Some(printer) = &self.printer {
            printer.set_live(None);
        }
        self.bar.finish_and_clear();
    }
}

/// Progress as plain lines on stderr (CI logs): one per phase, one per failure, and
/// `prod: 1,200 of 2,431 changes, 41 s` every [`interval`]; one per change with `-v`.
pub struct LineProgress {
    printer: Printer,
    total: usize,
    done: AtomicUsize,
    started: Instant,
    last: Mutex<Instant>,
    every: Duration,
    /// The environment being applied (from the first phase).
    env: Mutex<String>,
}

impl LineProgress {
    pub fn new(printer: &Printer, total: usize) -> Self {
        let now = Instant::now();
        Self {
            printer: printer.clone(),
            total,
            done: AtomicUsize::new(0),
            started: now,
            last: Mutex::new(now),
            every: interval(),
            env: Mutex::default(),
        }
    }

    /// The count line, when the last line is at least an interval old.
    fn tick(&self, done: usize) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() < self.every {
            return;
        }
        *last = Instant::now();
        let env = self.env.lock().map(|e| e.clone()).unwrap_or_default();
        self.printer.status(&format!(
            "{env}: {} of {} changes, {} s",
            thousands(done as u64),
            thousands(self.total as u64),
            self.started.elapsed().as_secs()
        ));
    }
}

impl Progress for LineProgress {
    fn phase(&self, env: &str, phase: Phase, count: usize) {
        if let Ok(mut current) = self.env.lock() {
            env.clone_into(&mut current);
        }
        self.printer.status(&format!(
            "{env}: phase {} ({}): {count} change{}",
            phase.number(),
            phase.title(),
            if count == 1 { "" } else { "s" }
        ));
    }

    fn finished(&self, change: &Change, error: Option<&str>) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match error {
            None => self.printer.detail(&format!(
                "  done    {} {}",
                change.kind.symbol(),
                change.headline()
            )),
            Some(e) => self.printer.status(&format!(
                "  FAILED  {} {}: {e}",
                change.kind.symbol(),
                change.headline()
            )),
        }
        self.tick(done);
    }
}

/// A `tracing` layer that prints warnings and errors through the printer: `warning: the
/// outcome of creating the scope is unknown; … (env: test, scope: acme:a)`, above any bar, and
/// no warning with `--quiet`.
pub(crate) struct EventPrinter {
    printer: Printer,
}

impl EventPrinter {
    pub(crate) fn new(printer: Printer) -> Self {
        Self { printer }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for EventPrinter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let mut text = fields.message;
        if !fields.others.is_empty() {
            let _ = write!(text, " ({})", fields.others.join(", "));
        }
        if *event.metadata().level() == tracing::Level::ERROR {
            self.printer.error(&text);
        } else {
            self.printer.warn(&text);
        }
    }
}

/// An event's message and other fields as text.
#[derive(Default)]
struct EventFields {
    message: String,
    others: Vec<String>,
}

impl tracing::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.others.push(format!("{}: {value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.others.push(format!("{}: {value:?}", field.name()));
        }
    }
}

/// A `tracing_subscriber` writer that hands each log line to the printer (above any bar).
pub(crate) struct LineWriter {
    printer: Printer,
}

impl LineWriter {
    pub(crate) fn new(printer: Printer) -> Self {
        Self { printer }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LineWriter {
    type Writer = BufferedLine;

    fn make_writer(&'a self) -> Self::Writer {
        BufferedLine {
            printer: self.printer.clone(),
            buf: Vec::new(),
        }
    }
}

/// One log event's text, printed when the formatter is done with it.
pub(crate) struct BufferedLine {
    printer: Printer,
    buf: Vec<u8>,
}

impl std::io::Write for BufferedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BufferedLine {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.printer.eprint(&String::from_utf8_lossy(&self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_thousands_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_200), "1,200");
        assert_eq!(thousands(2_431_000), "2,431,000");
    }
}
