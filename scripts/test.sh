#!/usr/bin/env bash
# Runs the whole test suite (installing build dependencies first). Release mode: the statistical and
# parity tests are numeric and run several times faster optimised.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --build-tests -Xswiftc -enable-testing
swift test -c release --skip-build "$@"
