//! The on-disk outbox of a remote sink: every alert handed to the sink is appended before it
//! is queued, and marked done once it is delivered (or deliberately not notified). Alerts not
//! done when the process stops, or dies, are delivered by the next process. One NDJSON file
//! per sink in `alerts.outbox_dir`:
//!
//! ```text
//! {"delivered":[["id","firing","2020-03-30T06:05:00Z"], ...]}   (first line, after a rewrite)
//! {"add":7,"group":{"route":"press","wait_secs":30},"alert":{...}}
//! {"done":[7]}
//! ```
//!
//! Written with plain appends: a process crash loses nothing already written. What a power
//! loss may take is `alerts.outbox_fsync`'s choice: `always` syncs every line to disk before
//! the alert is queued, `interval` (the default) syncs at most once a second (the last
//! second's lines at risk), `never` leaves it to the operating system. A torn last line is
//! skipped with a warning. The file is rewritten at start, and whenever nothing is
//! outstanding and it has grown past 1 MB. In memory an outstanding alert is its key and
//! where its line is in the file, read back when it is delivered from here. One process per
//! outbox directory.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::notify::Group;
use crate::alert::Alert;
pub use crate::config::OutboxFsync;

/// `interval`: lines are synced at most this often.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// (id, status, at) of an alert transition.
pub type Key = (String, String, String);

/// Delivered keys remembered against sending them again.
const REMEMBERED: usize = 10_000;
const COMPACT_AT: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: u64,
    pub alert: Alert,
    pub group: Option<Group>,
}

#[derive(Serialize, Deserialize)]
struct Add {
    add: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<Group>,
    alert: Value,
}

/// One line of the outbox file, in the three shapes the module doc shows.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Delivered { delivered: Vec<Key> },
    Done { done: Vec<u64> },
    Add(Add),
}

/// Where an outstanding alert's line is in the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    at: u64,
    len: u32,
}

pub struct Outbox {
    path: PathBuf,
    file: File,
    next: u64,
    outstanding: BTreeMap<u64, (Key, Span)>,
    delivered: VecDeque<Key>,
    /// The file's length: where the next line goes.
    bytes: u64,
    fsync: OutboxFsync,
    last_sync: Instant,
    /// Lines written since the last sync.
    unsynced: bool,
    /// A write failed part way: the next line starts on a line of its own.
    torn: bool,
    /// A write failed: the file's end is looked up again before the next.
    suspect: bool,
}

fn key(a: &Alert) -> Key {
    (a.id.clone(), a.status.as_str().to_string(), a.at.clone())
}

/// A file name for a sink name: letters, digits, `-` and `_` kept, the rest `_`.
fn file_name(sink: &str) -> String {
    let safe: String = sink
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.ndjson")
}

impl Outbox {
    /// Opens (creating) the outbox of `sink` in `dir`; returns it with the alerts an earlier
    /// process left undelivered, oldest first.
    pub fn open(dir: &Path, sink: &str) -> io::Result<(Outbox, Vec<Pending>)> {
        Self::open_with(dir, sink, OutboxFsync::default())
    }

    /// The same, syncing as `fsync` says.
    pub fn open_with(
        dir: &Path,
        sink: &str,
        fsync: OutboxFsync,
    ) -> io::Result<(Outbox, Vec<Pending>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(file_name(sink));
        let mut adds: BTreeMap<u64, (Pending, String)> = BTreeMap::new();
        let mut delivered = VecDeque::new();
        let mut next = 0;
        if let Ok(f) = File::open(&path) {
            for (n, line) in io::BufReader::new(f).split(b'\n').enumerate() {
                let line = line?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let Ok(read) = serde_json::from_slice::<Line>(&line) else {
                    tracing::warn!(
                        "{}:{}: unreadable outbox line skipped",
                        path.display(),
                        n + 1
                    );
                    continue;
                };
                match read {
                    Line::Delivered { delivered: keys } => delivered.extend(keys),
                    Line::Done { done } => {
                        for seq in done {
                            if let Some((p, _)) = adds.remove(&seq) {
                                delivered.push_back(key(&p.alert));
                            }
                        }
                    }
                    Line::Add(add) => {
                        next = next.max(add.add + 1);
                        let line = serde_json::to_string(&add).unwrap_or_default();
                        match Alert::from_json(&add.alert.to_string()) {
                            Ok(alert) => {
                                let pending = Pending {
                                    seq: add.add,
                                    alert,
                                    group: add.group,
                                };
                                adds.insert(pending.seq, (pending, line));
                            }
                            Err(e) => tracing::warn!(
                                "{}:{}: outbox alert unreadable ({e}), skipped",
                                path.display(),
                                n + 1
                            ),
                        }
                    }
                }
            }
        }
        while delivered.len() > REMEMBERED {
            delivered.pop_front();
        }
        let pending: Vec<Pending> = adds.values().map(|(p, _)| p.clone()).collect();
        let mut outbox = Outbox {
            file: OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?,
            path,
            next,
            outstanding: BTreeMap::new(),
            delivered,
            bytes: 0,
            fsync,
            last_sync: Instant::now(),
            unsynced: false,
            torn: false,
            suspect: false,
        };
        let lines = adds
            .into_iter()
            .map(|(seq, (p, line))| (seq, key(&p.alert), line))
            .collect();
        outbox.write_fresh(lines)?;
        Ok((outbox, pending))
    }

    /// An outstanding alert's line, read back from the file.
    fn line(&self, span: Span) -> io::Result<String> {
        let mut buf = vec![0; span.len as usize];
        self.file.read_exact_at(&mut buf, span.at)?;
        String::from_utf8(buf).map_err(io::Error::other)
    }

    /// The outstanding alert `seq`, read back from its line (for alerts that waited here
    /// because the sink's queue was full).
    pub fn pending(&self, seq: u64) -> Option<Pending> {
        let (_, span) = self.outstanding.get(&seq)?;
        let line = self.line(*span).ok()?;
        let add: Add = serde_json::from_str(&line).ok()?;
        let alert = Alert::from_json(&add.alert.to_string()).ok()?;
        Some(Pending {
            seq,
            alert,
            group: add.group,
        })
    }

    /// Keys of alerts this sink delivered (recently) or still holds: not to be queued again.
    pub fn known(&self) -> Vec<Key> {
        self.delivered
            .iter()
            .cloned()
            .chain(self.outstanding.values().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Replaces the file with what still matters: delivered keys and outstanding alerts.
    fn rewrite(&mut self) -> io::Result<()> {
        let mut lines = Vec::with_capacity(self.outstanding.len());
        for (seq, (key, span)) in &self.outstanding {
            lines.push((*seq, key.clone(), self.line(*span)?));
        }
        self.write_fresh(lines)
    }

    /// Writes a new file of delivered keys and `lines` (outstanding), synced, in place of
    /// the old one.
    fn write_fresh(&mut self, lines: Vec<(u64, Key, String)>) -> io::Result<()> {
        let tmp = self.path.with_extension("ndjson.tmp");
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let delivered: Vec<Key> = self.delivered.iter().cloned().collect();
        let head = serde_json::to_string(&Line::Delivered { delivered })?;
        writeln!(out, "{head}")?;
        let mut at = head.len() as u64 + 1;
        let mut outstanding = BTreeMap::new();
        for (seq, key, line) in lines {
            writeln!(out, "{line}")?;
            let len = line.len() as u32;
            outstanding.insert(seq, (key, Span { at, len }));
            at += u64::from(len) + 1;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)?;
        self.bytes = self.file.metadata().map_or(at, |m| m.len());
        self.outstanding = outstanding;
        Ok(())
    }

    /// Appends `line` (with its newline) at the end; returns where it starts. After a failed
    /// write the file's end is read again, so a torn line never swallows the next.
    fn append(&mut self, line: &str) -> io::Result<u64> {
        if self.suspect {
            // After a failed write: where the file ends, and whether a line was torn.
            self.bytes = self.file.metadata()?.len();
            let mut last = [b'\n'];
            if self.bytes > 0 {
                self.file.read_exact_at(&mut last, self.bytes - 1)?;
            }
            self.torn = last[0] != b'\n';
            self.suspect = false;
        }
        let start = self.bytes;
        let written = if self.torn {
            self.file.write_all(format!("\n{line}").as_bytes())
        } else {
            self.file.write_all(line.as_bytes())
        };
        if let Err(e) = written {
            self.suspect = true;
            return Err(e);
        }
        let at = start + u64::from(self.torn);
        self.torn = false;
        self.bytes = at + line.len() as u64;
        self.unsynced = true;
        let due = match self.fsync {
            OutboxFsync::Always => true,
            OutboxFsync::Interval => self.last_sync.elapsed() >= SYNC_EVERY,
            OutboxFsync::Never => false,
        };
        if due {
            self.sync()?;
        }
        Ok(at)
    }

    /// Syncs lines written since the last sync (unless the policy is `never`).
    pub fn sync(&mut self) -> io::Result<()> {
        if self.unsynced && self.fsync != OutboxFsync::Never {
            self.file.sync_data()?;
            self.unsynced = false;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Records an alert as handed to the sink; returns its sequence number.
    pub fn add(&mut self, alert: &Alert, group: Option<&Group>) -> io::Result<u64> {
        let seq = self.next;
        self.next += 1;
        let text = alert.to_json_line();
        let group = group
            .map(|g| {
                format!(
                    ",\"group\":{}",
                    serde_json::to_string(g).unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let line = format!("{{\"add\":{seq}{group},\"alert\":{text}}}\n");
        let at = self.append(&line)?;
        let len = line.len() as u32 - 1;
        self.outstanding.insert(seq, (key(alert), Span { at, len }));
        Ok(seq)
    }

    /// Marks alerts done (delivered, or deliberately not notified).
    pub fn done(&mut self, seqs: &[u64]) -> io::Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let done = Line::Done {
            done: seqs.to_vec(),
        };
        self.append(&format!("{}\n", serde_json::to_string(&done)?))?;
        for seq in seqs {
            if let Some((k, _)) = self.outstanding.remove(seq) {
                self.delivered.push_back(k);
                if self.delivered.len() > REMEMBERED {
                    self.delivered.pop_front();
                }
            }
        }
        if self.outstanding.is_empty() && self.bytes > COMPACT_AT {
            self.rewrite()?;
        }
        Ok(())
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertStatus, Severity};

    fn alert(id: &str) -> Alert {
        Alert::example(
            id,
            "bonus-600",
            AlertStatus::Firing,
            Severity::Warning,
            1_700_000_000_000,
        )
    }

    #[test]
    fn what_was_not_done_comes_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, pending) = Outbox::open(dir.path(), "webhook").unwrap();
        assert!(pending.is_empty());
        let g = Group {
            route: "press".into(),
            wait_secs: 30,
        };
        let a = ob.add(&alert("a"), None).unwrap();
        let b = ob.add(&alert("b"), Some(&g)).unwrap();
        let c = ob.add(&alert("c"), None).unwrap();
        ob.done(&[b]).unwrap();
        drop(ob);
        // A crash in the middle of a line leaves a torn line: skipped, the rest kept.
        let path = dir.path().join("webhook.ndjson");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"add\":9,\"alert\":{\"id\":").unwrap();
        drop(f);
        let (mut ob, pending) = Outbox::open(dir.path(), "webhook").unwrap();
        let ids: Vec<(u64, &str)> = pending
            .iter()
            .map(|p| (p.seq, p.alert.id.as_str()))
            .collect();
        assert_eq!(ids, [(a, "a"), (c, "c")]);
        assert_eq!(pending[0].alert, alert("a"), "the alert comes back whole");
        let known = ob.known();
        assert!(known.contains(&key(&alert("b"))), "delivered is remembered");
        assert!(
            known.contains(&key(&alert("a"))),
            "outstanding is known too"
        );
        let d = ob.add(&alert("d"), Some(&g)).unwrap();
        assert!(d > c, "sequence numbers keep growing");
        ob.done(&[a, c]).unwrap();
        drop(ob);
        let (ob, pending) = Outbox::open(dir.path(), "webhook").unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].group.as_ref(), Some(&g));
        assert_eq!(ob.outstanding(), 1);
        assert_eq!(ob.known().len(), 4);
    }

    /// Outstanding alerts are read back from the file (only their place is in memory), also
    /// after a rewrite and after writes that failed (here: to /dev/full).
    #[test]
    fn outstanding_alerts_are_read_back_from_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, _) = Outbox::open_with(dir.path(), "am", OutboxFsync::Always).unwrap();
        let seqs: Vec<u64> = ["a", "b", "c"]
            .iter()
            .map(|id| ob.add(&alert(id), None).unwrap())
            .collect();
        assert_eq!(ob.pending(seqs[1]).unwrap().alert, alert("b"));
        ob.done(&seqs[..1]).unwrap();
        ob.rewrite().unwrap();
        assert!(ob.pending(seqs[0]).is_none(), "done");
        assert_eq!(ob.pending(seqs[2]).unwrap().alert, alert("c"));
        let file = std::mem::replace(
            &mut ob.file,
            File::options().append(true).open("/dev/full").unwrap(),
        );
        assert!(
            ob.add(&alert("lost"), None).is_err(),
            "a full disk is an error"
        );
        ob.file = file;
        let e = ob.add(&alert("e"), None).unwrap();
        assert_eq!(ob.pending(e).unwrap().alert, alert("e"));
        assert_eq!(ob.pending(seqs[1]).unwrap().alert, alert("b"));
        drop(ob);
        let (_, pending) = Outbox::open(dir.path(), "am").unwrap();
        let ids: Vec<&str> = pending.iter().map(|p| p.alert.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "e"]);
    }

    #[test]
    fn odd_sink_names_make_safe_file_names() {
        assert_eq!(file_name("web hook/../x"), "web_hook____x.ndjson");
    }
}
