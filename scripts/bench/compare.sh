#!/usr/bin/env bash
# The kit's benchmark and the PyTorch baseline, alternating for N rounds (default 3), then the comparison table.
# Needs a Release build (bash scripts/setup.sh && dotnet build Workshop.sln -c Release) and Debian's
# python3-torch + libopenblas0-openmp (scripts/bench/README.md). About 7 minutes a round on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-3}"
out="${2:-runs/compare}"
rm -rf "$out"; mkdir -p "$out"
for i in $(seq "$rounds"); do
  echo "== round $i of $rounds: kit"
  dotnet run --project lib/RlhfKit.Cli -c Release --no-build -- bench --out "$out/kit-$i"
  echo "== round $i of $rounds: PyTorch baseline"
  /usr/bin/python3 scripts/bench/pytorch_baseline.py --reward-lengths-from "$out/kit-$i/bench.json" --out "$out/pytorch-$i"
done
python3 scripts/bench/compare.py "$out"
