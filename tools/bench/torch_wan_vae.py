#!/usr/bin/env python3
"""PyTorch CPU side of the Wan 2.1 VAE timing (AutoencoderKLWan, diffusers 0.42.1), against the Swift harness in
Tests/ModelsTests/WanVAETimingHarness.swift (run only when EVOSEARCH_WAN_VAE_TIMING names the model directory).

  1. builds the full-size Wan2.1 VAE (diffusers' default config: base_dim 96, z_dim 16, dim_mult [1, 2, 4, 4],
     num_res_blocks 2, temperal_downsample [false, true, true]) with random weights (torch.manual_seed(0)), saved
     as float32 (as the published vae/ is) in --model-dir unless it is already there;
  2. decodes latents [1, 16, 3, H/8, W/8] (torch.manual_seed(1) randn) to [1, 3, 9, H, W] and encodes a 9-frame
     video (torch.manual_seed(2) rand·2 − 1) with torch.set_num_threads(--threads), --runs times each after no
     warm-up (each run is tens of seconds), and prints one JSON line per measurement: seconds per run and the
     process's peak resident memory (ru_maxrss) after each phase.

Run from the repository root (needs torch, diffusers):
    OMP_NUM_THREADS=2 python3 tools/bench/torch_wan_vae.py --model-dir /tmp/wan-vae-full --height 240 --width 416
"""
import argparse
import json
import os
import resource
import time

import torch
from diffusers import AutoencoderKLWan


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--width", type=int, default=416)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--skip-encode", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if not os.path.exists(os.path.join(a.model_dir, "config.json")):
        torch.manual_seed(0)
        AutoencoderKLWan().save_pretrained(a.model_dir)
    vae = AutoencoderKLWan.from_pretrained(a.model_dir).eval()
    torch.manual_seed(1)
    z = torch.randn(1, 16, 3, a.height // 8, a.width // 8)
    torch.manual_seed(2)
    video = torch.rand(1, 3, 9, a.height, a.width) * 2 - 1
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with torch.no_grad():
        times = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            out = vae.decode(z).sample
            times.append(time.perf_counter() - t0)
        print(json.dumps({"phase": "decode", "latents": list(z.shape), "output": list(out.shape), "seconds": times,
                          "threads": a.threads, "peak_rss_bytes": peak()}), flush=True)
        if not a.skip_encode:
            times = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                mean = vae.encode(video).latent_dist.mean
                times.append(time.perf_counter() - t0)
            print(json.dumps({"phase": "encode", "video": list(video.shape), "mean": list(mean.shape),
                              "seconds": times, "threads": a.threads, "peak_rss_bytes": peak()}), flush=True)


if __name__ == "__main__":
    main()
