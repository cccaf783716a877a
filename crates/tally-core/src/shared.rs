//! Shared-memory shards: a process records into a file mapped in memory, which other
//! processes (a collector serving `/metrics`) read while it writes, and after it dies.
//!
//! One file per process ([`SharedFile`]); in it, a directory of JSON entries (sets, and
//! shards of sets) and the shards' words. A shard has one writer ([`ShardWriter`], whose
//! `record` takes `&mut self`: a thread records into a shard of its own), and two copies
//! of its words behind two sequence numbers: the two-copy latch of the heap shards
//! (docs/DESIGN.md, "Shared-memory shards"), so a collector always finds one copy whole
//! and never waits, and a writer killed mid-event (SIGKILL) leaves one copy whole: its
//! last event is in a snapshot entirely or not at all, and everything before it is there.
//!
//! The writer holds an exclusive `flock` on its file for as long as it lives; the kernel
//! drops it when the process dies, however it dies. A collector that can take the lock
//! knows the writer is gone ([`claim_if_gone`]).

mod collect;
mod words;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tally_snapshot::{FieldDesc, FieldKind, SetSnapshot};

use crate::FieldUpdate;
use crate::shared_latch as latch;

pub use collect::{SharedCollection, collect_shared, reset_shared};

/// "TALLYSH1", little-endian: the first word of every shared file.
const MAGIC: u64 = u64::from_le_bytes(*b"TALLYSH1");
const VERSION: u64 = 1;
/// Header words: magic, version, capacity (words), directory start, directory words,
/// directory words used, data start, pid, creation time (Unix ns); then spare.
const HEADER_WORDS: usize = 16;
const H_CAPACITY: usize = 2;
const H_DIR_START: usize = 3;
const H_DIR_WORDS: usize = 4;
const H_DIR_USED: usize = 5;
const H_DATA_START: usize = 6;
const H_PID: usize = 7;
const H_CREATED: usize = 8;
/// The suffix of shared files.
pub const SHARED_SUFFIX: &str = ".tally";

/// What can go wrong with shared shards.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SharedError {
    /// The operating system refused (creating, mapping or locking the file).
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file is full.
    #[error(
        "the shared metrics file {path} is full ({what}: {capacity} bytes); give a larger \
         capacity (TALLY_MULTIPROC_CAPACITY_MB) or fewer series"
    )]
    Full {
        /// The file.
        path: PathBuf,
        /// Which part ran out: the directory or the data.
        what: &'static str,
        /// That part's size.
        capacity: u64,
    },
    /// A file that is not a tally shared file, or a damaged one.
    #[error("{path} is not a readable tally shared metrics file: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A field kind shared shards do not store, or an update that does not fit its field.
    #[error("{0}")]
    Unsupported(String),
}

/// What a set is: the metric it belongs to, its labels, and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDesc {
    /// The registered metric's name.
    pub metric: String,
    /// Its help.
    pub help: String,
    /// Its label names (empty for a plain set).
    pub label_names: Vec<String>,
    /// This series' label values.
    pub labels: Vec<String>,
    /// The fields.
    pub fields: Vec<FieldDesc>,
    /// The gauge fields (gauges and last values, by name) a collector keeps after the
    /// process exits; the others are dropped, as the process no longer holds what they
    /// measured (default: none kept). Counters and histograms are always kept.
    #[serde(default)]
    pub kept_gauges: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
enum Entry {
    Set { id: u64, desc: SetDesc },
    Shard { set: u64, at: u64 },
}

/// The words of a file, as atomics.
struct Map {
    map: memmap2::MmapMut,
    path: PathBuf,
}

impl Map {
    fn open(file: &File, path: &Path) -> Result<Map, SharedError> {
        // SAFETY: the mapping is of a file that other processes write concurrently; every
        // access to it goes through `words()` as `AtomicU64`s (never a plain reference to
        // bytes), which is what concurrent access to memory requires. Truncation would
        // make it fault: tally never truncates a shared file, and the files live in a
        // directory the user gives tally for its own use.
        let map = unsafe { memmap2::MmapMut::map_mut(file) }.map_err(|source| SharedError::Io {
            what: "cannot map",
            path: path.into(),
            source,
        })?;
        Ok(Map { map, path: path.into() })
    }

    fn words(&self) -> &[AtomicU64] {
        let len = self.map.len() / 8;
        // SAFETY: the mapping is page-aligned (so 8-aligned) and `len * 8` bytes long;
        // `AtomicU64` has the size and alignment of `u64` and interior mutability, so a
        // shared slice of them over memory other processes also change is sound as long as
        // all access is atomic, which the slice type enforces.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().cast::<AtomicU64>(), len) }
    }

    fn corrupt(&self, why: impl Into<String>) -> SharedError {
        SharedError::Corrupt { path: self.path.clone(), why: why.into() }
    }
}

/// Takes the exclusive lock on `file`, without waiting if `nonblocking`. `Ok(false)`: held
/// by someone else.
fn lock(file: &File, nonblocking: bool) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    // SAFETY: `flock` on a file descriptor this `File` owns and keeps open for the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), op) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock { Ok(false) } else { Err(e) }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The writer's side of the directory.
#[derive(Debug, Default)]
struct Directory {
    next_data: usize,
    next_set: u64,
    sets: HashMap<(String, Vec<String>), (u64, SetDesc)>,
}

/// A process's shared file, created and locked by [`SharedFile::create`]; its shards are
/// written through [`ShardWriter`]s.
pub struct SharedFile {
    map: Map,
    _file: File,
    dir: Mutex<Directory>,
}

impl std::fmt::Debug for SharedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedFile").field("path", &self.map.path).finish_non_exhaustive()
    }
}

impl SharedFile {
    /// Creates this process's file in `dir`, `capacity` bytes (sparse: pages cost memory
    /// only once written), and locks it for as long as it is open. Its name is
    /// `<pid>-<creation ns>.tally`, unique across restarts.
    ///
    /// # Errors
    ///
    /// [`SharedError::Io`] when the file cannot be created, sized, locked or mapped.
    pub fn create(dir: &Path, capacity: u64) -> Result<Arc<SharedFile>, SharedError> {
        let created = now_ns();
        let pid = std::process::id();
        let path = dir.join(format!("{pid}-{created}{SHARED_SUFFIX}"));
        let p = &path;
        let io = |what| move |source| SharedError::Io { what, path: p.clone(), source };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io("cannot create"))?;
        // Locked before anything is written: a collector never mistakes a file being
        // created for one whose writer is gone.
        lock(&file, false).map_err(io("cannot lock"))?;
        let capacity = capacity.max(1 << 16) / 4096 * 4096;
        file.set_len(capacity).map_err(io("cannot size"))?;
        let map = Map::open(&file, &path)?;
        let words = map.words();
        let total = words.len();
        let dir_words = (total / 16).max(1024);
        let h = |i: usize, v: u64| words[i].store(v, Ordering::Relaxed);
        h(1, VERSION);
        h(H_CAPACITY, total as u64);
        h(H_DIR_START, HEADER_WORDS as u64);
        h(H_DIR_WORDS, dir_words as u64);
        h(H_DATA_START, (HEADER_WORDS + dir_words) as u64);
        h(H_PID, u64::from(pid));
        h(H_CREATED, created);
        // Pairs with the Acquire load of the magic in `read_file`: a reader that sees it sees
        // the header.
        words[0].store(MAGIC, Ordering::Release);
        let dir = Directory { next_data: HEADER_WORDS + dir_words, ..Directory::default() };
        Ok(Arc::new(SharedFile { map, _file: file, dir: Mutex::new(dir) }))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.map.path
    }

    /// A new shard of the set `desc` (registered in the file the first time), for one
    /// writer.
    ///
    /// # Errors
    ///
    /// [`SharedError::Unsupported`] for a field kind shared shards do not store;
    /// [`SharedError::Full`] when the file has no room left.
    pub fn shard(self: &Arc<Self>, desc: &SetDesc) -> Result<ShardWriter, SharedError> {
        if let Some(f) = desc.fields.iter().find(|f| !words::supported(f.kind)) {
            return Err(SharedError::Unsupported(format!(
                "field `{}` is a {}, which multi-process metrics do not store",
                f.name,
                f.kind.as_str()
            )));
        }
        let (offsets, n) = words::offsets(&desc.fields);
        let mut dir = self.dir.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (desc.metric.clone(), desc.labels.clone());
        let set = match dir.sets.get(&key) {
            Some((id, known)) if known.fields == desc.fields => *id,
            Some(_) => {
                return Err(SharedError::Unsupported(format!(
                    "metric `{}` {:?} was registered in this process with other fields",
                    desc.metric, desc.labels
                )));
            }
            None => {
                let id = dir.next_set;
                self.append(&Entry::Set { id, desc: desc.clone() })?;
                dir.next_set += 1;
                dir.sets.insert(key, (id, desc.clone()));
                id
            }
        };
        let words = self.map.words();
        let at = dir.next_data;
        let end = at + latch::shard_words(n);
        if end > words.len() {
            let capacity = ((words.len() - HEADER_WORDS) * 8) as u64;
            return Err(SharedError::Full { path: self.path().into(), what: "data", capacity });
        }
        // The shard's words are zero (a fresh file); its entry makes it visible.
        self.append(&Entry::Shard { set, at: at as u64 })?;
        dir.next_data = end;
        let kinds = desc.fields.iter().map(|f| f.kind).collect();
        Ok(ShardWriter { file: Arc::clone(self), at, n, kinds, offsets, served: 0 })
    }

    /// Appends a directory entry: its length, then its JSON, word by word; then the new
    /// used length, published with Release. Called with the directory's lock held.
    fn append(&self, entry: &Entry) -> Result<(), SharedError> {
        let words = self.map.words();
        let json =
            serde_json::to_vec(entry).map_err(|e| SharedError::Unsupported(e.to_string()))?;
        let start = words[H_DIR_START].load(Ordering::Relaxed) as usize;
        let capacity = words[H_DIR_WORDS].load(Ordering::Relaxed) as usize;
        let used = words[H_DIR_USED].load(Ordering::Relaxed) as usize;
        let need = 1 + json.len().div_ceil(8);
        if used + need > capacity {
            let capacity = (capacity * 8) as u64;
            return Err(SharedError::Full {
                path: self.path().into(),
                what: "directory",
                capacity,
            });
        }
        words[start + used].store(json.len() as u64, Ordering::Relaxed);
        for (i, chunk) in json.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            words[start + used + 1 + i].store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        // Pairs with the Acquire load in `read_file`: a reader that sees the new length sees
        // the entry's words.
        words[H_DIR_USED].store((used + need) as u64, Ordering::Release);
        Ok(())
    }
}

/// The one writer of a shard: records events into both copies, in turn.
#[derive(Debug)]
pub struct ShardWriter {
    file: Arc<SharedFile>,
    /// The shard's first word (its layout: `shared_latch.rs`).
    at: usize,
    /// Words per copy.
    n: usize,
    kinds: Vec<FieldKind>,
    offsets: Vec<usize>,
    /// The last help request served (the writer's copy of the `SERVED` word).
    served: u64,
}

impl ShardWriter {
    /// Records one event: `(field index, update)` pairs, all checked before any is
    /// applied. A collector sees all of them or none.
    ///
    /// # Errors
    ///
    /// [`SharedError::Unsupported`] for a field index out of range or an update that does
    /// not fit its field's kind; nothing is recorded then.
    pub fn record(&mut self, updates: &[(usize, FieldUpdate)]) -> Result<(), SharedError> {
        for &(field, update) in updates {
            match self.kinds.get(field) {
                Some(&kind) if update.fits(kind) => {}
                _ => {
                    return Err(SharedError::Unsupported(format!(
                        "update {update:?} does not fit field {field} of this set"
                    )));
                }
            }
        }
        let stamp = if updates
            .iter()
            .any(|(_, u)| matches!(u, FieldUpdate::Last(_) | FieldUpdate::LastF64(_)))
        {
            now_ns()
        } else {
            0
        };
        let words = self.file.map.words();
        let (kinds, offsets) = (&self.kinds, &self.offsets);
        latch::write_event(words, self.at, self.n, |copy| {
            for &(field, update) in updates {
                let (kind, o) = (kinds[field], offsets[field]);
                words::apply(&copy[o..o + words::words_of(kind)], kind, update, stamp);
            }
        });
        // A collector that kept finding a copy busy (this writer records flat out) asks for
        // help: a copy made here, between events, where no section is open.
        if let Some(wanted) = latch::help_wanted(words, self.at, self.served) {
            latch::serve_help(words, self.at, self.n, wanted);
            self.served = wanted;
        }
        Ok(())
    }
}

/// One set of a shared file, its shards summed.
#[derive(Debug, Clone)]
pub struct SharedSeries {
    /// What it is.
    pub desc: SetDesc,
    /// Its values: every shard's, merged.
    pub snapshot: SetSnapshot,
}

/// Reads the file at `path`: every set, its shards' coherent copies merged. Never waits
/// on a writer: a shard whose copies stay busy for a few tries is reported as an error
/// (it cannot be, unless its writer records without pause).
///
/// # Errors
///
/// [`SharedError::Io`] when the file cannot be opened or mapped;
/// [`SharedError::Corrupt`] when it is not a tally shared file or is damaged.
pub fn read_shared(path: &Path) -> Result<Vec<SharedSeries>, SharedError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| SharedError::Io { what: "cannot open", path: path.into(), source })?;
    read_file(&file, path)
}

fn read_file(file: &File, path: &Path) -> Result<Vec<SharedSeries>, SharedError> {
    let map = Map::open(file, path)?;
    let words = map.words();
    if words.len() < HEADER_WORDS || words[0].load(Ordering::Acquire) != MAGIC {
        // A file created a moment ago is sized and locked before its magic is written:
        // nothing has been recorded in it yet.
        return Ok(Vec::new());
    }
    let get = |i: usize| words[i].load(Ordering::Relaxed);
    if get(1) != VERSION {
        return Err(map.corrupt(format!("version {} (this tally reads {VERSION})", get(1))));
    }
    let start = get(H_DIR_START) as usize;
    // Pairs with the Release store in `append`.
    let used = words[H_DIR_USED].load(Ordering::Acquire) as usize;
    if start.saturating_add(used) > words.len() {
        return Err(map.corrupt("its directory runs past its end"));
    }
    let mut sets: Vec<(SetDesc, Option<SetSnapshot>)> = Vec::new();
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    let mut i = 0;
    while i < used {
        let len = get(start + i) as usize;
        let n = len.div_ceil(8);
        if i + 1 + n > used {
            return Err(map.corrupt("a directory entry runs past the directory"));
        }
        let bytes: Vec<u8> =
            (0..n).flat_map(|k| get(start + i + 1 + k).to_le_bytes()).take(len).collect();
        i += 1 + n;
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| map.corrupt(format!("a directory entry is not readable: {e}")))?;
        match entry {
            Entry::Set { id, desc } => {
                by_id.insert(id, sets.len());
                sets.push((desc, None));
            }
            Entry::Shard { set, at } => {
                let Some((desc, merged)) = by_id.get(&set).map(|&k| &mut sets[k]) else {
                    return Err(map.corrupt(format!("a shard of unknown set {set}")));
                };
                let (_, n) = words::offsets(&desc.fields);
                let at = at as usize;
                if at.saturating_add(latch::shard_words(n)) > words.len() {
                    return Err(map.corrupt("a shard runs past the file's end"));
                }
                let copy = latch::read_shard(words, at, n).ok_or_else(|| {
                    map.corrupt("a shard's writer stayed inside one event through a million tries")
                })?;
                let snapshot =
                    words::snapshot_of(&copy, &desc.fields).map_err(|e| map.corrupt(e))?;
                match merged {
                    Some(m) => m.try_merge(&snapshot).map_err(|e| map.corrupt(e.to_string()))?,
                    None => *merged = Some(snapshot),
                }
            }
        }
    }
    Ok(sets
        .into_iter()
        .filter_map(|(desc, s)| s.map(|snapshot| SharedSeries { desc, snapshot }))
        .collect())
}

/// A file whose writer is gone, locked by this collector until it is dropped.
#[derive(Debug)]
pub struct GoneFile {
    file: File,
    path: PathBuf,
}

impl GoneFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads it, as [`read_shared`] does.
    ///
    /// # Errors
    ///
    /// As [`read_shared`].
    pub fn read(&self) -> Result<Vec<SharedSeries>, SharedError> {
        read_file(&self.file, &self.path)
    }

    /// Removes it (while still holding its lock, so no other collector reads it after).
    ///
    /// # Errors
    ///
    /// [`SharedError::Io`] if it cannot be removed.
    pub fn remove(self) -> Result<(), SharedError> {
        std::fs::remove_file(&self.path).map_err(|source| SharedError::Io {
            what: "cannot remove",
            path: self.path.clone(),
            source,
        })
    }
}

/// The file at `path` if its writer is gone (it exited, or was killed), locked so that
/// no other collector claims it at the same time; `None` while its writer lives, or if
/// another collector has already removed it.
///
/// # Errors
///
/// [`SharedError::Io`] when the file cannot be opened or locked for another reason.
pub fn claim_if_gone(path: &Path) -> Result<Option<GoneFile>, SharedError> {
    let io = |what| move |source| SharedError::Io { what, path: path.to_path_buf(), source };
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot open")(e)),
    };
    if !lock(&file, true).map_err(io("cannot lock"))? {
        return Ok(None);
    }
    // Another collector may have claimed, folded and removed it between our open and our
    // lock: a removed file has no links left.
    use std::os::unix::fs::MetadataExt;
    let links = file.metadata().map_err(io("cannot stat"))?.nlink();
    Ok((links > 0).then(|| GoneFile { file, path: path.into() }))
}
