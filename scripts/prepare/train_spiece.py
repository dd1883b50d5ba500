#!/usr/bin/env python3
"""One-off data preparation: trains the offline policy's SentencePiece tokenizer on the kit's own corpus.

Run with Debian's sentencepiece (apt-get install python3-sentencepiece), from the repository root:
    /usr/bin/python3 scripts/prepare/train_spiece.py
It writes assets/offline/policy/spiece.model (committed). T5's conventions: pad 0, eos 1, unk 2, no bos.
A BPE model: sentencepiece 0.1.97's unigram trainer split frequent words oddly on this small templated corpus
("General" -> "G", "enera", "l"); BPE keeps them whole. It also writes spiece_expected.json, sentencepiece's own ids
for sample strings, so the kit's C# tokenizer is checked against it in the tests.
The trainer is single-threaded and seeded by its input order, so the model is reproducible for a given corpus.
"""
import json
import os
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VOCAB_SIZE = 2000


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
            input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=VOCAB_SIZE,
            pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0,
            num_threads=1, shuffle_input_sentence=False, input_sentence_size=0, minloglevel=2)
        with open(prefix + ".model", "rb") as src, open(os.path.join(out_dir, "spiece.model"), "wb") as dst:
            dst.write(src.read())
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out_dir, "spiece.model"))
    samples = [line for i, line in enumerate(corpus_lines()) if i % 97 == 0][:40] + [
        "", "Hello, world!", "A \"quoted\" word and 12,345 numbers.", "naïve café – emoji 🎉 and ünïcödé",
        "summarize: The council approved a $4.5 million plan on Tuesday."]
    expected = [{"text": t, "ids": sp.encode(t) + [1]} for t in samples]
    with open(os.path.join(out_dir, "spiece_expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "sentencepiece " + spm.__version__, "cases": expected}, f, ensure_ascii=False, indent=1)
    print("wrote", os.path.join(out_dir, "spiece.model"), file=sys.stderr)


if __name__ == "__main__":
    main()
