//! Output files that never destroy an input or leave half a file behind: a path that names
//! an input (by any path: links, `./`, another spelling) or another output is refused before
//! anything is read, and each output is written to a temporary file beside its target and
//! renamed over it only when complete.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::UsageError;

/// The identity of a file on disk, whatever path names it.
fn identity(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The same file, by identity when both exist, else by their absolute, resolved spelling.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Some(x), Some(y)) = (identity(a), identity(b)) {
        return x == y;
    }
    let resolve = |p: &Path| {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        // The directory resolves (links and `..`) even when the file does not exist yet.
        match (absolute.parent(), absolute.file_name()) {
            (Some(dir), Some(name)) => dir
                .canonicalize()
                .map(|d| d.join(name))
                .unwrap_or(absolute.clone()),
            _ => absolute,
        }
    };
    resolve(a) == resolve(b)
}

/// Refuses (exit 2) an output that is one of `inputs` or another output. `outputs` pairs
/// each path with its option's name, for the message; `-` (stdin) is not a file.
pub fn check_outputs(inputs: &[String], outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, (option, out)) in outputs.iter().enumerate() {
        for input in inputs.iter().filter(|i| *i != "-") {
            if same_file(Path::new(input), out) {
                return Err(UsageError(format!(
                    "{option} {} is the input {input}: writing it would destroy the data \
                     being read; choose another file",
                    out.display()
                ))
                .into());
            }
        }
        for (other, path) in &outputs[..i] {
            if same_file(path, out) {
                return Err(UsageError(format!(
                    "{option} and {other} both name {}: give each output its own file",
                    out.display()
                ))
                .into());
            }
        }
    }
    Ok(())
}

/// A file being written: a temporary file beside `target`, renamed over it by
/// [`Output::commit`]; dropped without a commit, it is removed and `target` is untouched.
pub struct Output {
    target: PathBuf,
    writer: Option<BufWriter<tempfile::NamedTempFile>>,
}

impl Output {
    /// Creates the temporary file now, so an unwritable place fails before any work.
    pub fn create(target: &Path) -> Result<Output> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".part")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create {}", target.display()))?;
        Ok(Output {
            target: target.to_path_buf(),
            writer: Some(BufWriter::with_capacity(256 * 1024, temp)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("committed once");
        let temp = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        temp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        temp.persist(&self.target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", self.target.display()))?;
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("not committed").write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

/// Where a command writes: a file written whole ([`Output`]), or stdout.
pub enum Destination {
    File(Output),
    Stdout(io::StdoutLock<'static>),
    Nowhere,
}

impl Destination {
    pub fn commit(self) -> Result<()> {
        match self {
            Destination::File(o) => o.commit(),
            Destination::Stdout(mut s) => Ok(s.flush()?),
            Destination::Nowhere => Ok(()),
        }
    }
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Destination::File(o) => o.write(buf),
            Destination::Stdout(s) => s.write(buf),
            Destination::Nowhere => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Destination::File(o) => o.flush(),
            Destination::Stdout(s) => s.flush(),
            Destination::Nowhere => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_named_as_an_output_is_refused_by_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.ndjson");
        std::fs::write(&input, "x\n").unwrap();
        let link = dir.path().join("link.ndjson");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let dotted = dir.path().join(".").join("in.ndjson");
        let inputs = vec![input.to_string_lossy().into_owned()];
        for out in [&input, &link, &dotted] {
            let e = check_outputs(&inputs, &[("--alerts-out", out)]).unwrap_err();
            assert!(e.to_string().contains("destroy"), "{e}");
        }
        let other = dir.path().join("alerts.ndjson");
        check_outputs(&inputs, &[("--alerts-out", &other)]).unwrap();
        let e =
            check_outputs(&inputs, &[("--alerts-out", &other), ("--report", &other)]).unwrap_err();
        assert!(e.to_string().contains("both name"), "{e}");
    }

    #[test]
    fn an_output_replaces_its_target_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("alerts.ndjson");
        std::fs::write(&target, "old\n").unwrap();
        let mut o = Output::create(&target).unwrap();
        o.write_all(b"new\n").unwrap();
        drop(o);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp left"
        );
        let mut o = Output::create(&target).unwrap();
        o.write_all(b"new\n").unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
    }
}
