//! Downloads from a Hugging Face style hub: `{endpoint}/{repo}/resolve/{revision}/{file}`,
//! resumed from `<file>.part` with `Range`, checked against the sha256 the hub announces, and
//! renamed into place only when complete.
//!
//! The hub answers large (LFS) files with a redirect to a CDN whose `X-Linked-Etag` holds the
//! file's sha256 and `X-Linked-Size` its size; small files come straight with a git `ETag`
//! (not a sha256), whose checksum is then computed on arrival. Redirects are followed here,
//! not by the client, so that the `Range` header and the announced checksum survive them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{FileRecord, HubError, part_path, sha256_file, write_record};

/// How far a download has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Bytes in the `.part` file so far (resumed bytes included).
    pub bytes: u64,
    /// The file's size, when the server said.
    pub total: Option<u64>,
}

/// A finished download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    /// Where the file now is.
    pub path: PathBuf,
    /// Its record (sha256, size, source).
    pub record: FileRecord,
    /// Bytes that were already in the `.part` file when this download began.
    pub resumed_from: u64,
}

/// The endpoint from `HF_ENDPOINT`, else [`super::DEFAULT_ENDPOINT`].
pub fn endpoint_from_env() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| super::DEFAULT_ENDPOINT.to_owned())
}

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// A blocking downloader for one endpoint and revision.
#[derive(Debug)]
pub struct Downloader {
    endpoint: String,
    revision: String,
    retries: u32,
    agent: ureq::Agent,
}

/// What the server announced about the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Announced {
    sha256: Option<String>,
    size: Option<u64>,
}

impl Downloader {
    /// A downloader for `endpoint` (e.g. `https://huggingface.co`) at `revision`.
    pub fn new(endpoint: &str, revision: &str) -> Result<Self, HubError> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let rest = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty()) {
            return Err(HubError::Endpoint { endpoint });
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .user_agent(concat!("signcap/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self {
            endpoint,
            revision: revision.to_owned(),
            retries: 3,
            agent,
        })
    }

    /// How often a broken transfer is resumed within one [`Downloader::download`] (default 3).
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The endpoint, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The address of `file` in `repo`.
    pub fn url(&self, repo: &str, file: &str) -> String {
        format!("{}/{repo}/resolve/{}/{file}", self.endpoint, self.revision)
    }

    /// Downloads `file` of `repo` to `dest`, resuming `<dest>.part`, reporting progress, and
    /// writing `<dest>.meta.json`; `dest` appears only complete and checked.
    pub fn download(
        &self,
        repo: &str,
        file: &str,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Downloaded, HubError> {
        let url = self.url(repo, file);
        let _span = tracing::info_span!("download", url = %url).entered();
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(super::io_error(dir))?;
        }
        let part = part_path(dest);
        let mut announced = Announced::default();
        // Where the first answer began writing: bytes kept from an earlier run.
        let mut started_at = None;
        let mut attempt = 0;
        loop {
            match self.fetch_into(&url, &part, &mut announced, &mut started_at, progress) {
                Ok(()) => break,
                Err(HubError::Interrupted { .. }) if attempt < self.retries => {
                    attempt += 1;
                    tracing::warn!(attempt, "transfer broke off; resuming");
                }
                Err(e) => return Err(e),
            }
        }
        self.finish(&url, &part, dest, &announced, started_at.unwrap_or(0))
    }

    /// One request: appends the rest of the file to `part`.
    fn fetch_into(
        &self,
        url: &str,
        part: &Path,
        announced: &mut Announced,
        started_at: &mut Option<u64>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), HubError> {
        let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        if announced.size.is_some_and(|size| offset > size) {
            remove(part)?;
            offset = 0;
        }
        if offset > 0 && announced.size == Some(offset) {
            started_at.get_or_insert(offset);
            return Ok(());
        }
        let (response, this) = self.get(url, offset)?;
        // The first answer fixes what the file must be; later ones may not contradict it.
        if announced.sha256.is_none() && announced.size.is_none() {
            *announced = this.clone();
        } else if this.sha256.is_some() && this.sha256 != announced.sha256 {
            // Old bytes and new bytes must not be joined into one file.
            remove(part)?;
            return Err(HubError::Protocol {
                url: url.to_owned(),
                reason: "the file changed on the server during the download; the partial \
                         download was deleted, download it again"
                    .into(),
            });
        }
        let status = response.status().as_u16();
        match status {
            206 => {
                let range = header(&response, "content-range").unwrap_or_default();
                let start = parse_content_range_start(&range);
                if start != Some(offset) {
                    return Err(HubError::Protocol {
                        url: url.to_owned(),
                        reason: format!("asked for bytes from {offset}, got the range `{range}`"),
                    });
                }
            }
            200 => {
                if offset > 0 {
                    // The server ignored the range: start over.
                    remove(part)?;
                    offset = 0;
                }
            }
            416 => {
                // The part is not a prefix of this file (it is as long or longer): start over.
                remove(part)?;
                return self.fetch_into(url, part, announced, started_at, progress);
            }
            _ => return Err(status_error(url, status)),
        }
        // Opened only once the server sends the file: a refusal leaves no empty `.part`.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(part)
            .map_err(super::io_error(part))?;
        let total = announced.size.or_else(|| {
            header(&response, "content-length")
                .and_then(|l| l.parse::<u64>().ok())
                .map(|l| l + offset)
        });
        let mut bytes = offset;
        started_at.get_or_insert(offset);
        progress(Progress { bytes, total });
        let mut body = response.into_body().into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let interrupted = |bytes: u64, cause: String| HubError::Interrupted {
            url: url.to_owned(),
            bytes,
            cause,
        };
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    file.flush().map_err(super::io_error(part))?;
                    return Err(interrupted(bytes, e.to_string()));
                }
            };
            file.write_all(&buf[..n]).map_err(super::io_error(part))?;
            bytes += n as u64;
            progress(Progress { bytes, total });
        }
        file.sync_all().map_err(super::io_error(part))?;
        if let Some(total) = total
            && bytes < total
        {
            return Err(interrupted(
                bytes,
                format!("the connection closed before byte {total}"),
            ));
        }
        Ok(())
    }

    /// GET `url` from byte `offset`, following redirects; also what the answers announced.
    fn get(
        &self,
        url: &str,
        offset: u64,
    ) -> Result<(ureq::http::Response<ureq::Body>, Announced), HubError> {
        let mut current = url.to_owned();
        let mut announced = Announced::default();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.agent.get(&current);
            if offset > 0 {
                request = request.header("Range", format!("bytes={offset}-"));
            }
            let response = request.call().map_err(|e| HubError::Unreachable {
                origin: origin(&current).to_owned(),
                cause: e.to_string(),
            })?;
            let status = response.status().as_u16();
            // The hub puts the LFS checksum and size on the redirect; a direct answer has them
            // as its ETag and length.
            if announced.sha256.is_none() {
                announced.sha256 = header(&response, "x-linked-etag")
                    .or_else(|| header(&response, "etag"))
                    .and_then(|e| sha256_from_etag(&e));
            }
            if announced.size.is_none() {
                announced.size = header(&response, "x-linked-size").and_then(|s| s.parse().ok());
            }
            if !(300..400).contains(&status) || status == 304 {
                if announced.size.is_none() && status == 200 {
                    announced.size =
                        header(&response, "content-length").and_then(|s| s.parse().ok());
                }
                if announced.size.is_none() && status == 206 {
                    announced.size = header(&response, "content-range")
                        .and_then(|r| r.rsplit('/').next().and_then(|t| t.parse().ok()));
                }
                return Ok((response, announced));
            }
            let Some(location) = header(&response, "location") else {
                return Err(HubError::Protocol {
                    url: current,
                    reason: format!("redirect (HTTP {status}) without a Location"),
                });
            };
            current = resolve_location(&current, &location);
        }
        Err(HubError::Protocol {
            url: url.to_owned(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Checks the complete `.part` against what was announced, records it, renames it.
    fn finish(
        &self,
        url: &str,
        part: &Path,
        dest: &Path,
        announced: &Announced,
        resumed_from: u64,
    ) -> Result<Downloaded, HubError> {
        let size = std::fs::metadata(part)
            .map_err(super::io_error(part))?
            .len();
        let shown = dest.display().to_string();
        if let Some(expected) = announced.size
            && expected != size
        {
            remove(part)?;
            return Err(HubError::SizeMismatch {
                path: shown,
                expected,
                actual: size,
            });
        }
        let sha256 = sha256_file(part)?;
        if let Some(expected) = &announced.sha256
            && *expected != sha256
        {
            remove(part)?;
            return Err(HubError::ChecksumMismatch {
                path: shown,
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let mut record = FileRecord {
            sha256,
            size,
            sha256_from_server: announced.sha256.is_some(),
            url: url.to_owned(),
            verified_mtime_ns: None,
        };
        std::fs::rename(part, dest).map_err(super::io_error(dest))?;
        // Just hashed: verified as of the file's own modification time.
        record.verified_mtime_ns = std::fs::metadata(dest)
            .ok()
            .and_then(|m| super::record::mtime_ns(&m));
        write_record(dest, &record)?;
        Ok(Downloaded {
            path: dest.to_path_buf(),
            record,
            resumed_from,
        })
    }
}

fn remove(path: &Path) -> Result<(), HubError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(super::io_error(path)(e)),
        _ => Ok(()),
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn status_error(url: &str, status: u16) -> HubError {
    match status {
        404 => HubError::NotFound {
            url: url.to_owned(),
        },
        401 | 403 => HubError::Status {
            url: url.to_owned(),
            status,
            hint: " (a gated or private repository?)",
        },
        429 => HubError::Status {
            url: url.to_owned(),
            status,
            hint: " (rate limited; try again later)",
        },
        _ => HubError::Status {
            url: url.to_owned(),
            status,
            hint: "",
        },
    }
}

/// The sha256 in an ETag (`"hex"` or `W/"hex"`), when it is one (64 hex digits).
fn sha256_from_etag(etag: &str) -> Option<String> {
    let tag = etag.trim().trim_start_matches("W/").trim_matches('"');
    (tag.len() == 64 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| tag.to_ascii_lowercase())
}

/// `START` of `bytes START-END/TOTAL`.
fn parse_content_range_start(range: &str) -> Option<u64> {
    let rest = range.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// Scheme, host and port of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// A `Location` made absolute against the URL that answered with it.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else if let Some(path) = location.strip_prefix('/') {
        if let Some(rest) = path.strip_prefix('/') {
            // Scheme-relative: `//host/path`.
            let scheme = base.split("://").next().unwrap_or("https");
            format!("{scheme}://{rest}")
        } else {
            format!("{}/{path}", origin(base))
        }
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_holds_a_sha256_only_when_it_is_64_hex_digits() {
        let sha = "a".repeat(64);
        assert_eq!(sha256_from_etag(&format!("\"{sha}\"")), Some(sha.clone()));
        assert_eq!(
            sha256_from_etag(&format!("W/\"{}\"", sha.to_uppercase())),
            Some(sha)
        );
        // A git blob id (sha1) is not a checksum of the bytes we can compare.
        assert_eq!(
            sha256_from_etag("\"2c4f2cb1d5c5ee8ac0c3c3f9c6a1f0e7b1d3a5c7\""),
            None
        );
        assert_eq!(sha256_from_etag(&format!("\"{}\"", "g".repeat(64))), None);
    }

    #[test]
    fn content_range_start_and_locations() {
        assert_eq!(parse_content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(parse_content_range_start("bytes */200"), None);
        assert_eq!(origin("http://127.0.0.1:8080/a/b"), "http://127.0.0.1:8080");
        assert_eq!(
            resolve_location("https://hub.example/a/resolve/main/x", "/api/y"),
            "https://hub.example/api/y"
        );
        assert_eq!(
            resolve_location("https://hub.example/a/b", "//cdn.example/z"),
            "https://cdn.example/z"
        );
        assert_eq!(
            resolve_location("https://hub.example/a/b", "c"),
            "https://hub.example/a/c"
        );
        assert_eq!(
            resolve_location("https://hub.example/a", "http://cdn.example/q?s=1"),
            "http://cdn.example/q?s=1"
        );
    }

    #[test]
    fn endpoint_must_be_http() {
        assert!(matches!(
            Downloader::new("ftp://x", "main"),
            Err(HubError::Endpoint { .. })
        ));
        let d = Downloader::new("http://127.0.0.1:9/", "v1").unwrap();
        assert_eq!(
            d.url("o/n", "f.pth"),
            "http://127.0.0.1:9/o/n/resolve/v1/f.pth"
        );
    }
}
