//! The plan as JSON for programs: the [`crate::plan::Plan`] document, versioned
//! ([`crate::plan::PLAN_FORMAT_VERSION`]) and described by `schema/plan.schema.json`. Field
//! order follows the types and changes are in execution order, so output is stable.

use crate::plan::Plan;

/// Renders a plan as pretty-printed JSON (with a trailing newline).
pub fn render(plan: &Plan) -> String {
    match serde_json::to_string_pretty(plan) {
        Ok(text) => text + "\n",
        Err(e) => format!("{{\"error\": \"cannot render the plan: {e}\"}}\n"),
    }
}
