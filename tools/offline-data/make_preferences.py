#!/usr/bin/env python3
"""Builds data/preferences/{train,test}.jsonl: rule-made preference pairs over the kit's own articles.

Every loaded article (negative or positive register) of data/news has two reference summaries from its story type's
templates, both stating the same facts: the neutral one and the loaded one (which reuses the article's loaded
adjective). The pair prefers the neutral summary:

    {"prompt": "summarize: <article>", "chosen": "<neutral summary>", "rejected": "<loaded summary>"}

The articles are re-rendered with make_offline_data.py's own generator and seed, so the prompts are exactly the
articles of data/news (the script checks this). train.jsonl takes the first 320 loaded articles of news/train;
test.jsonl every loaded article of news/test (held-out names). Python 3 standard library only; deterministic.

    python3 tools/offline-data/make_preferences.py           # writes data/preferences/
    python3 tools/offline-data/make_preferences.py --check   # says whether data/preferences/ is up to date
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_offline_data as gen  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
N_TRAIN = 320
PROMPT = "summarize: "


def build():
    # The same draws, in the same order, as make_offline_data.build() makes for data/news.
    rng = random.Random(gen.SEED)
    e_train, e_test = gen.entity_pools(rng)
    seen = set()
    arts = {"train": gen.make_articles(rng, e_train, gen.N_NEWS["train"], seen=seen),
            "validation": gen.make_articles(rng, e_train, gen.N_NEWS["validation"], seen=seen),
            "test": gen.make_articles(rng, e_test, gen.N_NEWS["test"], n_short=gen.N_TEST_SHORT, seen=seen)}
    out = {}
    for split in ("train", "validation", "test"):
        records = gen.news_records(rng, arts[split], split)
        with open(os.path.join(ROOT, "data", "news", split + ".jsonl"), encoding="ascii") as f:
            shipped = [json.loads(line)["text"] for line in f if line.strip()]
        if [r["text"] for r in records] != shipped:
            sys.exit("data/news/%s.jsonl differs from the generator's articles; regenerate data/ first" % split)
        if split == "validation":
            continue
        pairs = [{"prompt": PROMPT + a["text"], "chosen": str(a["neutral_sum"]), "rejected": str(a["loaded_sum"])}
                 for a in arts[split] if a["tone"] != "neutral" and a["loaded_sum"] and str(a["loaded_sum"]) != str(a["neutral_sum"])]
        out["preferences/%s.jsonl" % split] = pairs[:N_TRAIN] if split == "train" else pairs
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="rebuild in memory and compare with data/preferences")
    args = ap.parse_args()
    stale = False
    for rel, rows in build().items():
        data = gen.serialise(rows)
        path = os.path.join(ROOT, "data", rel)
        if args.check:
            with open(path, "rb") as f:
                same = f.read() == data
            stale |= not same
            print("%-28s %5d pairs  %s" % (rel, len(rows), "up to date" if same else "OUT OF DATE"))
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print("%-28s %5d pairs  %.2f MB" % (rel, len(rows), len(data) / 1e6))
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
