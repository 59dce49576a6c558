//! A few seeded soak trials (see `mpctl::bench::soak`): a small manifest applied while the
//! emulator injects 503s, 429s, latency spikes and dropped connections and is restarted from its
//! state file mid-apply; a re-run must converge to a plan with no changes and a live state equal
//! to the manifest. `mpctl bench soak` runs many more, larger ones.

use mpctl::bench::soak::{Options, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_a_restart_mid_apply_converge_to_exactly_the_manifest() {
    let options = Options::quick(4, 101);
    let work = tempfile::tempdir().unwrap();
    let report = run(&options, work.path(), &|_| {}).await;
    assert_eq!(report.trials_run, 4);
    let failures: Vec<String> = report
        .trials
        .iter()
        .filter(|t| !t.passed)
        .map(|t| format!("seed {}: {}", t.seed, t.failure.as_deref().unwrap_or("?")))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        report.trials.iter().any(|t| !t.restart.starts_with("none")),
        "no trial restarted the emulator mid-apply: {:?}",
        report.trials.iter().map(|t| &t.restart).collect::<Vec<_>>()
    );
    assert!(
        report
            .trials
            .iter()
            .all(|t| t.requests >= t.minimum_requests)
    );
}
