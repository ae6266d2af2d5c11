//! `signcap models` against a local HTTP server laid out like the Hugging Face hub
//! (`/{repo}/resolve/{revision}/{file}`), serving the tiny parity files under catalogue names:
//! downloads equal their source, resume with `Range`, follow the hub's redirect to its CDN,
//! reject a wrong checksum, and give one clear line when the hub cannot be reached. The
//! downloaded checkpoint and mT5 folder then run `signcap translate`.
//!
//! Registered in app/Cargo.toml so that Cargo builds the binary and sets `CARGO_BIN_EXE_signcap`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use signcap_tests::shared_dir;

const UNISIGN: &str = "ZechengLi19/Uni-Sign";
const MT5: &str = "google/mt5-base";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One file the server holds.
struct Served {
    body: Vec<u8>,
    /// The ETag it announces (the sha256 for LFS files, a git blob id for small ones).
    etag: String,
    /// Answer the hub address with a 302 to `/cdn/…` (as the hub does for LFS files).
    redirect: bool,
    /// How many more full-file answers break off halfway.
    cuts_left: AtomicUsize,
}

impl Served {
    fn lfs(body: Vec<u8>) -> Self {
        let etag = sha256_hex(&body);
        Self::with_etag(body, etag, true)
    }

    fn small(body: Vec<u8>) -> Self {
        // A git blob id: 40 hex digits, not a checksum the client can use.
        let etag = sha256_hex(&body)[..40].to_owned();
        Self::with_etag(body, etag, false)
    }

    fn with_etag(body: Vec<u8>, etag: String, redirect: bool) -> Self {
        Self {
            body,
            etag,
            redirect,
            cuts_left: AtomicUsize::new(0),
        }
    }

    fn cut(self, times: usize) -> Self {
        self.cuts_left.store(times, Ordering::SeqCst);
        self
    }
}

/// A request the server saw.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    range: Option<String>,
}

/// The running server.
struct FakeHub {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeHub {
    /// Serves `files` keyed by `(repo, file)` at revision `main`.
    fn start(files: Vec<((&str, &str), Served)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let files: HashMap<String, Served> = files
            .into_iter()
            .map(|((repo, file), served)| (format!("/{repo}/resolve/main/{file}"), served))
            .collect();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = (Arc::new(files), seen.clone(), endpoint.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // One connection at a time, closed after each answer: the client is sequential.
                let _ = answer(stream, &state.0, &state.1, &state.2);
            }
        });
        Self { endpoint, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(
    stream: TcpStream,
    files: &HashMap<String, Served>,
    seen: &Mutex<Vec<Seen>>,
    endpoint: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_owned());
        }
    }
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
    });
    let mut out = stream;
    let (served, via_cdn) = match path.strip_prefix("/cdn") {
        Some(hub_path) => (files.get(hub_path), true),
        None => (files.get(&path), false),
    };
    let Some(served) = served else {
        return out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let len = served.body.len();
    if served.redirect && !via_cdn {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: {endpoint}/cdn{path}\r\nX-Linked-Etag: \"{}\"\r\n\
             X-Linked-Size: {len}\r\nETag: \"{}\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            served.etag, served.etag
        );
        return out.write_all(head.as_bytes());
    }
    // The CDN has its own ETag (not the sha256): the client must keep the hub's.
    let etag = if via_cdn {
        "\"cdn-object-7\"".to_owned()
    } else {
        format!("\"{}\"", served.etag)
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|s| s.parse::<usize>().ok());
    let (status, body, extra) = match start {
        Some(start) if start >= len => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return out.write_all(head.as_bytes());
        }
        Some(start) => (
            "206 Partial Content",
            &served.body[start..],
            format!("Content-Range: bytes {start}-{}/{len}\r\n", len - 1),
        ),
        None => ("200 OK", &served.body[..], String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\n\
         {extra}Connection: close\r\n\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())?;
    if method == "HEAD" {
        return Ok(());
    }
    let cut = start.is_none()
        && served
            .cuts_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if cut {
        out.write_all(&body[..body.len() / 2])?;
        out.flush()?;
        // Closing mid-body is the broken transfer.
        return out.shutdown(std::net::Shutdown::Both);
    }
    out.write_all(body)
}

fn parity(name: &str) -> PathBuf {
    shared_dir().join("reference/parity").join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tiny_checkpoint() -> Vec<u8> {
    read(&parity("tiny_unisign_bf16.pth"))
}

fn signcap(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signcap"));
    cmd.env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("HF_ENDPOINT")
        .env("SIGNCAP_MODELS", cache);
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run signcap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Exit status 1 and exactly one line on stderr, starting `error: `; returns it.
fn assert_one_error(out: &Output) -> String {
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(lines.len(), 1, "exactly one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_owned()
}

fn mt5_files() -> Vec<((&'static str, &'static str), Served)> {
    // generation_config.json is left off: an optional file the server lacks is skipped.
    [
        "config.json",
        "spiece.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ]
    .into_iter()
    .map(|f| {
        (
            (MT5, f),
            Served::small(read(&parity(&format!("tiny-mt5/{f}")))),
        )
    })
    .collect()
}

fn translate(checkpoint: &Path, mt5: &Path) -> String {
    let pose = shared_dir().join("eval-media/poses/ase_FOOTBALL.holistic.pose");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signcap"));
    cmd.arg("translate")
        .arg(pose)
        .arg("--checkpoint")
        .arg(checkpoint)
        .arg("--mt5")
        .arg(mt5)
        .args(["--beams", "1", "--max-new-tokens", "6", "--format", "json"]);
    assert_ok(&run(cmd))
}

#[test]
fn downloads_follow_the_cdn_redirect_and_the_files_translate() {
    let mut files = vec![(
        (UNISIGN, "how2sign_pose_only_slt.pth"),
        Served::lfs(tiny_checkpoint()),
    )];
    files.extend(mt5_files());
    let hub = FakeHub::start(files);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("models");

    let mut cmd = signcap(&cache);
    cmd.args([
        "models",
        "download",
        "how2sign_pose_only_slt",
        "--mt5",
        "--endpoint",
    ])
    .arg(&hub.endpoint);
    let stdout = assert_ok(&run(cmd));
    assert!(
        stdout.contains("generation_config.json: not on the server (optional), skipped"),
        "{stdout}"
    );

    let checkpoint = cache.join("ZechengLi19--Uni-Sign/how2sign_pose_only_slt.pth");
    let mt5 = cache.join("google--mt5-base");
    assert_eq!(read(&checkpoint), tiny_checkpoint());
    for f in [
        "config.json",
        "spiece.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert_eq!(
            read(&mt5.join(f)),
            read(&parity(&format!("tiny-mt5/{f}"))),
            "{f}"
        );
    }
    assert!(!mt5.join("generation_config.json").exists());
    let seen = hub.seen();
    assert!(
        seen.iter()
            .any(|s| s.path == "/cdn/ZechengLi19/Uni-Sign/resolve/main/how2sign_pose_only_slt.pth"),
        "the redirect was followed: {seen:?}"
    );
    // The checkpoint's sha256 came from the hub (through the redirect); config.json's was computed.
    let record = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&read(&PathBuf::from(format!("{}.meta.json", p.display())))).unwrap()
    };
    let ckpt_record = record(&checkpoint);
    assert_eq!(
        ckpt_record["sha256"],
        sha256_hex(&tiny_checkpoint()).as_str()
    );
    assert_eq!(ckpt_record["sha256_from_server"], true);
    let config_record = record(&mt5.join("config.json"));
    assert_eq!(config_record["sha256_from_server"], false);
    assert_eq!(
        config_record["sha256"],
        sha256_hex(&read(&parity("tiny-mt5/config.json"))).as_str()
    );

    // A second download is answered from the cache without asking the server.
    let before = hub.seen().len();
    let mut cmd = signcap(&cache);
    cmd.args(["models", "download", "how2sign_pose_only_slt", "--endpoint"])
        .arg(&hub.endpoint);
    assert!(assert_ok(&run(cmd)).contains("already in the cache"));
    assert_eq!(hub.seen().len(), before);

    let mut cmd = signcap(&cache);
    cmd.arg("models");
    let listing = assert_ok(&run(cmd));
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} not listed: {listing}"))
            .to_owned()
    };
    assert!(
        line("how2sign_pose_only_slt").contains("verified ✓"),
        "{listing}"
    );
    assert!(line("how2sign_pose_only_slt").contains(" en "), "{listing}");
    assert!(
        line("csl_daily_pose_only_slt").contains("missing"),
        "{listing}"
    );
    assert!(
        line("csl_daily_pose_only_slt").contains(" zh "),
        "{listing}"
    );
    assert!(
        line("wlasl_rgb_pose_islr").contains("not supported"),
        "{listing}"
    );
    assert!(line("config.json").contains("verified ✓"), "{listing}");
    assert!(
        line("generation_config.json").contains("missing"),
        "{listing}"
    );

    let mut cmd = signcap(&cache);
    cmd.args(["models", "verify", "--full", "--mt5"]).arg(&mt5);
    let report = assert_ok(&run(cmd));
    assert!(report.contains("torch.save zip"), "{report}");
    assert!(report.contains("pose-only"), "{report}");
    assert!(report.contains("keys load"), "{report}");
    assert!(report.contains("mT5 folder"), "{report}");
    assert!(!report.contains('✗'), "{report}");

    // The downloaded files work, exactly as the originals do.
    assert_eq!(
        translate(&checkpoint, &mt5),
        translate(&parity("tiny_unisign_bf16.pth"), &parity("tiny-mt5"))
    );

    // A changed byte is found by verify (one clear error line, the file named on stdout).
    let mut bytes = tiny_checkpoint();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&checkpoint, &bytes).unwrap();
    let mut cmd = signcap(&cache);
    cmd.args(["models", "verify"]);
    let out = run(cmd);
    let error = assert_one_error(&out);
    assert!(error.contains("checks failed"), "{error}");
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with('✗')
                && l.contains("how2sign_pose_only_slt.pth: checksum mismatch")),
        "{stdout}"
    );
}

#[test]
fn a_broken_transfer_resumes_with_a_range_request() {
    let source = tiny_checkpoint();
    let hub = FakeHub::start(vec![
        (
            (UNISIGN, "openasl_pose_only_slt.pth"),
            Served::lfs(source.clone()).cut(1),
        ),
        (
            (UNISIGN, "wlasl_pose_only_islr.pth"),
            Served::lfs(source.clone()).cut(1),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("ZechengLi19--Uni-Sign");
    let target = repo.join("openasl_pose_only_slt.pth");
    let part = repo.join("openasl_pose_only_slt.pth.part");

    // Without retries the first run stops with the half it got, kept as .part.
    let mut cmd = signcap(dir.path());
    cmd.args([
        "models",
        "download",
        "openasl_pose_only_slt",
        "--retries",
        "0",
    ])
    .env("HF_ENDPOINT", &hub.endpoint);
    let error = assert_one_error(&run(cmd));
    assert!(error.contains("interrupted after"), "{error}");
    assert!(error.contains("download again to resume"), "{error}");
    assert!(!target.exists());
    let half = read(&part);
    assert_eq!(half, source[..source.len() / 2]);

    // The next run asks for the rest only.
    let mut cmd = signcap(dir.path());
    cmd.args(["models", "download", "openasl_pose_only_slt"])
        .env("HF_ENDPOINT", &hub.endpoint);
    let stdout = assert_ok(&run(cmd));
    assert!(stdout.contains("resumed at"), "{stdout}");
    assert_eq!(read(&target), source);
    assert!(!part.exists());
    let expected_range = format!("bytes={}-", half.len());
    assert!(
        hub.seen()
            .iter()
            .any(|s| s.path.ends_with("openasl_pose_only_slt.pth")
                && s.range.as_deref() == Some(expected_range.as_str())),
        "{:?}",
        hub.seen()
    );

    // With retries (the default) one run resumes by itself.
    let mut cmd = signcap(dir.path());
    cmd.args(["models", "download", "wlasl_pose_only_islr", "--endpoint"])
        .arg(&hub.endpoint);
    let stdout = assert_ok(&run(cmd));
    assert!(
        !stdout.contains("resumed at"),
        "nothing was kept from an earlier run: {stdout}"
    );
    assert_eq!(read(&repo.join("wlasl_pose_only_islr.pth")), source);
    let ranged = hub
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("wlasl_pose_only_islr.pth") && s.range.is_some())
        .count();
    assert!(ranged >= 1, "{:?}", hub.seen());
}

#[test]
fn a_wrong_checksum_is_rejected_and_nothing_is_kept() {
    let source = tiny_checkpoint();
    let wrong = sha256_hex(b"some other file");
    let hub = FakeHub::start(vec![(
        (UNISIGN, "csl_daily_pose_only_slt.pth"),
        Served::with_etag(source, wrong.clone(), true),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = signcap(dir.path());
    cmd.args([
        "models",
        "download",
        "csl_daily_pose_only_slt.pth",
        "--endpoint",
    ])
    .arg(&hub.endpoint);
    let error = assert_one_error(&run(cmd));
    assert!(
        error.contains("csl_daily_pose_only_slt.pth: checksum mismatch"),
        "{error}"
    );
    assert!(
        error.contains(&format!("expected sha256 {wrong}")),
        "{error}"
    );
    assert!(error.contains("deleted"), "{error}");
    let repo = dir.path().join("ZechengLi19--Uni-Sign");
    let left: Vec<_> = std::fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "nothing may stay under the final name or as .part: {left:?}"
    );
}

#[test]
fn an_unreachable_hub_gives_one_clear_line() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = signcap(dir.path());
    cmd.args(["models", "download", "--mt5", "--endpoint", &endpoint]);
    let out = run(cmd);
    let error = assert_one_error(&out);
    assert!(
        error.starts_with(&format!("error: cannot reach {endpoint} (offline?): ")),
        "{error}"
    );
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // An unknown name is reported before any connection is tried.
    let mut cmd = signcap(dir.path());
    cmd.args(["models", "download", "csl_daily", "--endpoint", &endpoint]);
    let error = assert_one_error(&run(cmd));
    assert!(error.contains("unknown model `csl_daily`"), "{error}");
    assert!(error.contains("csl_daily_pose_only_slt"), "{error}");
}
