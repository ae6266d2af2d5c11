"""Expected results for tests/search.rs from transformers 4.40.0's own BeamSearchScorer.

Runs the `_beam_search` loop of transformers 4.40 `GenerationMixin` (log_softmax, running beam
scores, top 2*beams, scorer.process, max-length stop, scorer.finalize) and greedy search on the
toy decoder that tests/search.rs implements identically: logits depend only on the token history.

Usage: beam_peer.py TRANSFORMERS_WHEEL > tests/data/search_transformers.json
Needs torch (CPU is enough). The wheel: pip download transformers==4.40.0 --no-deps.
Only generation/beam_search.py and generation/beam_constraints.py are loaded from the wheel,
with `add_start_docstrings` stubbed, so transformers' other dependencies are not needed.
"""

import json
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import torch

VOCAB = 40
START, EOS, PAD = 0, 1, 0


def toy_logits(history, salt):
    """Row of logits for a hypothesis whose tokens (start token first) are `history`."""
    s = salt
    for t in history:
        s = (s * 31 + t + 7) % 1_000_003
    n = len(history) - 1
    row = []
    for v in range(VOCAB):
        k = ((s * (v + 1) * 7919) % 997) * 64 + v
        x = torch.tensor(k, dtype=torch.float32) / torch.tensor(640.0, dtype=torch.float32)
        if v == EOS:
            x = x + torch.tensor(n * 1.5 - 6.0, dtype=torch.float32)
        row.append(x)
    return torch.stack(row)


def load_scorer(wheel):
    tmp = Path(tempfile.mkdtemp())
    pkg = tmp / "hfshim"
    (pkg / "generation").mkdir(parents=True)
    with zipfile.ZipFile(wheel) as z:
        for name in ("beam_search.py", "beam_constraints.py"):
            (pkg / "generation" / name).write_bytes(z.read(f"transformers/generation/{name}"))
    (pkg / "__init__.py").write_text("")
    (pkg / "generation" / "__init__.py").write_text("")
    (pkg / "utils.py").write_text("def add_start_docstrings(*a):\n    return lambda f: f\n")
    sys.path.insert(0, str(tmp))
    from hfshim.generation.beam_search import BeamSearchScorer

    return BeamSearchScorer


def beam(BeamSearchScorer, salt, num_beams, max_new_tokens):
    max_length = 1 + max_new_tokens
    scorer = BeamSearchScorer(batch_size=1, num_beams=num_beams, device="cpu", length_penalty=1.0,
                              do_early_stopping=False, num_beam_hyps_to_keep=1, max_length=max_length)
    input_ids = torch.full((num_beams, 1), START, dtype=torch.long)
    beam_scores = torch.zeros((1, num_beams), dtype=torch.float)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view((num_beams,))
    cur_len = 1
    while True:
        logits = torch.stack([toy_logits(row.tolist(), salt) for row in input_ids])
        scores = torch.nn.functional.log_softmax(logits, dim=-1)
        scores = scores + beam_scores[:, None].expand_as(scores)
        scores = scores.view(1, num_beams * VOCAB)
        next_scores, next_tokens = torch.topk(scores, 2 * num_beams, dim=1, largest=True, sorted=True)
        next_indices = torch.div(next_tokens, VOCAB, rounding_mode="floor")
        next_tokens = next_tokens % VOCAB
        out = scorer.process(input_ids, next_scores, next_tokens, next_indices, pad_token_id=PAD,
                             eos_token_id=[EOS], decoder_prompt_len=1)
        beam_scores = out["next_beam_scores"]
        input_ids = torch.cat([input_ids[out["next_beam_indices"], :],
                               out["next_beam_tokens"].unsqueeze(-1)], dim=-1)
        cur_len += 1
        if scorer.is_done or cur_len >= max_length:
            break
    final = scorer.finalize(input_ids, beam_scores, next_tokens, next_indices, pad_token_id=PAD,
                            eos_token_id=[EOS], max_length=max_length, decoder_prompt_len=1)
    return final["sequences"][0].tolist(), float(final["sequence_scores"][0])


def greedy(salt, max_new_tokens):
    ids = [START]
    logprobs = []
    for _ in range(max_new_tokens):
        logits = toy_logits(ids, salt)
        token = int(torch.argmax(logits))
        logprobs.append(float(torch.log_softmax(logits, dim=-1)[token]))
        ids.append(token)
        if token == EOS:
            break
    return ids, logprobs


def main():
    BeamSearchScorer = load_scorer(sys.argv[1])
    cases = []
    for salt in range(1, 41):
        for num_beams, max_new_tokens in ((4, 12), (4, 30), (2, 20), (5, 8)):
            ids, score = beam(BeamSearchScorer, salt, num_beams, max_new_tokens)
            g_ids, g_logprobs = greedy(salt, max_new_tokens)
            cases.append({"salt": salt, "num_beams": num_beams, "max_new_tokens": max_new_tokens,
                          "beam_ids": ids, "beam_score": score,
                          "greedy_ids": g_ids, "greedy_logprobs": g_logprobs})
    json.dump({"generator": "transformers 4.40.0 BeamSearchScorer, torch " + torch.__version__,
               "vocab": VOCAB, "start": START, "eos": EOS, "cases": cases}, sys.stdout, indent=0)


if __name__ == "__main__":
    main()
