//! State snapshots of the live path: the engine's state, the alerts still firing, and the
//! offset of each partition the state covers, in one file per group and set of partitions
//! under `kafka.state_dir`. On an assignment the snapshot of exactly that set is loaded and
//! only the messages after its offsets are read back; without one (or with one that does
//! not fit) the engine is rebuilt from `kafka.rebuild_hours` of history, and the log says
//! why.
//!
//! A snapshot only covers offsets whose messages are fully handled (their alerts in the
//! outboxes, their dead letters acknowledged), so resuming at its offsets loses nothing.
//!
//! File: the magic line, the format version (u32), a JSON header (what wrote it and when,
//! the configuration's fingerprint, the offsets, the firing alerts), the engine's state
//! (see `Engine::save_state`), and a CRC-32 of all that. Written to a temporary file,
//! synced and renamed, so a crash leaves the old snapshot or the new one, never half.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::config::Config;
use crate::source::kafka::Partition;

const MAGIC: &[u8] = b"ondata state snapshot\n";
/// Bumped whenever the engine's state changes shape: an older snapshot is then refused
/// (with the reason logged) and the engine rebuilt from history once.
pub const FORMAT: u32 = 3;

/// What a snapshot holds.
#[derive(Debug)]
pub struct Snapshot {
    /// Per partition: the next offset after those the state covers.
    pub offsets: BTreeMap<Partition, i64>,
    pub firing: Vec<Alert>,
    /// When it was written, ms since the epoch (wall clock).
    pub written_ms: i64,
    /// `Engine::save_state`'s bytes.
    pub state: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    ondata: String,
    written_ms: i64,
    fingerprint: String,
    offsets: Vec<PartitionOffset>,
    firing: Vec<Alert>,
}

#[derive(Serialize, Deserialize)]
struct PartitionOffset {
    topic: String,
    partition: i32,
    offset: i64,
}

/// The snapshots of one consumer group.
pub struct SnapshotStore {
    dir: PathBuf,
    fingerprint: String,
}

impl SnapshotStore {
    /// The store for `config`'s group, or None when snapshots are off.
    pub fn from_config(config: &Config) -> Option<Self> {
        if config.kafka.snapshot_secs == 0 {
            return None;
        }
        Some(Self {
            dir: Path::new(&config.kafka.state_dir).join(file_safe(&config.kafka.group_id)),
            fingerprint: fingerprint(config),
        })
    }

    /// The file for a set of partitions: named after them (a short hash when there are
    /// many), so instances sharing the folder never write each other's.
    fn path_for(&self, parts: &[&Partition]) -> PathBuf {
        let names: Vec<String> = parts
            .iter()
            .map(|p| format!("{}-{}", p.topic, p.partition))
            .collect();
        let joined = names.join("_");
        let name = if joined.len() <= 80 {
            file_safe(&joined)
        } else {
            format!("{}-partitions-{:08x}", parts.len(), crc(joined.as_bytes()))
        };
        self.dir.join(format!("{name}.state"))
    }

    /// Writes `snapshot` in place of the earlier one of the same partitions.
    pub fn write(&self, snapshot: &Snapshot) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let parts: Vec<&Partition> = snapshot.offsets.keys().collect();
        let path = self.path_for(&parts);
        let header = Header {
            ondata: env!("CARGO_PKG_VERSION").to_string(),
            written_ms: snapshot.written_ms,
            fingerprint: self.fingerprint.clone(),
            offsets: snapshot
                .offsets
                .iter()
                .map(|(p, &offset)| PartitionOffset {
                    topic: p.topic.to_string(),
                    partition: p.partition,
                    offset,
                })
                .collect(),
            firing: snapshot.firing.clone(),
        };
        let header = serde_json::to_vec(&header).map_err(io::Error::other)?;
        let mut bytes = Vec::with_capacity(snapshot.state.len() + header.len() + 64);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&(snapshot.state.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&snapshot.state);
        let sum = crc(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let tmp = path.with_extension("state.tmp");
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        // The rename itself reaches the disk with the folder.
        if let Ok(dir) = File::open(&self.dir) {
            dir.sync_all().ok();
        }
        Ok(path)
    }

    /// The snapshot of exactly `parts`: Ok(None) when there is none, Err(why) when there
    /// is one that cannot be used.
    pub fn load(&self, parts: &[Partition]) -> Result<Option<Snapshot>, String> {
        let refs: Vec<&Partition> = parts.iter().collect();
        let path = self.path_for(&refs);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let whose = |why: String| format!("{}: {why}", path.display());
        let snapshot = self.decode(&bytes).map_err(whose)?;
        let covered: Vec<&Partition> = snapshot.offsets.keys().collect();
        if covered != refs {
            return Err(whose(format!(
                "it covers {} partition(s), not this assignment's {}",
                covered.len(),
                refs.len()
            )));
        }
        Ok(Some(snapshot))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Snapshot, String> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or("not an ondata state snapshot")?;
        let (body, sum) = rest
            .split_last_chunk::<4>()
            .ok_or("truncated (no checksum)")?;
        let mut r = Reader(body);
        let format = u32::from_le_bytes(r.take::<4>()?);
        if format != FORMAT {
            return Err(format!(
                "written in snapshot format {format}; this ondata reads format {FORMAT}"
            ));
        }
        if crc(&bytes[..bytes.len() - 4]) != u32::from_le_bytes(*sum) {
            return Err("its checksum does not match (a torn or damaged file)".into());
        }
        let header_len = u64::from_le_bytes(r.take::<8>()?) as usize;
        let header: Header = serde_json::from_slice(r.bytes(header_len)?)
            .map_err(|e| format!("its header does not read: {e}"))?;
        if header.fingerprint != self.fingerprint {
            return Err(format!(
                "written by ondata {} under another configuration of [engine], [detect], [topics], [sentiment] or [input]",
                header.ondata
            ));
        }
        let state_len = u64::from_le_bytes(r.take::<8>()?) as usize;
        let state = r.bytes(state_len)?.to_vec();
        let offsets = header
            .offsets
            .into_iter()
            .map(|o| {
                (
                    Partition {
                        topic: Arc::from(o.topic),
                        partition: o.partition,
                    },
                    o.offset,
                )
            })
            .collect();
        Ok(Snapshot {
            offsets,
            firing: header.firing,
            written_ms: header.written_ms,
            state,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.bytes(N)?.try_into().expect("N bytes"))
    }
}

fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// What the state depends on in the configuration: a snapshot written under other
/// settings is not loaded.
fn fingerprint(config: &Config) -> String {
    let parts = serde_json::json!({
        "engine": config.engine,
        "detect": config.detect,
        "topics": config.topics,
        "sentiment": config.sentiment,
        "dedup_ids": config.input.dedup_ids,
        "max_ahead_secs": config.input.max_ahead_secs,
        "format": FORMAT,
    });
    format!("{:08x}", crc(parts.to_string().as_bytes()))
}

/// A name usable as a file name on any system.
fn file_safe(name: &str) -> String {
    // Never `.` or `..`: the name stays inside its folder.
    let name = if name.starts_with('.') {
        format!("_{name}")
    } else {
        name.to_string()
    };
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '.' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: i32) -> Partition {
        Partition {
            topic: Arc::from("comments"),
            partition: n,
        }
    }

    fn store(dir: &Path, config: &Config) -> SnapshotStore {
        let mut config = config.clone();
        config.kafka.state_dir = dir.display().to_string();
        SnapshotStore::from_config(&config).unwrap()
    }

    fn snapshot(parts: &[i32]) -> Snapshot {
        Snapshot {
            offsets: parts
                .iter()
                .map(|&p| (part(p), 100 + i64::from(p)))
                .collect(),
            firing: Vec::new(),
            written_ms: 1_700_000_000_000,
            state: vec![1, 2, 3, 4, 5],
        }
    }

    #[test]
    fn a_snapshot_is_loaded_for_exactly_its_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), &Config::default());
        s.write(&snapshot(&[0, 1])).unwrap();
        let got = s.load(&[part(0), part(1)]).unwrap().unwrap();
        assert_eq!(got.offsets[&part(1)], 101);
        assert_eq!(got.state, vec![1, 2, 3, 4, 5]);
        assert!(s.load(&[part(0)]).unwrap().is_none(), "another set: none");
        // Written again: the newer one replaces it.
        let mut newer = snapshot(&[0, 1]);
        newer.offsets.insert(part(1), 500);
        s.write(&newer).unwrap();
        assert_eq!(
            s.load(&[part(0), part(1)]).unwrap().unwrap().offsets[&part(1)],
            500
        );
    }

    #[test]
    fn a_snapshot_that_cannot_be_used_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        let s = store(dir.path(), &config);
        let path = s.write(&snapshot(&[0])).unwrap();
        let bytes = std::fs::read(&path).unwrap();

        // Other detection settings.
        let mut other = config.clone();
        other.engine.bucket_secs = 30;
        let why = store(dir.path(), &other).load(&[part(0)]).unwrap_err();
        assert!(why.contains("another configuration"), "{why}");

        // Another format: an older or newer ondata's.
        let mut old = bytes.clone();
        old[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        std::fs::write(&path, &old).unwrap();
        let why = s.load(&[part(0)]).unwrap_err();
        assert!(why.contains(&format!("format {}", FORMAT + 1)), "{why}");

        // A damaged byte, and a torn file.
        let mut damaged = bytes.clone();
        let last = damaged.len() - 6;
        damaged[last] ^= 0x40;
        std::fs::write(&path, &damaged).unwrap();
        let why = s.load(&[part(0)]).unwrap_err();
        assert!(why.contains("checksum"), "{why}");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(s.load(&[part(0)]).is_err());

        // Not a snapshot at all.
        std::fs::write(&path, b"{}").unwrap();
        let why = s.load(&[part(0)]).unwrap_err();
        assert!(why.contains("not an ondata state snapshot"), "{why}");
    }

    #[test]
    fn group_names_stay_inside_the_state_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.kafka.group_id = "../../etc".into();
        let s = store(dir.path(), &config);
        let path = s.write(&snapshot(&[0])).unwrap();
        assert!(path.starts_with(dir.path()), "{}", path.display());
        config.kafka.group_id = "..".into();
        let path = store(dir.path(), &config).write(&snapshot(&[0])).unwrap();
        assert!(path.starts_with(dir.path()), "{}", path.display());
    }
}
