#!/usr/bin/env bash
# Installs what EvoSearch needs to build and test on a fresh Debian 12 machine: OpenBLAS (cblas), zlib, pkg-config,
# Chromium (the report tests open report.html in headless Chromium) and ffmpeg (MP4 copies of searched videos).
# Swift 6 itself must already be on PATH. Idempotent: does nothing when everything is present.
set -euo pipefail
missing=()
pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev)
pkg-config --exists zlib 2>/dev/null || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# pin NAME: NAME's line of tools/requirements.txt without its trailing comment (pip rejects the comment).
pin() { grep "^$1==" tools/requirements.txt | sed 's/[[:space:]]*#.*//'; }
# The remote-denoiser tests start MLServer (tools/serve) next to the PyTorch the machine already has.
if python3 -c "import torch, diffusers" 2>/dev/null && ! python3 -c "import mlserver" 2>/dev/null; then
    echo "setup: installing mlserver (tools/requirements.txt)" >&2
    python3 -m pip install -q "$(pin mlserver)" "$(pin protobuf)" >/dev/null
fi
# The video-output tests read animated PNGs back with Pillow, the reference reader.
if ! python3 -c "import PIL" 2>/dev/null; then
    echo "setup: installing Pillow (tools/requirements.txt)" >&2
    python3 -m pip install -q "$(pin Pillow)" >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH; install Swift 6 (https://swift.org/install)" >&2; exit 1; }
