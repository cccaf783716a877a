//! Collecting a directory of shared files: the live processes' shards, plus an archive of
//! what exited processes recorded, folded in exactly once.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tally_snapshot::{MetricSnapshot, RegistrySnapshot, SeriesSnapshot, SetSnapshot, Value};

use super::{SHARED_SUFFIX, SharedError, SharedSeries, claim_if_gone, lock, read_shared};

/// The archive: what exited processes recorded, and which files it holds.
const ARCHIVE: &str = "archive.json";
/// Held (exclusive `flock`) by a collector while it collects; never by a recording process.
const LOCK: &str = "collect.lock";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Archive {
    /// Files folded in. A file listed here is never folded again, even if a collector
    /// died between writing the archive and removing the file; names are dropped once
    /// their file is gone.
    folded: Vec<String>,
    snapshot: RegistrySnapshot,
}

/// What [`collect_shared`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SharedCollection {
    /// Every live process's sets plus the archive of exited ones, merged by metric and
    /// labels.
    pub snapshot: RegistrySnapshot,
    /// Files of live processes read.
    pub live: usize,
    /// Files of exited processes folded into the archive (and removed) by this collection.
    pub folded: usize,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SharedError + 'a {
    move |source| SharedError::Io { what, path: path.into(), source }
}

/// Collects the directory `dir`: folds the files of processes that are gone (exited or
/// killed: their lock is free) into the archive, exactly once, with their gauges dropped
/// unless their set keeps them (`SetDesc::kept_gauges`), and removes them; then reads every live file and merges
/// it all. Collectors take turns (a lock file in `dir`); recording processes never wait.
/// The cost grows with the live processes and the distinct series, not with how many
/// processes ever ran.
///
/// # Errors
///
/// [`SharedError::Io`] when the directory or a file cannot be read or written;
/// [`SharedError::Corrupt`] for a damaged file or archive.
pub fn collect_shared(dir: &Path) -> Result<SharedCollection, SharedError> {
    let lock_file = lock_collection(dir)?;
    let result = collect_locked(dir);
    drop(lock_file);
    result
}

/// Takes the directory's collect lock (waiting for another collector to finish); it is
/// held until the returned file is dropped.
fn lock_collection(dir: &Path) -> Result<File, SharedError> {
    let lock_path = dir.join(LOCK);
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("cannot open", &lock_path))?;
    lock(&lock_file, false).map_err(io("cannot lock", &lock_path))?;
    Ok(lock_file)
}

fn collect_locked(dir: &Path) -> Result<SharedCollection, SharedError> {
    let archive_path = dir.join(ARCHIVE);
    let mut archive: Archive = match std::fs::read(&archive_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| SharedError::Corrupt { path: archive_path.clone(), why: e.to_string() })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Archive::default(),
        Err(e) => return Err(io("cannot read", &archive_path)(e)),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io("cannot list", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(SHARED_SUFFIX)))
        .collect();
    files.sort();
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    // Names of files already gone need no remembering.
    let present: Vec<String> = files.iter().map(|p| name(p)).collect();
    let before = archive.folded.len();
    archive.folded.retain(|n| present.contains(n));
    let mut changed = archive.folded.len() != before;

    let mut claimed = Vec::new();
    let mut live = Vec::new();
    for path in files {
        let n = name(&path);
        match claim_if_gone(&path)? {
            Some(gone) if archive.folded.contains(&n) => claimed.push(gone),
            Some(gone) => {
                let exited = as_registry(gone.read()?, true)?;
                archive.snapshot.try_merge(&exited).map_err(|e| SharedError::Corrupt {
                    path: gone.path().into(),
                    why: format!("it does not merge with the archive: {e}"),
                })?;
                archive.folded.push(n);
                changed = true;
                claimed.push(gone);
            }
            None => live.push(path),
        }
    }
    let folded = claimed.len();
    if changed {
        let temp = dir.join(format!("{ARCHIVE}.tmp"));
        let bytes = serde_json::to_vec(&archive)
            .map_err(|e| SharedError::Corrupt { path: archive_path.clone(), why: e.to_string() })?;
        let mut f = File::create(&temp).map_err(io("cannot write", &temp))?;
        std::io::Write::write_all(&mut f, &bytes).map_err(io("cannot write", &temp))?;
        f.sync_all().map_err(io("cannot sync", &temp))?;
        std::fs::rename(&temp, &archive_path).map_err(io("cannot replace", &archive_path))?;
    }
    // Only now that the archive holds them (and names them) are the files removed.
    for gone in claimed {
        gone.remove()?;
    }
    let mut snapshot = archive.snapshot;
    let live_count = live.len();
    for path in live {
        let series = match read_shared(&path) {
            Ok(s) => s,
            // Exited and folded by another collector between our listing and our read.
            Err(SharedError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let registry = as_registry(series, false)?;
        snapshot.try_merge(&registry).map_err(|e| SharedError::Corrupt {
            path: path.clone(),
            why: format!("it does not merge with the other processes': {e}"),
        })?;
    }
    Ok(SharedCollection { snapshot, live: live_count, folded })
}

/// A file's sets as a registry snapshot; `exited`: the gauges their sets do not keep are
/// dropped (zero, stamp 0: what merging ignores).
fn as_registry(series: Vec<SharedSeries>, exited: bool) -> Result<RegistrySnapshot, SharedError> {
    let mut metrics: BTreeMap<String, MetricSnapshot> = BTreeMap::new();
    for s in series {
        let snapshot =
            if exited { without_gauges(&s.snapshot, &s.desc.kept_gauges)? } else { s.snapshot };
        let metric = metrics.entry(s.desc.metric.clone()).or_insert_with(|| MetricSnapshot {
            help: s.desc.help.clone(),
            unit: None,
            label_names: s.desc.label_names.clone(),
            series: Vec::new(),
            overflow_redirects: 0,
        });
        metric.series.push(SeriesSnapshot { labels: s.desc.labels, snapshot });
    }
    for m in metrics.values_mut() {
        m.series.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    Ok(RegistrySnapshot { metrics })
}

fn without_gauges(s: &SetSnapshot, kept: &[String]) -> Result<SetSnapshot, SharedError> {
    let values = s
        .iter()
        .map(|(f, v)| {
            let dropped = f.kind.is_gauge() && !kept.iter().any(|k| *k == f.name);
            if dropped { Value::zero(f.kind) } else { v.clone() }
        })
        .collect();
    SetSnapshot::new(s.fields().to_vec(), values)
        .map_err(|e| SharedError::Unsupported(e.to_string()))
}

/// Prepares `dir` for a fresh start of a multi-process service (call it in the parent
/// before any worker starts): creates it if missing, and removes the archive and every
/// file whose process is gone, so that counters start from zero as a restarted service's
/// do. Files of live processes (another service sharing the directory) are left alone.
///
/// # Errors
///
/// [`SharedError::Io`] when the directory cannot be created, listed or cleaned.
pub fn reset_shared(dir: &Path) -> Result<(), SharedError> {
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let _lock = lock_collection(dir)?;
    for entry in std::fs::read_dir(dir).map_err(io("cannot list", dir))? {
        let path = entry.map_err(io("cannot list", dir))?.path();
        if path.to_str().is_some_and(|s| s.ends_with(SHARED_SUFFIX))
            && let Some(gone) = claim_if_gone(&path)?
        {
            gone.remove()?;
        }
    }
    let archive = dir.join(ARCHIVE);
    match std::fs::remove_file(&archive) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot remove", &archive)(e)),
    }
}
