//! `signcap models`: the model catalogue and cache, checks of model files, and downloads of
//! the official checkpoints and the mT5 files from the Hugging Face hub.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::bail;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use signcap_engine::model::hub::{
    self, CHECKPOINTS, ChecksumCheck, Container, Downloader, FileStatus, HubError, MT5_FILES,
    MT5_REPO, ModelCache, UNISIGN_REPO,
};
use signcap_engine::model::{Language, Mt5Config, PoseEncoderConfig, UniSignConfig, load_weights};

/// Arguments of `signcap models`.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// What to do; without one, lists the catalogue and what the cache holds.
    #[command(subcommand)]
    pub command: Option<ModelsCommand>,
    /// Cache folder (default: $SIGNCAP_MODELS, else $XDG_CACHE_HOME/signcap/models, else
    /// ~/.cache/signcap/models).
    #[arg(long, global = true)]
    pub cache: Option<PathBuf>,
}

/// The `signcap models` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ModelsCommand {
    /// List the catalogue with the state of each file in the cache (reads no file's bytes).
    List,
    /// Check files: recorded checksums, checkpoint containers and keys, mT5 folders.
    Verify(VerifyArgs),
    /// Download official checkpoints and the mT5 files from the Hugging Face hub.
    Download(DownloadArgs),
}

/// Arguments of `signcap models verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Checkpoints, mT5 folders or downloaded files; default: everything in the cache.
    pub paths: Vec<PathBuf>,
    /// Load every tensor of each checkpoint and check all keys and shapes (slow for 1.2 GB).
    #[arg(long)]
    pub full: bool,
    /// mT5 folder or config.json for --full (default: google/mt5-base's configuration).
    #[arg(long)]
    pub mt5: Option<PathBuf>,
}

/// Arguments of `signcap models download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// Catalogue names (e.g. `csl_daily_pose_only_slt`, with or without `.pth`).
    pub names: Vec<String>,
    /// Also download the mT5 config and tokenizer (google/mt5-base).
    #[arg(long)]
    pub mt5: bool,
    /// Hub address (default: $HF_ENDPOINT, else https://huggingface.co).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Hub revision (branch, tag or commit).
    #[arg(long, default_value = hub::DEFAULT_REVISION)]
    pub revision: String,
    /// How often a broken transfer is resumed before giving up.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Download again even when the file is already in the cache.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let cache = match args.cache {
        Some(dir) => ModelCache::new(dir),
        None => ModelCache::from_env()?,
    };
    match args.command {
        None | Some(ModelsCommand::List) => list(&cache),
        Some(ModelsCommand::Verify(a)) => verify(&cache, &a),
        Some(ModelsCommand::Download(a)) => download(&cache, &a),
    }
}

fn lang_label(language: Language) -> &'static str {
    match language {
        Language::Chinese => "zh",
        Language::English => "en",
    }
}

fn status_text(status: &FileStatus) -> String {
    match status {
        FileStatus::Missing => "missing".into(),
        FileStatus::Partial { bytes } => format!("partial download, {}", HumanBytes(*bytes)),
        FileStatus::Unrecorded { size } => {
            format!("present, {} (no checksum record)", HumanBytes(*size))
        }
        FileStatus::Verified { size } => format!("verified ✓ {}", HumanBytes(*size)),
        FileStatus::Unchecked { size } => format!(
            "present, {}, changed since last verified (run `signcap models verify`)",
            HumanBytes(*size)
        ),
        FileStatus::SizeMismatch { size, expected } => format!(
            "size mismatch: {size} bytes, recorded {expected} (download it again with --force)"
        ),
    }
}

fn list(cache: &ModelCache) -> anyhow::Result<()> {
    println!("model cache: {}", cache.root().display());
    println!(
        "Uni-Sign checkpoints ({UNISIGN_REPO}) in {}:",
        cache.repo_dir(UNISIGN_REPO).display()
    );
    for info in &CHECKPOINTS {
        let status = hub::file_status(&cache.checkpoint_path(info))?;
        let note = if info.supported() {
            ""
        } else {
            "  [RGB: not supported for translation yet]"
        };
        println!(
            "  {:<28} {} {:<4} {:<8} stage {} {:<10}  {}{note}",
            info.name(),
            lang_label(info.language),
            info.task.label(),
            info.modality.label(),
            info.stage,
            info.dataset,
            status_text(&status),
        );
    }
    println!(
        "mT5 config and tokenizer ({MT5_REPO}) in {} (use as --mt5):",
        cache.mt5_dir().display()
    );
    for file in &MT5_FILES {
        let status = hub::file_status(&cache.mt5_dir().join(file.file))?;
        let need = if file.required {
            "required"
        } else {
            "optional"
        };
        println!("  {:<28} {need}  {}", file.file, status_text(&status));
    }
    Ok(())
}

/// One check's line: `✓ what` or `✗ what`.
struct Outcome {
    ok: bool,
    line: String,
}

fn outcome(ok: bool, line: String) -> Outcome {
    Outcome { ok, line }
}

/// The error and its causes on one line.
fn one_line(e: &HubError) -> String {
    let mut line = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    line
}

fn verify(cache: &ModelCache, args: &VerifyArgs) -> anyhow::Result<()> {
    let full_config = if args.full {
        let mt5 = match &args.mt5 {
            Some(path) => Mt5Config::load(path)?,
            None => Mt5Config::mt5_base(),
        };
        Some(UniSignConfig {
            pose: PoseEncoderConfig::default(),
            mt5,
        })
    } else {
        None
    };
    let mut outcomes = Vec::new();
    if args.paths.is_empty() {
        for info in &CHECKPOINTS {
            let path = cache.checkpoint_path(info);
            if path.is_file() {
                verify_file(&path, full_config.as_ref(), &mut outcomes);
            }
        }
        let mt5 = cache.mt5_dir();
        if mt5.join("config.json").is_file() {
            verify_dir(&mt5, &mut outcomes);
        }
        if outcomes.is_empty() {
            println!("nothing downloaded in {}", cache.root().display());
            return Ok(());
        }
    } else {
        for path in &args.paths {
            if path.is_dir() {
                verify_dir(path, &mut outcomes);
            } else {
                verify_file(path, full_config.as_ref(), &mut outcomes);
            }
        }
    }
    for o in &outcomes {
        println!("{} {}", if o.ok { "✓" } else { "✗" }, o.line);
    }
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", outcomes.len());
    }
    Ok(())
}

fn verify_dir(dir: &Path, outcomes: &mut Vec<Outcome>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && hub::read_record(p).ok().flatten().is_some())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for file in &files {
        outcomes.push(checksum_outcome(file));
    }
    outcomes.push(match hub::check_mt5_folder(dir) {
        Ok(s) => outcome(
            true,
            format!(
                "{}: mT5 folder, d_model {}, {} + {} layers, tokenizer of {} pieces (vocab {})",
                dir.display(),
                s.config.d_model,
                s.config.num_layers,
                s.config.decoder_layers(),
                s.tokenizer_vocab,
                s.config.vocab_size
            ),
        ),
        Err(e) => outcome(false, one_line(&e)),
    });
}

fn checksum_outcome(path: &Path) -> Outcome {
    match hub::check_checksum(path) {
        Ok(ChecksumCheck::Match { sha256 }) => outcome(
            true,
            format!("{}: sha256 {sha256} matches the record", path.display()),
        ),
        Ok(ChecksumCheck::Mismatch { expected, actual }) => outcome(
            false,
            format!(
                "{}: checksum mismatch: recorded sha256 {expected}, file has {actual}",
                path.display()
            ),
        ),
        Ok(ChecksumCheck::NoRecord { sha256 }) => outcome(
            true,
            format!("{}: sha256 {sha256} (no record to compare)", path.display()),
        ),
        Err(e) => outcome(false, one_line(&e)),
    }
}

fn verify_file(path: &Path, full: Option<&UniSignConfig>, outcomes: &mut Vec<Outcome>) {
    let shown = path.display();
    if !path.is_file() {
        outcomes.push(outcome(false, format!("{shown}: no such file")));
        return;
    }
    let before = outcomes.len();
    if matches!(hub::read_record(path), Ok(Some(_)) | Err(_)) {
        outcomes.push(checksum_outcome(path));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if name == "config.json" {
        outcomes.push(match Mt5Config::load(path) {
            Ok(c) => outcome(true, format!("{shown}: mT5 config, d_model {}", c.d_model)),
            Err(e) => outcome(false, one_line(&e.into())),
        });
    } else if name == "spiece.model" {
        use signcap_engine::decode::tokenizer::MT5Tokenizer;
        outcomes.push(match MT5Tokenizer::from_spiece(path) {
            Ok(t) => outcome(
                true,
                format!("{shown}: tokenizer of {} pieces", t.vocab_size()),
            ),
            Err(e) => outcome(false, one_line(&HubError::Model(e.into()))),
        });
    } else if ext == "pth" || ext == "safetensors" {
        outcomes.push(checkpoint_outcome(path, full));
    }
    if outcomes.len() == before {
        outcomes.push(outcome(
            false,
            format!("{shown}: not a checkpoint, mT5 file or downloaded file"),
        ));
    }
}

fn checkpoint_outcome(path: &Path, full: Option<&UniSignConfig>) -> Outcome {
    let summary = match hub::check_checkpoint_header(path) {
        Ok(s) => s,
        Err(e) => return outcome(false, one_line(&e)),
    };
    let container = match summary.container {
        Container::Pth => "torch.save zip",
        Container::Safetensors => "safetensors",
    };
    let mut line = format!(
        "{}: {container}, {} tensors, mT5 {} × {} in {}",
        path.display(),
        summary.tensors,
        summary.vocab_size,
        summary.d_model,
        summary.mt5_dtype
    );
    if let Some(language) = hub::language_from_checkpoint_name(path) {
        line.push_str(&format!(", output {}", lang_label(language)));
    }
    if summary.rgb_keys > 0 {
        line.push_str(&format!(
            ", RGB branch ({} keys): not supported for translation yet",
            summary.rgb_keys
        ));
    } else {
        line.push_str(", pose-only");
    }
    if let Some(config) = full {
        if summary.rgb_keys > 0 {
            line.push_str(" (--full skipped: RGB)");
        } else {
            match load_weights(path, config) {
                Ok(w) => line.push_str(&format!(", all {} keys load", w.tensors.len())),
                Err(e) => return outcome(false, one_line(&e.into())),
            }
        }
    }
    outcome(true, line)
}

fn progress_bar(label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes}  {bytes_per_sec}  eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(label.to_owned());
    bar
}

/// Downloads one file unless the cache has it; `Ok(false)` when an optional file is not on
/// the server.
fn fetch(
    downloader: &Downloader,
    repo: &str,
    file: &str,
    dest: &Path,
    force: bool,
    optional: bool,
) -> Result<bool, HubError> {
    let status = hub::file_status(dest)?;
    if !force
        && matches!(
            status,
            FileStatus::Verified { .. } | FileStatus::Unchecked { .. }
        )
    {
        println!("{file}: already in the cache ({})", dest.display());
        return Ok(true);
    }
    let bar = progress_bar(file);
    let result = downloader.download(repo, file, dest, &mut |p| {
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.bytes);
    });
    bar.finish_and_clear();
    let done = match result {
        Ok(done) => done,
        Err(HubError::NotFound { .. }) if optional => return Ok(false),
        Err(e) => return Err(e),
    };
    let checked = if done.record.sha256_from_server {
        "matches the hub's"
    } else {
        "recorded"
    };
    let resumed = if done.resumed_from > 0 {
        format!(", resumed at {}", HumanBytes(done.resumed_from))
    } else {
        String::new()
    };
    println!(
        "{file}: {} → {} (sha256 {} {checked}{resumed})",
        HumanBytes(done.record.size),
        dest.display(),
        done.record.sha256
    );
    Ok(true)
}

fn download(cache: &ModelCache, args: &DownloadArgs) -> anyhow::Result<()> {
    if args.names.is_empty() && !args.mt5 {
        bail!("name at least one checkpoint (see `signcap models`) or give --mt5");
    }
    // Every name is checked before any transfer begins.
    let infos = args
        .names
        .iter()
        .map(|n| hub::checkpoint(n))
        .collect::<Result<Vec<_>, _>>()?;
    let endpoint = args.endpoint.clone().unwrap_or_else(hub::endpoint_from_env);
    let downloader = Downloader::new(&endpoint, &args.revision)?.with_retries(args.retries);
    for info in infos {
        let dest = cache.checkpoint_path(info);
        fetch(
            &downloader,
            UNISIGN_REPO,
            info.file,
            &dest,
            args.force,
            false,
        )?;
        if !info.supported() {
            println!(
                "note: {} has the RGB branch; `signcap translate` runs pose-only checkpoints",
                info.name()
            );
        }
    }
    if args.mt5 {
        let dir = cache.mt5_dir();
        for file in &MT5_FILES {
            let dest = dir.join(file.file);
            if !fetch(
                &downloader,
                MT5_REPO,
                file.file,
                &dest,
                args.force,
                !file.required,
            )? {
                println!("{}: not on the server (optional), skipped", file.file);
            }
        }
        println!("mT5 folder: {} (use as --mt5)", dir.display());
    }
    Ok(())
}
