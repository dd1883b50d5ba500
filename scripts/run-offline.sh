#!/usr/bin/env bash
# The main job on the offline default: set up, build, prepare the offline models (once), align with PPO, evaluate.
# Extra arguments go to 'align' (for example --out runs/mine or --max-steps 20).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet build lib/RlhfKit.Cli -c Release 2>&1 | tail -n 2
dotnet run --project lib/RlhfKit.Cli -c Release --no-build -- prepare
dotnet run --project lib/RlhfKit.Cli -c Release --no-build -- align --profile offline "$@"
