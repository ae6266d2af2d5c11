//! The record kept beside each downloaded file, and checks of files against it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{HubError, io_error};

/// What is kept beside each finished download as `<file>.meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRecord {
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the server announced the sha256 (`true`) or it was computed on arrival.
    pub sha256_from_server: bool,
    /// Where it came from.
    pub url: String,
    /// The file's modification time (ns since 1970) when its sha256 last matched.
    pub verified_mtime_ns: Option<u64>,
}

/// `<file>.meta.json` for `path`.
pub fn record_path(path: &Path) -> PathBuf {
    with_suffix(path, ".meta.json")
}

/// `<file>.part` for `path`.
pub fn part_path(path: &Path) -> PathBuf {
    with_suffix(path, ".part")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Reads the record beside `path`, if there is one.
pub fn read_record(path: &Path) -> Result<Option<FileRecord>, HubError> {
    let record = record_path(path);
    let text = match std::fs::read_to_string(&record) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&record)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| HubError::Invalid {
            path: record.display().to_string(),
            reason: format!("unreadable record: {e}"),
        })
}

/// Writes the record beside `path` atomically.
pub fn write_record(path: &Path, record: &FileRecord) -> Result<(), HubError> {
    let target = record_path(path);
    let json = serde_json::to_vec_pretty(record).map_err(|e| HubError::Invalid {
        path: target.display().to_string(),
        reason: e.to_string(),
    })?;
    crate::fsutil::write_atomic(&target, &json).map_err(io_error(&target))
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, HubError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Modification time in ns since 1970.
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// The state of one cached file, found without reading its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Neither the file nor a partial download.
    Missing,
    /// A partial download of this many bytes.
    Partial {
        /// Bytes so far.
        bytes: u64,
    },
    /// Present without a record (put there by hand): its checksum is unknown.
    Unrecorded {
        /// Size in bytes.
        size: u64,
    },
    /// Its sha256 matched the record and it has not been modified since.
    Verified {
        /// Size in bytes.
        size: u64,
    },
    /// Recorded, but modified since it was last checked (or never checked): run verify.
    Unchecked {
        /// Size in bytes.
        size: u64,
    },
    /// Its size differs from the record's.
    SizeMismatch {
        /// Size on disk.
        size: u64,
        /// Size recorded.
        expected: u64,
    },
}

/// The status of `path` from its metadata and record.
pub fn file_status(path: &Path) -> Result<FileStatus, HubError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match std::fs::metadata(part_path(path)) {
                Ok(part) => FileStatus::Partial { bytes: part.len() },
                Err(_) => FileStatus::Missing,
            });
        }
        Err(e) => return Err(io_error(path)(e)),
    };
    let size = meta.len();
    Ok(match read_record(path)? {
        None => FileStatus::Unrecorded { size },
        Some(r) if r.size != size => FileStatus::SizeMismatch {
            size,
            expected: r.size,
        },
        Some(r) if r.verified_mtime_ns.is_some() && r.verified_mtime_ns == mtime_ns(&meta) => {
            FileStatus::Verified { size }
        }
        Some(_) => FileStatus::Unchecked { size },
    })
}

/// The outcome of hashing a file against its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// The sha256 matches the record (which now says so).
    Match {
        /// The sha256.
        sha256: String,
    },
    /// The sha256 differs from the record.
    Mismatch {
        /// Recorded.
        expected: String,
        /// Found.
        actual: String,
    },
    /// No record beside the file; this is its sha256.
    NoRecord {
        /// The sha256.
        sha256: String,
    },
}

/// Hashes `path` and compares it with its record; a match is noted in the record so that
/// [`file_status`] reports it as verified until the file changes.
pub fn check_checksum(path: &Path) -> Result<ChecksumCheck, HubError> {
    let _span = tracing::info_span!("check_checksum", path = %path.display()).entered();
    let record = read_record(path)?;
    let mtime = std::fs::metadata(path)
        .map_err(io_error(path))
        .map(|m| mtime_ns(&m))?;
    let actual = sha256_file(path)?;
    Ok(match record {
        None => ChecksumCheck::NoRecord { sha256: actual },
        Some(r) if r.sha256 != actual => ChecksumCheck::Mismatch {
            expected: r.sha256,
            actual,
        },
        Some(mut r) => {
            if r.verified_mtime_ns != mtime {
                r.verified_mtime_ns = mtime;
                write_record(path, &r)?;
            }
            ChecksumCheck::Match { sha256: actual }
        }
    })
}
