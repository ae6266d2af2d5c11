"""Peer for the eval tests: sacrebleu 1.4.2 and rouge 1.0.1 on prediction/reference files.

Usage: eval_peer.py zh|en HYP_FILE REF_FILE > scores.json
Files hold `sample: NAME, prediction|ground-truth: TEXT` lines (paired by name) or one text per
line. Prints {"bleu": [b1..b4], "rouge_l": f*100, "rouge_l_each": [...]} following the Uni-Sign
evaluation: CSL-Daily (zh) removes spaces, maps '，' '？' in references, splits characters.
"""

import json
import math
import sys

import sacrebleu
from rouge import Rouge


def read(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not any(line.startswith("sample: ") for line in lines):
        return [(str(i + 1), line) for i, line in enumerate(lines)]
    out = []
    for line in lines:
        rest = line[len("sample: "):]
        cuts = [(rest.find(sep), sep) for sep in (", prediction: ", ", ground-truth: ") if sep in rest]
        at, sep = min(cuts)
        out.append((rest[:at], rest[at + len(sep):]))
    return out


def main():
    lang, hyp_path, ref_path = sys.argv[1:4]
    hyps = read(hyp_path)
    refs = dict(read(ref_path))
    pres = [text for _, text in hyps]
    gts = [refs[name] for name, _ in hyps]
    if lang == "zh":
        pres = [" ".join(list(p.replace(" ", "").replace("\n", ""))) for p in pres]
        gts = [" ".join(list(r.replace("，", ",").replace("？", "?").replace(" ", ""))) for r in gts]
    bleu = sacrebleu.corpus_bleu(pres, [gts], tokenize="13a")

    def log(p):
        return -9999999999 if p == 0.0 else math.log(p)

    cumulative = [bleu.bp * math.exp(sum(log(p) for p in bleu.precisions[:n]) / n) for n in range(1, 5)]
    rouge = Rouge(metrics=["rouge-l"])
    avg = rouge.get_scores(pres, gts, avg=True)["rouge-l"]["f"] * 100
    each = [s["rouge-l"]["f"] for s in rouge.get_scores(pres, gts)]
    json.dump({"bleu": cumulative, "precisions": bleu.precisions, "bp": bleu.bp,
               "sys_len": bleu.sys_len, "ref_len": bleu.ref_len, "counts": bleu.counts,
               "totals": bleu.totals, "rouge_l": avg, "rouge_l_each": each}, sys.stdout)


if __name__ == "__main__":
    main()
