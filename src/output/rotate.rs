//! NDJSON files in a directory, closed and started anew by time or size, as a sensor that
//! runs for weeks writes them. A file is written under a hidden `.NAME.part` name and renamed
//! to `NAME` when it is complete, so that whatever picks files up (a shipper, `ls`) sees only
//! whole files; an interrupted run leaves at most one `.part` file, complete up to its last
//! line.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When a file is closed and the next started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// After this long open (None: never by time).
    pub every: Option<Duration>,
    /// Once this many bytes are written (None: never by size).
    pub max_bytes: Option<u64>,
}

struct Current {
    out: BufWriter<File>,
    part: PathBuf,
    name: PathBuf,
    opened: Instant,
    bytes: u64,
}

/// A series of NDJSON files `PREFIX-YYYYMMDDTHHMMSSZ.ndjson` in one directory (UTC time of
/// the file's first line; `-2`, `-3`… when two would share a name).
pub struct RotatingFiles {
    dir: PathBuf,
    prefix: String,
    rotation: Rotation,
    current: Option<Current>,
    /// Complete files so far, in order.
    pub closed: Vec<PathBuf>,
}

impl RotatingFiles {
    /// Files in `dir` (created if missing) named from `prefix`.
    pub fn new(dir: &Path, prefix: &str, rotation: Rotation) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
        Ok(RotatingFiles {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            rotation,
            current: None,
            closed: Vec::new(),
        })
    }

    /// True when the open file has reached its time or size.
    pub fn due(&self) -> bool {
        self.current.as_ref().is_some_and(|c| {
            self.rotation.every.is_some_and(|t| c.opened.elapsed() >= t)
                || self.rotation.max_bytes.is_some_and(|b| c.bytes >= b)
        })
    }

    /// Appends one line (with its newline), starting a file if none is open. Flushed at once:
    /// a live sensor's files are read while they grow.
    pub fn write_line(&mut self, line: &[u8]) -> Result<()> {
        if self.current.is_none() {
            self.current = Some(self.start()?);
        }
        let Some(c) = self.current.as_mut() else {
            return Ok(());
        };
        c.out
            .write_all(line)
            .and_then(|()| c.out.flush())
            .map_err(|e| Error::output(&c.part, e))?;
        c.bytes += line.len() as u64;
        Ok(())
    }

    /// Closes the open file (flushed, synced, renamed to its final name); returns its name.
    pub fn close(&mut self) -> Result<Option<PathBuf>> {
        let Some(c) = self.current.take() else {
            return Ok(None);
        };
        let file = c
            .out
            .into_inner()
            .map_err(|e| Error::output(&c.part, e.into_error()))?;
        file.sync_all().map_err(|e| Error::output(&c.part, e))?;
        std::fs::rename(&c.part, &c.name).map_err(|e| Error::output(&c.name, e))?;
        self.closed.push(c.name.clone());
        Ok(Some(c.name))
    }

    fn start(&mut self) -> Result<Current> {
        let stamp = utc_stamp(std::time::SystemTime::now());
        let mut n = 1;
        let name = loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!("-{n}")
            };
            let name = self
                .dir
                .join(format!("{}-{stamp}{suffix}.ndjson", self.prefix));
            if !name.exists() && !part_of(&name).exists() {
                break name;
            }
            n += 1;
        };
        let part = part_of(&name);
        let file = File::create(&part).map_err(|e| Error::output(&part, e))?;
        Ok(Current {
            out: BufWriter::new(file),
            part,
            name,
            opened: Instant::now(),
            bytes: 0,
        })
    }
}

/// Writes `lines` as the whole of `dir/NAME` at once (a temporary file renamed over it).
pub fn write_whole(dir: &Path, name: &str, lines: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::output(dir, e))?;
    // A temporary file is private (0600); the result is readable as the flow files are.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::output(&path, e))?;
    }
    tmp.write_all(lines)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::output(&path, e))?;
    tmp.persist(&path)
        .map_err(|e| Error::output(&path, e.error))?;
    Ok(path)
}

fn part_of(name: &Path) -> PathBuf {
    let file = name
        .file_name()
        .map_or_else(Default::default, |f| f.to_os_string());
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(file);
    hidden.push(".part");
    name.with_file_name(hidden)
}

/// `YYYYMMDDTHHMMSSZ` of a time, UTC: the ISO 8601 form of certificate dates
/// ([`iso8601_utc`](crate::fingerprint::cert::iso8601_utc)) without its separators, safe in
/// file names.
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    let secs = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    crate::fingerprint::cert::iso8601_utc(secs)
        .unwrap_or_default()
        .replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_rotate_by_size_and_only_whole_files_carry_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = RotatingFiles::new(
            dir.path(),
            "flows",
            Rotation {
                every: None,
                max_bytes: Some(10),
            },
        )
        .unwrap();
        f.write_line(b"{\"a\":1}\n").unwrap();
        assert!(!f.due());
        // The open file is hidden until it is closed.
        let visible = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            v.sort();
            v
        };
        assert!(visible(dir.path()).is_empty());
        f.write_line(b"{\"a\":2}\n").unwrap();
        assert!(f.due());
        let first = f.close().unwrap().unwrap();
        f.write_line(b"{\"a\":3}\n").unwrap();
        let second = f.close().unwrap().unwrap();
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(&first).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "{\"a\":3}\n");
        assert_eq!(visible(dir.path()).len(), 2);
        assert_eq!(f.close().unwrap(), None);
    }

    #[test]
    fn stamps_are_utc() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // 2023-11-14 22:13:20 UTC.
        assert_eq!(utc_stamp(t), "20231114T221320Z");
    }
}
