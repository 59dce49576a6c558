//! The integration tests: one binary, one module per area, driving the real `mpctl` binary
//! and the library against the in-process emulator. Shared helpers are in [`support`].

mod support;
mod test_context;

mod auth_admin_scopes;
mod auth_metadata;
mod auth_token;
mod bench_cli;
mod bench_fuzz;
mod bench_requests;
mod bench_soak;
mod cli_usage;
mod client_credentials;
mod client_emulator;
mod client_wire;
mod emulator_api;
mod emulator_persistence;
mod emulator_serve_env;
mod emulator_token;
mod engine_cli_behaviour;
mod engine_e2e;
mod engine_emulator_props;
mod engine_examples;
mod engine_examples_emulator;
mod engine_local;
mod engine_manual_steps;
mod engine_ordering_props;
mod engine_org_names;
mod engine_render;
mod gitops_docs;
mod gitops_loop;
mod gitops_user_workflows;
mod gitops_workflows;
mod import_cli;
mod import_emulator;
mod keys_lifecycle;
mod keys_list;
mod keys_rotate;
mod validate_cli;
mod validate_examples;
mod validate_fixtures;
mod validate_key_paths;
mod validate_same_report;
mod validate_schema;
mod validate_secrets;
