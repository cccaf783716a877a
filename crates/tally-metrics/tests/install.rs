//! `install()` makes the recorder the process's global `metrics` recorder on the global
//! tally registry, once; a second install says so. (Its own test binary: the global
//! recorder can be set once per process.)

#[test]
fn install_once_records_into_the_global_registry_and_a_second_install_is_refused() {
    let recorder = tally_metrics::install().expect("the first install");
    metrics::counter!("installed_total", "via" => "global").increment(3);
    let snap = tally::global().snapshot();
    let series = &snap.metrics["installed_total"].series;
    assert_eq!(series[0].labels, ["global"]);
    assert_eq!(series[0].snapshot.get("installed_total"), Some(&tally::Value::Counter(3)));
    // Nothing uninvited in the global registry: the recorder's stats are not exposed.
    assert!(!snap.metrics.contains_key(tally_metrics::STATS_METRIC));

    let again = tally_metrics::install().unwrap_err();
    assert!(matches!(again, tally_metrics::InstallError::AlreadyInstalled));
    assert!(again.to_string().contains("already installed"), "{again}");
    // Another recorder, on a registry of its own: refused too, its registry untouched.
    let registry = std::sync::Arc::new(tally::Registry::new());
    let other = tally_metrics::TallyRecorder::builder().registry(registry.clone()).build().unwrap();
    assert!(matches!(other.install_global(), Err(tally_metrics::InstallError::AlreadyInstalled)));
    metrics::counter!("installed_total", "via" => "global").increment(1);
    assert!(!registry.snapshot().metrics.contains_key("installed_total"));
    assert_eq!(recorder.stats(), Default::default());
}
