#!/usr/bin/env bash
# One-time set-up on a fresh machine: checks the .NET 10 SDK, restores packages, installs the notebook tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null; then
  echo "The .NET 10 SDK is required: https://dotnet.microsoft.com/download (see environment.md)" >&2; exit 1
fi
dotnet restore Workshop.sln 2>&1 | tail -n 2
