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
//! Written with plain appends (a process crash loses nothing already written; a power loss
//! may lose the last lines). A torn last line is skipped with a warning. The file is
//! rewritten at start, and whenever nothing is outstanding and it has grown past 1 MB.
//! One process per outbox directory.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::notify::Group;
use crate::alert::Alert;

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

pub struct Outbox {
    path: PathBuf,
    file: File,
    next: u64,
    outstanding: BTreeMap<u64, (Key, String)>,
    delivered: VecDeque<Key>,
    bytes: u64,
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
        let outstanding = adds
            .into_iter()
            .map(|(seq, (p, line))| (seq, (key(&p.alert), line)))
            .collect();
        let mut outbox = Outbox {
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            path,
            next,
            outstanding,
            delivered,
            bytes: 0,
        };
        outbox.rewrite()?;
        Ok((outbox, pending))
    }

    /// The outstanding alert `seq`, read back from its line (for alerts that waited here
    /// because the sink's queue was full).
    pub fn pending(&self, seq: u64) -> Option<Pending> {
        let (_, line) = self.outstanding.get(&seq)?;
        let add: Add = serde_json::from_str(line).ok()?;
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
        let tmp = self.path.with_extension("ndjson.tmp");
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        let delivered: Vec<Key> = self.delivered.iter().cloned().collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string(&Line::Delivered { delivered })?
        )?;
        for (_, line) in self.outstanding.values() {
            writeln!(out, "{line}")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.bytes = self.file.metadata().map_or(0, |m| m.len());
        Ok(())
    }

    fn append(&mut self, line: &str) -> io::Result<()> {
        self.file.write_all(line.as_bytes())?;
        self.bytes += line.len() as u64;
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
        let line = format!("{{\"add\":{seq}{group},\"alert\":{text}}}");
        self.append(&format!("{line}\n"))?;
        self.outstanding.insert(seq, (key(alert), line));
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

    #[test]
    fn odd_sink_names_make_safe_file_names() {
        assert_eq!(file_name("web hook/../x"), "web_hook____x.ndjson");
    }
}
