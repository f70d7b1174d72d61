//! Per-storage metrics of a cycle: how long each storage's store (upload, check, pruning) took,
//! and the bytes its upload wrote, in the metrics file (the endpoint and the Pushgateway get the
//! same text).

use std::fs;

use serde_json::json;

use crate::env::{TestEnv, assert_code, valid_archive};
use crate::vault_stand_in::VaultStandIn;

/// The value of the sample `series` (name and labels, exactly) in a metrics text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn each_storage_reports_how_long_its_last_store_took_and_the_bytes_it_uploaded() {
    let vault = VaultStandIn::start(valid_archive(3000));
    let env = TestEnv::new();
    let metrics_file = env.root.path().join("vault_raft_snapshot.prom");
    let second = env.root.path().join("second");
    fs::create_dir(&second).unwrap();
    env.write_config(
        &vault,
        json!({
            "metrics_file": metrics_file,
            "local_storage": [{"path": env.snaps}, {"path": second}],
        }),
    );
    let outcome = env.run(&["once"]);
    assert_code(&outcome, 0);
    let text = fs::read_to_string(&metrics_file).unwrap();
    assert_contains!(
        text,
        "# TYPE vault_raft_snapshot_storage_last_duration_seconds gauge\n"
    );
    let labels = |name: &str, path: &std::path::Path| {
        format!(
            "{{storage=\"{name}\",kind=\"local\",location=\"{}\"}}",
            path.display()
        )
    };
    let cycle = sample(&text, "vault_raft_snapshot_last_cycle_duration_seconds");
    for (name, path) in [("local-0", &env.snaps), ("local-1", &second)] {
        let took = sample(
            &text,
            &format!(
                "vault_raft_snapshot_storage_last_duration_seconds{}",
                labels(name, path)
            ),
        );
        assert!(
            took > 0.0 && took <= cycle,
            "{name}: {took} of {cycle}\n{text}"
        );
    }
    // The bytes uploaded: the stored file's size, in each storage.
    let files = env.files();
    assert_eq!(files.len(), 1, "{files:?}");
    let size = fs::metadata(env.snaps.join(&files[0])).unwrap().len();
    assert_eq!(fs::metadata(second.join(&files[0])).unwrap().len(), size);
    for (name, path) in [("local-0", &env.snaps), ("local-1", &second)] {
        let series = format!(
            "vault_raft_snapshot_storage_snapshot_bytes{}",
            labels(name, path)
        );
        assert_eq!(sample(&text, &series), size as f64, "{name}");
    }
}
