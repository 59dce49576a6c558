//! mpctl's one clock (the emulator keeps its own, which tests move). Key expiry and retirement
//! are judged by [`now_unix`], which tests and users may set; what must follow the real time
//! (token grants, benchmarks) reads [`system_now`].

use crate::diagnostic_code::Code;

/// The real time, in Unix seconds.
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The time mpctl judges keys by (Unix seconds). `MPCTL_NOW` (RFC 3339), or else
/// `MPCTL_EMULATOR_NOW` (the `local` emulator's clock), overrides it, so that expiry can be
/// tested without waiting; an unparsable value is an error, not ignored.
pub fn now_unix() -> miette::Result<i64> {
    for var in ["MPCTL_NOW", "MPCTL_EMULATOR_NOW"] {
        if let Ok(value) = std::env::var(var) {
            let parsed = time::OffsetDateTime::parse(
                value.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                miette::miette!(
                    code = Code::ClockInvalid,
                    help = "use RFC 3339, e.g. 2026-11-25T12:00:00Z, or unset it",
                    "{var} is not a valid time: {e}"
                )
            })?;
            return Ok(parsed.unix_timestamp());
        }
    }
    Ok(system_now())
}
