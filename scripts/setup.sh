#!/usr/bin/env bash
# One-time set-up on a fresh machine: checks the .NET 10 SDK, restores packages, installs the notebook tools,
# publishes the kit for the notebooks (artifacts/kit) and fetches plotly.js for offline charts.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null; then
  echo "The .NET 10 SDK is required: https://dotnet.microsoft.com/download (see environment.md)" >&2; exit 1
fi
dotnet restore Workshop.sln 2>&1 | tail -n 2

# The notebook tools, pinned in .config/dotnet-tools.json: dotnet-repl (runs notebooks headless) and dotnet-interactive.
dotnet tool restore

# The kit for the notebooks: published once to artifacts/kit, with the native libraries of this machine next to it,
# which every lesson's first cell loads (#r "../artifacts/kit/RlhfKit.Workshop.dll"). RLHFKIT_TORCH_BACKEND=cuda-linux or
# cuda-windows publishes the GPU build instead (see environment.md). Restart open notebook kernels before rerunning.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) rid=linux-x64 ;;
  Darwin-arm64) rid=osx-arm64 ;;
  MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) rid=win-x64 ;;
  *) rid="" ;;
esac
backend="${RLHFKIT_TORCH_BACKEND:-cpu}"
dotnet publish lib/RlhfKit.Workshop -c Release ${rid:+-r "$rid"} --self-contained false -p:TorchBackend="$backend" -o artifacts/kit 2>&1 | tail -n 3
echo "kit for the notebooks: artifacts/kit (${rid:-portable}, Torch backend $backend)"

# plotly.js for offline charts (RlhfKit.Charts inlines it into chart HTML): the exact version pinned in tools/plotly.
if command -v npm >/dev/null; then
  (cd tools/plotly && npm ci --no-audit --no-fund --loglevel=error)
  echo "plotly.js: tools/plotly/node_modules/plotly.js-dist-min/plotly.min.js"
else
  echo "npm not found: skipping plotly.js (tools/plotly). Charts will load plotly.js from the CDN and stay blank offline." >&2
  echo "  Install Node.js + npm and rerun this script, or set RLHFKIT_PLOTLY_JS to a plotly.js 2.x plotly.min.js." >&2
fi

# Headless Chromium for the chart tests (they open the saved chart HTML and count the traces plotly drew).
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  echo "chromium: $(command -v chromium || command -v chromium-browser)"
elif command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; }; then
  as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo -n"
  echo "installing chromium (Debian package) for the chart tests..."
  { $as_root apt-get update -qq && $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "warning: 'apt-get install -y chromium' failed; the chart rendering tests need it." >&2
else
  echo "chromium not found and no root/sudo to install it: the chart rendering tests need it (sudo apt-get install -y chromium)." >&2
fi
