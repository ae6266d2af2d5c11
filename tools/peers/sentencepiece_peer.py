"""Peer for the tokenizer tests: Python sentencepiece encodes and decodes generated strings.

Usage: sentencepiece_peer.py SEED COUNT MODEL... > out.json
Writes {"strings": [...], "models": {MODEL: {"ids": [[...]], "pieces": [[...]],
"decode_cases": [[piece, ...]], "decoded": [...]}}}.
"""

import json
import random
import sys

import sentencepiece as spm

TRICKY = [
    "", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u200b", "\u2581", "\u2581\u2581",
    "</s>", "<unk>", "<pad>", "<s>", "a</s>b", " <unk> x ", "\u2581already\u2581has\u2581metaspace",
    "Hello, world! It's a test.", "don't can't won't I'm you're we've",
    "full-width \uff21\uff22\uff23\uff11\uff12\uff13\uff01\uff1f", "ligature \ufb01ne \ufb02ow",
    "circled \u2460 \u2461 \u2462", "units \u338f \u339d \u2103 \u2122", "caf\u00e9 cafe\u0301 na\u00efve",
    "e\u0301\u0302 o\u0308\u0304", "emoji \U0001F600\U0001F44D\U0001F3FD\U0001F91F sign",
    "family \U0001F468\u200d\U0001F469\u200d\U0001F467 zwj", "flags \U0001F1FA\U0001F1F8",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\uff8a\uff9d\uff76\uff78\uff76\uff85", "\ud55c\uad6d\uc5b4", "\u0420\u0443\u0441\u0441\u043a\u0438\u0439",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0939\u093f\u0928\u094d\u0926\u0940",
    "x\u0000y", "tab\tseparated\twords", "new\nline\r\nwindows", "a\u2028b\u2029c", "\u00a8x \u00a8 ",
    "\u1100\u1161\u11a8", "\u2126 \u212b \u00b5", "\u2000\u2001\u2002 spaces\u205f\u3000",
]

POOL_RANGES = [
    (0x20, 0x7E), (0xA0, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x2000, 0x206F), (0x2100, 0x218F), (0x2460, 0x24FF), (0x3000, 0x303F), (0x3040, 0x30FF),
    (0x4E00, 0x4FFF), (0xAC00, 0xAC40), (0xFB00, 0xFB06), (0xFF00, 0xFFEF), (0x1F300, 0x1F64F),
]


def random_char(rng):
    lo, hi = rng.choice(POOL_RANGES)
    c = chr(rng.randint(lo, hi))
    return c if not (0xD800 <= ord(c) <= 0xDFFF) else "?"


def make_strings(rng, count, vocab):
    out = list(TRICKY)
    spaces = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2581", ""]
    while len(out) < count:
        kind = rng.randrange(4)
        parts = []
        for _ in range(rng.randint(1, 12)):
            if kind == 0:
                parts.append(rng.choice(vocab).replace("\u2581", " "))
            elif kind == 1:
                parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 6))))
            elif kind == 2:
                parts.append(rng.choice(TRICKY))
            else:
                parts.append(rng.choice(vocab) if rng.random() < 0.5 else random_char(rng))
            parts.append(rng.choice(spaces))
        s = "".join(parts)
        if rng.random() < 0.2:
            s = rng.choice(spaces) + s
        out.append(s)
    return out[:count]


def main():
    seed, count, models = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    rng = random.Random(seed)
    first = spm.SentencePieceProcessor(model_file=models[0])
    vocab = [first.id_to_piece(i) for i in range(first.get_piece_size())]
    strings = make_strings(rng, count, vocab)
    result = {"strings": strings, "models": {}}
    for path in models:
        sp = spm.SentencePieceProcessor(model_file=path)
        pieces_vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        ids = [sp.encode(s) for s in strings]
        pieces = [sp.encode(s, out_type=str) for s in strings]
        decode_cases = []
        for _ in range(count // 4):
            case = [rng.choice(pieces_vocab) for _ in range(rng.randint(0, 8))]
            if rng.random() < 0.3:
                case.insert(0, "\u2581")
            if rng.random() < 0.1:
                case.append("not-a-piece")
            decode_cases.append(case)
        decode_cases += [p for p in pieces[: count // 4]]
        decoded = [sp.decode(case) for case in decode_cases]
        result["models"][path] = {
            "ids": ids,
            "pieces": pieces,
            "decode_cases": decode_cases,
            "decoded": decoded,
        }
    json.dump(result, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
