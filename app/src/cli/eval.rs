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
    match args.format {
        Format::Text => println!("{text}"),
        Format::Json => println!("{}", json.context("serialising the scores")?),
    }
    Ok(())
}
