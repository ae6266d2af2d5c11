//! `signcap eval`: scores predictions against references with the Uni-Sign metrics.

use std::path::PathBuf;

use anyhow::Context;
use signcap_engine::eval::{self, Language};

/// The task whose metric to compute.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Task {
    /// Translation: BLEU-1..4 (sacrebleu 1.4.2, 13a) and ROUGE-L F1 (`rouge` 1.0.1).
    Slt,
    /// Isolated signs: per-instance and per-class top-1.
    Islr,
    /// Continuous signs: weighted-alignment WER.
    Cslr,
}

/// The language of the text (SLT only).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Lang {
    /// Chinese (CSL-Daily): spaces removed, characters scored one by one.
    Zh,
    /// Word-level scoring of the text as written.
    En,
}

/// How to print the scores.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// One line per figure.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `signcap eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Which metric family to compute.
    #[arg(long, value_enum)]
    task: Task,
    /// Predictions: `sample: NAME, prediction: TEXT` lines or one prediction per line.
    #[arg(long)]
    hyp: PathBuf,
    /// References: `sample: NAME, ground-truth: TEXT` lines or one reference per line.
    #[arg(long = "ref")]
    reference: PathBuf,
    /// Language of the text (SLT): `zh` scores characters as the CSL-Daily evaluation does.
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Runs the command.
pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    println!("{}", render(&args)?);
    Ok(())
}

/// Computes the scores and formats them as `args.format` asks.
fn render(args: &EvalArgs) -> anyhow::Result<String> {
    let hyps = eval::read_samples(&args.hyp)?;
    let refs = eval::read_samples(&args.reference)?;
    let paired = eval::pair_samples(hyps, refs, &args.hyp, &args.reference)?;
    let (json, text) = match args.task {
        Task::Slt => {
            let language = match args.lang {
                Lang::Zh => Language::Zh,
                Lang::En => Language::En,
            };
            let r = eval::evaluate_slt(&paired, language)?;
            let text = format!(
                "sentences {}\nBLEU-1 {:.2}\nBLEU-2 {:.2}\nBLEU-3 {:.2}\nBLEU-4 {:.2}\nROUGE-L {:.2}",
                r.sentences, r.bleu[0], r.bleu[1], r.bleu[2], r.bleu[3], r.rouge_l
            );
            (serde_json::to_string_pretty(&r), text)
        }
        Task::Islr => {
            let r = eval::evaluate_islr(&paired)?;
            let text = format!(
                "samples {}\nclasses {}\nper-instance top-1 {:.2}\nper-class top-1 {:.2}",
                r.samples, r.classes, r.per_instance, r.per_class
            );
            (serde_json::to_string_pretty(&r), text)
        }
        Task::Cslr => {
            let r = eval::evaluate_cslr(&paired)?;
            let c = &r.counts;
            let text = format!(
                "sentences {}\nWER {:.2}\nsubstitutions {}\ndeletions {}\ninsertions {}\nreference words {}",
                r.sentences, r.wer, c.substitutions, c.deletions, c.insertions, c.reference_words
            );
            (serde_json::to_string_pretty(&r), text)
        }
    };
    Ok(match args.format {
        Format::Text => text,
        Format::Json => json.context("serialising the scores")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        eval: EvalArgs,
    }

    fn unisign_out() -> PathBuf {
        let shared = std::env::var_os("SIGNCAP_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
        let dir = shared.join("reference/unisign-out");
        assert!(
            dir.is_dir(),
            "{} missing (set SIGNCAP_SHARED)",
            dir.display()
        );
        dir
    }

    fn eval(args: &[&str]) -> anyhow::Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("eval").chain(args.iter().copied()))?;
        render(&cli.eval)
    }

    /// The command prints the README table's figures for both sets (text and JSON).
    #[test]
    fn prints_the_reference_table() {
        let dir = unisign_out();
        for (set, lang, want) in [
            (
                "eval_csl_daily_pose_only_test",
                "zh",
                "sentences 1176\nBLEU-1 53.87\nBLEU-2 40.99\nBLEU-3 32.09\nBLEU-4 25.70\nROUGE-L 55.00",
            ),
            (
                "eval_how2sign_pose_only_test",
                "en",
                "sentences 2349\nBLEU-1 39.38\nBLEU-2 26.44\nBLEU-3 19.22\nBLEU-4 14.50\nROUGE-L 34.51",
            ),
        ] {
            let hyp = dir.join(format!("{set}_tmp_pres.txt"));
            let reference = dir.join(format!("{set}_tmp_refs.txt"));
            let (hyp, reference) = (hyp.to_str().unwrap(), reference.to_str().unwrap());
            let text = eval(&[
                "--task", "slt", "--lang", lang, "--hyp", hyp, "--ref", reference,
            ])
            .unwrap();
            assert_eq!(text, want);
            let json = eval(&[
                "--task", "slt", "--lang", lang, "--hyp", hyp, "--ref", reference, "--format",
                "json",
            ])
            .unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["bleu"].as_array().unwrap().len(), 4);
        }
    }

    #[test]
    fn missing_file_is_named() {
        let err = eval(&[
            "--task",
            "islr",
            "--hyp",
            "/nonexistent/p.txt",
            "--ref",
            "/nonexistent/r.txt",
        ])
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/p.txt"), "{err:#}");
    }
}
