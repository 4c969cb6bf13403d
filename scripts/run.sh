#!/usr/bin/env bash
# Builds EvoSearch (release) and runs the main job: EvoSearch on the embedded shapes-sd-small model, guided by
# the exact shapes verifier, for the default prompt ("a purple square below a blue circle"). Writes
# out/search/ (best.png, top-k, per-generation contact sheets, result.json, report.html).
# Extra arguments go to `evosearch search` (e.g. --prompt "three green circles" --method best-of-n).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product evosearch
bin="$(swift build -c release --show-bin-path)/evosearch"
"$bin" search --output-dir out/search "$@"
