#!/usr/bin/env python3
"""One-off data preparation: trains the offline policy's SentencePiece tokenizer on the kit's own corpus.

Run with Debian's sentencepiece (apt-get install python3-sentencepiece), from the repository root:
    /usr/bin/python3 scripts/prepare/train_spiece.py
It writes assets/offline/policy/spiece.model (committed). T5's conventions: pad 0, eos 1, unk 2, no bos.
The trainer is single-threaded and seeded by its input order, so the model is reproducible for a given corpus.
"""
import json
import os
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VOCAB_SIZE = 4000


def corpus_lines():
    # The summarizer sees prompts ("summarize: " + article) and writes summaries: train on both, from the train split only.
    with open(os.path.join(ROOT, "data", "news", "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            yield "summarize: " + row["text"]
            yield row["summary"]


def main():
    out_dir = os.path.join(ROOT, "assets", "offline", "policy")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for line in corpus_lines():
                f.write(line.replace("\n", " ") + "\n")
        prefix = os.path.join(tmp, "spiece")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="unigram", vocab_size=VOCAB_SIZE,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
            num_threads=1, shuffle_input_sentence=False, input_sentence_size=0, minloglevel=2)
        with open(prefix + ".model", "rb") as src, open(os.path.join(out_dir, "spiece.model"), "wb") as dst:
            dst.write(src.read())
    print("wrote", os.path.join(out_dir, "spiece.model"), file=sys.stderr)


if __name__ == "__main__":
    main()
