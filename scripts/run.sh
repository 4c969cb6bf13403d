#!/usr/bin/env bash
# Builds EvoSearch (release) and runs the main job: EvoSearch against Best-of-N on the default exact
# Gaussian-mixture world, writing results and a plot under out/. Extra arguments go to `evosearch toy`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product evosearch
bin="$(swift build -c release --show-bin-path)/evosearch"
"$bin" toy --scenario rare-mode-bump --method evosearch --budget 800 --seed 0 \
    --json out/toy-evosearch.json --plot out/toy-evosearch.svg "$@"
