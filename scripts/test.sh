#!/usr/bin/env bash
# Runs the whole test suite (installing build dependencies first), then the quick toy, shapes and video benchmarks
# as end-to-end checks of search on the exact worlds and the embedded models. Release mode: the statistical and parity tests are
# numeric and run several times faster optimised. Arguments go to `swift test` (and skip the benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The import check fails the build when a target imports a module it does not list in Package.swift.
swift build -c release --build-tests -Xswiftc -enable-testing --explicit-target-dependency-import-check error
swift test -c release --skip-build "$@"
if [ "$#" -eq 0 ]; then
    bin="$(swift build -c release --show-bin-path)/evosearch"
    "$bin" bench toy --quick > .build/bench-toy-quick.md
    "$bin" bench shapes --quick --quiet --out .build/bench-shapes-quick
    "$bin" bench shapes --video --quick --quiet --rollouts 1,4 --methods best-of-n,evosearch --clip-model none \
        --out .build/bench-shapes-video-quick
fi
