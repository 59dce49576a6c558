//! Every command judges keys by one clock: `MPCTL_NOW` (else `MPCTL_EMULATOR_NOW`) when set,
//! and an unparsable value is refused by each, `validate` included.

use crate::support::{TestContext, output_text};

const MANIFEST: &str = "version: 1\norganization: \"910753282\"\nenvironments: { test: {} }\n";

#[test]
fn validate_reads_the_same_clock_as_plan() {
    for var in ["MPCTL_NOW", "MPCTL_EMULATOR_NOW"] {
        let ctx = TestContext::new().env(var, "yesterday");
        ctx.write("mpctl.yaml", MANIFEST);
        for command in ["validate", "plan"] {
            let out = ctx.run(&[command, "mpctl.yaml"]);
            let text = output_text(&out);
            assert_eq!(out.status.code(), Some(1), "{command} with {var}: {text}");
            assert!(
                text.contains(&format!("{var} is not a valid time"))
                    && text.contains("mpctl::clock::invalid"),
                "{command} with {var}: {text}"
            );
        }
    }
    let ctx = TestContext::new().env("MPCTL_NOW", "2030-01-01T00:00:00Z");
    ctx.write("mpctl.yaml", MANIFEST);
    let out = ctx.run(&["validate", "mpctl.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
}
