#!/usr/bin/env bash
# Trains the embedded image models and the video models from scratch and re-exports models/ (about 1 h 45 min for
# the image models and about 4 h for the video models on the 2-core machine; shapes-flux-small:
# tools/train/train_flux.py). The video transformers resume from their checkpoints when the script is run again.
#
# Two single-threaded PyTorch jobs at a time, one per core (two-thread torch was 8x slower here whenever anything
# else ran: OpenMP threads spin on oversubscribed cores):
#   1. shapes-clip  ||  VAE
#   2. shapes-sd-small UNet  ||  shapes-sd-large UNet   (both need the CLIP text tower and the VAE)
#   3. export_pipeline.py (models/shapes-sd-*, model cards)
#   4. the shapes-wan VAE on rendered clips (two threads: nothing else runs): 9-frame windows, then whole clips;
#      then the clips' latents
#   5. shapes-wan-small (at shift 3, then a second stage at shift 3 with --init)  ||  shapes-wan-large (at shift 3,
#      one stage: ≈ 3.5 h), then export_wan_pipeline.py for each
# Logs: .cache/logs/train-<job>.log. Stops at the first failed job and names its log.
# Usage: tools/train/train_all.sh   (Python with tools/requirements.txt installed; the renderer is built on demand)
set -euo pipefail
cd "$(dirname "$0")/../.."
logs=.cache/logs
mkdir -p "$logs"
start=$(date +%s)

phase() { echo "[$(( ($(date +%s) - start) / 60 )) min] $*"; }

# run_pair NAME1 "CMD1" NAME2 "CMD2": both jobs in the background, wait for both, fail if either failed.
run_pair() {
    local n1=$1 c1=$2 n2=$3 c2=$4
    phase "$n1 and $n2 (logs: $logs/train-$n1.log, $logs/train-$n2.log)"
    bash -c "$c1" > "$logs/train-$n1.log" 2>&1 & local p1=$!
    bash -c "$c2" > "$logs/train-$n2.log" 2>&1 & local p2=$!
    local failed=""
    wait "$p1" || failed="$failed $logs/train-$n1.log"
    wait "$p2" || failed="$failed $logs/train-$n2.log"
    if [ -n "$failed" ]; then echo "training failed, see:$failed" >&2; exit 1; fi
}

phase "rendering the training set (evosearch shapes render --count 50000 --seed 1, cached)"
python3 -c 'import sys; sys.path.insert(0, "tools/train"); import shapes_data as sd; sd.load_dataset(50000, seed=1)'
run_pair clip "python3 tools/train/train_clip.py" vae "python3 tools/train/train_vae.py"
run_pair unet-small "python3 tools/train/train_unet.py --size small" unet-large "python3 tools/train/train_unet.py --size large"
phase "exporting models/"
python3 tools/train/export_pipeline.py
phase "shapes-wan VAE (evosearch shapes render --video --count 16000 --seed 1, cached; log: $logs/train-wan-vae.log)"
python3 tools/train/train_wan_vae.py --threads 2 --window 9 --out .cache/shapes/wan-vae-w9 > "$logs/train-wan-vae.log" 2>&1 || { echo "training failed, see: $logs/train-wan-vae.log" >&2; exit 1; }
phase "shapes-wan VAE on whole clips (log: $logs/train-wan-vae-whole.log)"
python3 tools/train/train_wan_vae.py --threads 2 --init .cache/shapes/wan-vae-w9 --steps 800 --lr 3e-4 > "$logs/train-wan-vae-whole.log" 2>&1 || { echo "training failed, see: $logs/train-wan-vae-whole.log" >&2; exit 1; }
phase "latents of the clips (log: $logs/train-wan-encode.log)"
python3 tools/train/train_wan.py --encode-only --threads 2 > "$logs/train-wan-encode.log" 2>&1 || { echo "training failed, see: $logs/train-wan-encode.log" >&2; exit 1; }
run_pair wan-small "python3 tools/train/train_wan.py --size small --shift 3 --steps 5000 && python3 tools/train/train_wan.py --size small --init .cache/shapes/wan-small --shift 3 --steps 9000 --lr 5e-4 --out .cache/shapes/wan-small-stage2" \
    wan-large "python3 tools/train/train_wan.py --size large --shift 3 --steps 3500"
phase "exporting models/shapes-wan-*"
python3 tools/train/export_wan_pipeline.py --size small --trained .cache/shapes/wan-small-stage2
python3 tools/train/export_wan_pipeline.py --size large
phase "done; rerun the parity fixture: python3 tools/fixtures/make_shapes_fixtures.py"
