#!/usr/bin/env python3
"""Kit against the PyTorch baseline, from alternating runs (scripts/bench/compare.sh writes them).

Usage: python3 scripts/bench/compare.py runs/compare
Reads runs/compare/kit-*/bench.json and runs/compare/pytorch-*/pytorch_bench.json, prints a Markdown table of the
median of each figure over the rounds (and its min-max), and writes it to runs/compare/comparison.md.
Alternating the two programs round by round spreads the machine's slow spells over both.
"""
import glob
import json
import os
import statistics
import sys


def load(pattern):
    runs = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            runs.append(json.load(f))
    return runs


def matmul_peak(run):
    threads = run["machine"]["threads"]
    return max(m["gflops"] for m in run["matmul"] if m["threads"] == threads)


def linear(run, name, threads):
    rows = [x for x in run.get("linear", []) if x["name"] == name and x["threads"] == threads]
    return rows[0]["median_seconds"] * 1e3 if rows else None


def generation(run, new_tokens, key):
    rows = [g for g in run["generation"] if g["new_tokens"] == new_tokens and g["model"].startswith("flan-t5-small")]
    return rows[0][key] if rows else None


# (label, unit, better, function of a kit run, function of a pytorch run)
METRICS = [
    ("float32 matmul, 2 threads (machine limit)", "GFLOP/s", "higher", matmul_peak, matmul_peak),
    ("generation: encoder pass, batch 8 x 128 tokens", "s", "lower",
     lambda r: generation(r, 32, "encoder_seconds"), lambda r: generation(r, 32, "encoder_seconds")),
]
for shape in ("lm_head, decoding batch 8", "feed-forward wi, decoding batch 8", "feed-forward wi, encoder 8 x 128 tokens"):
    for t in (2, 1):
        METRICS.append((f"linear layer: {shape}, {t} thread(s)", "ms", "lower",
                        lambda r, shape=shape, t=t: linear(r, shape, t), lambda r, shape=shape, t=t: linear(r, shape, t)))
for n in (32, 64, 128):
    METRICS.append((f"generation: {n} new tokens, batch 8", "tok/s", "higher",
                    lambda r, n=n: generation(r, n, "cached_tokens_per_second"),
                    lambda r, n=n: generation(r, n, "cached_tokens_per_second")))
    METRICS.append((f"generation: time per decoding step at {n} new tokens", "ms", "lower",
                    lambda r, n=n: generation(r, n, "cached_ms_per_step"),
                    lambda r, n=n: generation(r, n, "cached_ms_per_step")))
METRICS += [
    ("PPO: policy + reference passes without gradients (batch 8, 512 + 48 tokens)", "s", "lower",
     lambda r: r["ppo"]["phase_seconds"]["time/ppo/forward_pass"], lambda r: r["ppo"]["phase_seconds"]["time/ppo/forward_pass"]),
    ("PPO: 4 epochs of minibatch updates (32 forward+backward, 8 Adam steps)", "s", "lower",
     lambda r: r["ppo"]["phase_seconds"]["time/ppo/optimize_step"], lambda r: r["ppo"]["phase_seconds"]["time/ppo/optimize_step"]),
    ("reward scoring, roberta-base shape, length-sorted batches", "texts/s", "higher",
     lambda r: r["reward"]["sorted_texts_per_second"], lambda r: r["reward"]["sorted_texts_per_second"]),
    ("reward scoring, batches in input order", "texts/s", "higher",
     lambda r: r["reward"]["unsorted_texts_per_second"], lambda r: r["reward"]["unsorted_texts_per_second"]),
]


def value(of, run):
    """A figure of one run, or None where the run lacks that section."""
    try:
        return of(run)
    except (KeyError, TypeError, IndexError):
        return None


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, "n/a"
    med = statistics.median(values)
    return med, f"{med:.3g} ({min(values):.3g}-{max(values):.3g})"


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "runs/compare"
    kit = load(os.path.join(folder, "kit-*", "bench.json"))
    torch = load(os.path.join(folder, "pytorch-*", "pytorch_bench.json"))
    if not kit or not torch:
        sys.exit(f"no runs in {folder}: run scripts/bench/compare.sh first")
    blas = torch[0]["machine"].get("blas_library") or "?"
    if isinstance(blas, list):
        blas = ", ".join(os.path.basename(b) for b in blas if "openblas" in os.path.basename(b) or "mkl" in os.path.basename(b)) or os.path.basename(blas[-1])
    lines = [
        f"Kit (TorchSharp {kit[0]['machine']['torch_sharp']}) against the PyTorch eager baseline "
        f"(torch {torch[0]['machine']['torch']}, {blas}); "
        f"{len(kit)} kit runs and {len(torch)} baseline runs, alternating; median (min-max) over the runs. "
        "Kit / baseline > 1 means the kit is faster.",
        "",
        "| figure | unit | kit | PyTorch baseline | kit advantage |",
        "|---|---|---:|---:|---:|",
    ]
    for label, unit, better, of_kit, of_torch in METRICS:
        k, ks = summary([value(of_kit, r) for r in kit])
        t, ts = summary([value(of_torch, r) for r in torch])
        ratio = "n/a" if k is None or t is None else f"{(k / t if better == 'higher' else t / k):.2f}x"
        lines.append(f"| {label} | {unit} | {ks} | {ts} | {ratio} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(folder, "comparison.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
