#!/usr/bin/env python3
"""PyTorch peer for `signcap bench model`: a google/mt5-base-shaped MT5ForConditionalGeneration
with random weights, timed on CPU exactly as the Rust side is timed.

Writes into --out-dir (once; reused when present):
  config.json                   the MT5Config
  mt5_base_random.safetensors   the weights, keys as the Uni-Sign checkpoint has them
                                ("mt5_model." prefix, without the two embed_tokens aliases)
  inputs.safetensors            inputs_embeds_<L> (1, L, 768) per encoder length; lengths
                                missing from an earlier run's file are added
Then prints one JSON object: per encoder length the encoder ms, greedy ms/token and beam-4
ms/step (best of --repeats after a warm-up), the greedy ids and first-step logits of the first
length (for the full-size parity check), and the process's max RSS.

Needs torch and transformers 4.40 (a venv under /tmp; not part of the product).
"""

import argparse
import json
import os
import resource
import time

import torch
from safetensors.torch import load_file, save_file
from transformers import MT5Config, MT5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput


def config():
    return MT5Config(
        vocab_size=250112, d_model=768, d_kv=64, d_ff=2048, num_layers=12,
        num_decoder_layers=12, num_heads=12, relative_attention_num_buckets=32,
        relative_attention_max_distance=128, layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0,
        decoder_start_token_id=0, eos_token_id=1, pad_token_id=0,
    )


def save_atomically(tensors, path):
    """safetensors file written beside its place, then renamed over it."""
    tmp = path + ".tmp"
    save_file(tensors, tmp)
    os.replace(tmp, path)


def best_ms(fn, repeats):
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t0) * 1000.0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--encoder-lengths", default="64,128,256")
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prepare-only", action="store_true", help="write the weights and inputs, time nothing")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lengths = [int(x) for x in args.encoder_lengths.split(",")]
    os.makedirs(args.out_dir, exist_ok=True)
    weights_path = os.path.join(args.out_dir, "mt5_base_random.safetensors")
    inputs_path = os.path.join(args.out_dir, "inputs.safetensors")

    cfg = config()
    if not os.path.exists(weights_path):
        torch.manual_seed(args.seed)
        model = MT5ForConditionalGeneration(cfg).eval()
        state = {
            "mt5_model." + k: v.contiguous()
            for k, v in model.state_dict().items()
            if not k.endswith("embed_tokens.weight")
        }
        save_atomically(state, weights_path)
        del model
    config_path = os.path.join(args.out_dir, "config.json")
    if not os.path.exists(config_path):
        cfg.to_json_file(config_path)
    # A folder made for other encoder lengths gets the missing inputs added; each length has
    # its own seed, so an input does not depend on which lengths were asked for before.
    inputs = load_file(inputs_path) if os.path.exists(inputs_path) else {}
    missing = [n for n in lengths if f"inputs_embeds_{n}" not in inputs]
    if missing:
        for n in missing:
            gen = torch.Generator().manual_seed(args.seed + 1 + 1000 * n)
            inputs[f"inputs_embeds_{n}"] = torch.randn(1, n, cfg.d_model, generator=gen)
        save_atomically(inputs, inputs_path)
    if args.prepare_only:
        return
    model = MT5ForConditionalGeneration(cfg).eval()
    state = {k[len("mt5_model."):]: v for k, v in load_file(weights_path).items()}
    state["encoder.embed_tokens.weight"] = state["shared.weight"]
    state["decoder.embed_tokens.weight"] = state["shared.weight"]
    model.load_state_dict(state, strict=True)

    n = args.new_tokens
    results = {"torch_version": torch.__version__, "threads": args.threads, "new_tokens": n, "lengths": {}}
    with torch.inference_mode():
        for i, length in enumerate(lengths):
            embeds = inputs[f"inputs_embeds_{length}"]
            mask = torch.ones(1, length, dtype=torch.long)
            enc_ms = best_ms(lambda: model.encoder(inputs_embeds=embeds, attention_mask=mask), args.repeats)
            hidden = model.encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state

            def gen(**kw):
                # generate() expands encoder_outputs for beams in place: a fresh one per call.
                return model.generate(
                    encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                    attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False, **kw,
                )

            greedy_ms = best_ms(lambda: gen(num_beams=1), args.repeats) / n
            beam_ms = best_ms(lambda: gen(num_beams=4), args.repeats) / n
            entry = {"encoder_ms": enc_ms, "greedy_ms_per_token": greedy_ms, "beam4_ms_per_step": beam_ms}
            if i == 0:
                out = gen(num_beams=1, output_logits=True, return_dict_in_generate=True)
                entry["greedy_ids"] = out.sequences[0].tolist()
                save_atomically(
                    {
                        "encoder_last_hidden_state": hidden.contiguous(),
                        "greedy_step_logits": torch.cat([l for l in out.logits[:3]], 0).contiguous(),
                    },
                    os.path.join(args.out_dir, f"expected_{length}.safetensors"),
                )
            results["lengths"][str(length)] = entry
    results["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(results))


if __name__ == "__main__":
    main()
