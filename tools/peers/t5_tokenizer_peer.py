"""Peer for tests/tokenizer_t5.rs: transformers 4.40's slow T5Tokenizer (legacy=False), as Uni-Sign
loads it, on generated strings and random id sequences.

Usage: t5_tokenizer_peer.py SEED COUNT TOKENIZER_FOLDER > out.json
Prints {"strings", "ids", "id_cases", "decode", "decode_skip", "decode_skip_no_cleanup"}.
"""

import json
import random
import sys
import warnings

from transformers import T5Tokenizer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from sentencepiece_peer import make_strings  # noqa: E402


def main():
    seed, count, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    warnings.simplefilter("ignore")
    tok = T5Tokenizer.from_pretrained(folder, legacy=False)
    rng = random.Random(seed)
    vocab = [tok.convert_ids_to_tokens(i) for i in range(tok.vocab_size)]
    strings = make_strings(rng, count, vocab)
    ids = [tok(s).input_ids for s in strings]
    id_cases = ids[: count // 2]
    for _ in range(count // 2):
        n = rng.randint(0, 12)
        # Specials (0, 1, 2) often, anywhere.
        id_cases.append([rng.choice([0, 1, 2]) if rng.random() < 0.25 else rng.randrange(tok.vocab_size)
                         for _ in range(n)])
    json.dump({
        "strings": strings,
        "ids": ids,
        "id_cases": id_cases,
        "decode": [tok.decode(c) for c in id_cases],
        "decode_skip": [tok.decode(c, skip_special_tokens=True) for c in id_cases],
        "decode_skip_no_cleanup": [tok.decode(c, skip_special_tokens=True, clean_up_tokenization_spaces=False)
                                   for c in id_cases],
    }, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
