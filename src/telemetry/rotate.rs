//! Log files rotated by size: `NAME.log` is written until it would pass the size limit, then
//! renamed to `NAME.log.1` (older ones shift to `.2` … up to the number kept) and a new file
//! starts. Writes never fail the caller: an I/O error is reported once on stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;

/// A size-rotated log file, shareable between layers and threads.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_bytes: u64,
    keep: u32,
    failed: bool,
}

impl RotatingFile {
    /// Open (appending) `dir/name`, creating `dir` if needed.
    pub fn open(dir: &Path, name: &str, max_bytes: u64, keep: u32) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(name);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        let inner = Inner {
            path,
            file: Some(file),
            size,
            max_bytes: max_bytes.max(1),
            keep,
            failed: false,
        };
        Ok(Self { inner: Arc::new(Mutex::new(inner)) })
    }
}

impl Inner {
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.keep == 0 {
            std::fs::remove_file(&self.path).or_else(ignore_missing)?;
        } else {
            std::fs::remove_file(numbered(self.keep)).or_else(ignore_missing)?;
            for n in (1..self.keep).rev() {
                std::fs::rename(numbered(n), numbered(n + 1)).or_else(ignore_missing)?;
            }
            std::fs::rename(&self.path, numbered(1)).or_else(ignore_missing)?;
        }
        self.file = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        self.size = 0;
        Ok(())
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => return Err(io::Error::other("log file is closed")),
        };
        file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }
}

fn ignore_missing(err: io::Error) -> io::Result<()> {
    if err.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(err) }
}

/// One borrowed writer per event.
pub struct LineWriter {
    inner: Arc<Mutex<Inner>>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(err) = inner.write_line(buf) {
            if !inner.failed {
                inner.failed = true;
                eprintln!("rebound: writing {} failed: {err}", inner.path.display());
            }
        } else {
            inner.failed = false;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { inner: self.inner.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_configured_number_of_files() {
        let dir = tempfile::tempdir().unwrap();
        let log = RotatingFile::open(dir.path(), "test.log", 100, 2).unwrap();
        let mut writer = log.make_writer();
        for i in 0..10 {
            writer.write_all(format!("line {i:02} {}\n", "x".repeat(30)).as_bytes()).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["test.log", "test.log.1", "test.log.2"]);
        for name in &names {
            assert!(std::fs::metadata(dir.path().join(name)).unwrap().len() <= 100, "{name}");
        }
        let current = std::fs::read_to_string(dir.path().join("test.log")).unwrap();
        assert!(current.ends_with(&format!("line 09 {}\n", "x".repeat(30))));
        let oldest = std::fs::read_to_string(dir.path().join("test.log.2")).unwrap();
        assert!(
            oldest.starts_with("line 04"),
            "older lines beyond the kept files are gone: {oldest}"
        );
    }
}
