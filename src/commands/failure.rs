//! Failures of the commands' own I/O, each with its code from the catalogue and the underlying
//! error shown as its cause (as `wrap_err` shows it).

use std::fmt;

use crate::diagnostic_code::Code;

/// A message with its code, and the error that caused it.
#[derive(Debug)]
pub(crate) struct Failure {
    code: Code,
    message: String,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

impl miette::Diagnostic for Failure {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
}

/// Turns an error into a [`Failure`]: `.or_fail(Code::IoWrite, || format!("cannot write {}", path.display()))`.
pub(crate) trait OrFail<T> {
    fn or_fail(self, code: Code, message: impl FnOnce() -> String) -> miette::Result<T>;
}

impl<T, E> OrFail<T> for Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn or_fail(self, code: Code, message: impl FnOnce() -> String) -> miette::Result<T> {
        self.map_err(|source| {
            miette::Report::new(Failure {
                code,
                message: message(),
                source: Box::new(source),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_has_its_code_and_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let report = Err::<(), _>(io)
            .or_fail(Code::IoWrite, || "cannot write out.yaml".into())
            .unwrap_err();
        assert_eq!(report.to_string(), "cannot write out.yaml");
        assert_eq!(
            report.code().map(|c| c.to_string()).as_deref(),
            Some(Code::IoWrite.as_str())
        );
        let cause = report.chain().nth(1).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("denied"));
    }
}
