//! Metrics exactly as the Uni-Sign reference computes them (BLEU, ROUGE-L, WER, top-1).
