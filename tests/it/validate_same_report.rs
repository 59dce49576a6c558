//! An invalid manifest is reported the same way whichever command finds it: `plan`, `apply`,
//! `drift` and `keys list` print exactly what `validate` prints (on standard error), exit 1 and
//! touch nothing.

use std::path::Path;

use crate::support::{mpctl_in, output_text};

#[test]
fn plan_apply_and_drift_print_the_report_validate_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = "tests/fixtures/invalid/schema-error-does-not-hide-rules.yaml";
    let validate = mpctl_in(root, &["validate", fixture])
        .output()
        .expect("run mpctl");
    assert_eq!(validate.status.code(), Some(1));
    let report = String::from_utf8(validate.stdout).unwrap();
    assert!(report.ends_with("2 errors in 1 file\n"), "{report}");

    for args in [
        vec!["plan", fixture],
        vec!["apply", fixture, "--yes"],
        vec!["drift", fixture],
        vec!["keys", "list", fixture],
    ] {
        let out = mpctl_in(root, &args).output().expect("run mpctl");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            output_text(&out)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            report,
            "{args:?} reports differently from validate"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", output_text(&out));
    }
}
