//! The process collector against `/proc` read independently here (plain file parsing, not
//! the `procfs` crate the collector uses): threads after spawning threads, open fds after
//! opening files, the fd limit, memory, CPU time and the start time. One test in its own
//! binary, so that no other test's threads or files move the figures meanwhile.
#![cfg(target_os = "linux")]

use std::fs::File;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tally::{ProcessStatsSnapshot, Registry, Value};

/// A field of `/proc/self/status` (`Threads:`, `VmRSS:` …), as a number (kB for memory).
fn status(field: &str) -> i64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field}"));
    line[field.len()..].split_whitespace().next().unwrap().parse().unwrap()
}

/// Entries of `/proc/self/fd` but the listing's own (the one whose link is the `fd`
/// directory itself).
fn open_fds() -> i64 {
    let dir = std::fs::canonicalize("/proc/self/fd").unwrap();
    let entries = std::fs::read_dir("/proc/self/fd").unwrap();
    let links = entries.map(|e| std::fs::read_link(e.unwrap().path()));
    // A descriptor closed between listing and reading has no link any more: not open.
    links.filter(|l| l.as_ref().is_ok_and(|l| *l != dir)).count() as i64
}

/// The soft limit on open files, from `/proc/self/limits`.
fn max_fds() -> i64 {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = text.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let soft = line["Max open files".len()..].split_whitespace().next().unwrap();
    if soft == "unlimited" { i64::MAX } else { soft.parse().unwrap() }
}

/// User plus system CPU time in clock ticks (`/proc/self/stat` fields 14 and 15), read
/// after the command name, which may hold spaces.
fn cpu_ticks() -> u64 {
    let text = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0], so field n is fields[n - 3].
    fields[14 - 3].parse::<u64>().unwrap() + fields[15 - 3].parse::<u64>().unwrap()
}

/// The process' figures as the registry's snapshot shows them.
fn collected(registry: &Registry) -> ProcessStatsSnapshot {
    let snap = registry.snapshot();
    let series = &snap.metrics["process"].series[0].snapshot;
    let gauge = |name| match series.get(name) {
        Some(Value::Gauge(v)) => *v,
        other => panic!("{name}: {other:?}"),
    };
    let cpu = match series.get("cpu_seconds_total") {
        Some(Value::CounterF64(v)) => *v,
        other => panic!("cpu_seconds_total: {other:?}"),
    };
    let start = match series.get("start_time_seconds") {
        Some(Value::GaugeF64(v)) => *v,
        other => panic!("start_time_seconds: {other:?}"),
    };
    ProcessStatsSnapshot {
        cpu_seconds_total: cpu,
        resident_memory_bytes: gauge("resident_memory_bytes"),
        virtual_memory_bytes: gauge("virtual_memory_bytes"),
        open_fds: gauge("open_fds"),
        max_fds: gauge("max_fds"),
        threads: gauge("threads"),
        start_time_seconds: start,
    }
}

#[test]
fn the_process_collector_reports_what_proc_says() {
    let registry = Registry::new();
    registry.register_process_metrics().unwrap();
    let before = collected(&registry);
    assert_eq!(before.threads, status("Threads:"));
    assert_eq!(before.open_fds, open_fds());
    assert_eq!(before.max_fds, max_fds());

    // Five more threads, parked until the figures are read.
    let parked = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let parked = Arc::clone(&parked);
            thread::spawn(move || {
                parked.wait();
            })
        })
        .collect();
    // Ten more open files.
    let files: Vec<File> = (0..10).map(|_| File::open("/proc/self/stat").unwrap()).collect();
    // 64 MiB more resident memory, touched page by page.
    let memory = vec![1u8; 64 << 20];

    let now = collected(&registry);
    assert_eq!(now.threads, before.threads + 5);
    assert_eq!(now.threads, status("Threads:"));
    assert_eq!(now.open_fds, before.open_fds + 10);
    assert_eq!(now.open_fds, open_fds());
    let rss = status("VmRSS:") * 1024;
    let grew = now.resident_memory_bytes - before.resident_memory_bytes;
    assert!(grew >= 60 << 20, "resident memory grew by {grew} bytes for 64 MiB");
    assert!(
        (now.resident_memory_bytes - rss).abs() < 8 << 20,
        "{} vs VmRSS {rss}",
        now.resident_memory_bytes
    );
    let vm = status("VmSize:") * 1024;
    assert!(
        (now.virtual_memory_bytes - vm).abs() < 64 << 20,
        "{} vs VmSize {vm}",
        now.virtual_memory_bytes
    );
    assert!(now.virtual_memory_bytes >= now.resident_memory_bytes);

    parked.wait();
    for t in threads {
        t.join().unwrap();
    }
    drop(files);
    assert_eq!(memory.iter().map(|&b| u64::from(b)).sum::<u64>(), 64 << 20);
    drop(memory);
    let after = collected(&registry);
    assert_eq!(after.threads, before.threads);
    assert_eq!(after.open_fds, before.open_fds);

    // CPU time: /proc counts in USER_HZ ticks, 100 a second on Linux; exposed as the
    // nearest f64 to ticks / 100 (not truncated to whole seconds).
    // Spin until the process has used 1.1 s of CPU (however busy the machine is).
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    let mut x = 0u64;
    while cpu_ticks() < 110 {
        assert!(std::time::Instant::now() < give_up, "no CPU time in 60 s");
        for _ in 0..100_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    let ticks_before = cpu_ticks();
    let cpu = collected(&registry).cpu_seconds_total;
    let ticks_after = cpu_ticks();
    assert!(cpu >= 1.1, "spun for 1.1 s of CPU, {cpu} s reported");
    let ticks = (cpu * 100.0).round() as u64;
    assert_eq!(cpu, ticks as f64 / 100.0, "{cpu} s is not a whole number of ticks");
    assert!(
        (ticks_before..=ticks_after).contains(&ticks),
        "{cpu} s vs {ticks_before}..{ticks_after} ticks"
    );

    // Started at most a minute ago (this test binary), not in the future.
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let start = after.start_time_seconds;
    assert!(
        start <= unix_now + 1.0 && start >= unix_now - 60.0,
        "started at {start}, now {unix_now}"
    );

    // Registered once: a second registration is refused.
    assert!(matches!(registry.register_process_metrics(), Err(tally::ProcessError::Registry(_))));
}
