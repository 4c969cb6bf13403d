#!/usr/bin/env python3
"""Trains the shapes-wan AutoencoderKLWan (17×64×64×3 ↔ 16×5×16×16) on rendered moving-shapes clips.

    python3 tools/train/train_wan_vae.py         # writes .cache/shapes/wan-vae/ (assembled into models/ by export)

Wan 2.1's causal 3-D VAE at toy scale: base_dim 16, dim_mult (1, 2, 4) — spatial factor 4, as shapes-sd's VAE —
with time downsampling in both down stages (temporal factor 4: 1 + 4·k frames ↔ 1 + k latent frames), one
residual block per stage, z_dim 16, no attention scales (the mid block keeps Wan's per-frame attention).
It is causal and convolutional, so it is trained on random 9-frame windows (the first frame alone, then two
chunks of four, which exercises the feature cache) of random 32×32 crops on the 4-pixel latent grid.

Loss: L1 + MSE reconstruction of the decoder's output (before diffusers' final clamp) from a posterior sample, plus a small KL term (1e-6), as
train_vae.py; AdamW with gradient clipping 1. After training, latents_mean and latents_std (per channel) are measured on whole 17-frame clips:
WanPipeline normalises latents with them, as Wan 2.1's published VAE config does.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKLWan  # noqa: E402

import shapes_data as sd  # noqa: E402

VAE_CONFIG = dict(base_dim=16, z_dim=16, dim_mult=[1, 2, 4], num_res_blocks=1, attn_scales=[],
                  temperal_downsample=[True, True], dropout=0.0, scale_factor_spatial=4)

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--out", default=os.path.join(sd.CACHE, "wan-vae"))
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--lr", type=float, default=5e-4)
ap.add_argument("--count", type=int, default=16000, help="rendered clips (seed 1)")
ap.add_argument("--window", type=int, default=9, help="frames per training window (1 + 4·k)")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)

clips, captions, _ = sd.load_clips(args.count, seed=1)
frames = clips.shape[1]


def to_video(batch_uint8):
    """uint8 [N, F, H, W, 3] → float [N, 3, F, H, W] in [-1, 1]."""
    return torch.from_numpy(np.array(batch_uint8)).permute(0, 4, 1, 2, 3).float() / 127.5 - 1


def decode_unclamped(vae, z):
    """vae.decode(z).sample without its final clamp to [-1, 1], whose zero gradient outside the range would leave
    saturated pixels stuck during training (the same per-latent-frame loop with the feature cache)."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    frames_out = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        frames_out.append(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                      first_chunk=i == 0))
    vae.clear_cache()
    return torch.cat(frames_out, 2)


vae = AutoencoderKLWan(**VAE_CONFIG)
n_params = sum(p.numel() for p in vae.parameters())
print(f"VAE {n_params} parameters", flush=True)
opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
gen = torch.Generator().manual_seed(args.seed)
start = time.time(); log = []
for step in range(args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen).sort().values.numpy()
    t0 = int(torch.randint(0, frames - args.window + 1, (1,), generator=gen))
    ox, oy = (torch.randint(0, 9, (2,), generator=gen) * 4).tolist()
    x = to_video(clips[idx, t0:t0 + args.window, oy:oy + 32, ox:ox + 32])
    post = vae.encode(x).latent_dist
    z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
    y = decode_unclamped(vae, z)
    rec = F.l1_loss(y, x) + F.mse_loss(y, x)
    loss = rec + 1e-6 * post.kl().mean()
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
    opt.step(); sched.step()
    if step % 25 == 0 or step == args.steps - 1:
        print(f"step {step} rec {rec.item():.4f} kl {post.kl().mean().item():.1f} {time.time() - start:.0f}s", flush=True)
        log.append((step, round(rec.item(), 5)))

vae.eval()
with torch.no_grad():
    lat, se = [], 0.0
    for i in range(0, 512, 16):
        x = to_video(clips[i:i + 16])
        z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample.clamp(-1, 1)
        se += float(F.mse_loss(y, x, reduction="sum"))
        lat.append(z)
    lat = torch.cat(lat)  # [512, z, F', h, w]
    psnr = float(10 * math.log10(4 / (se / (512 * 3 * frames * 64 * 64))))
    per_channel = lat.transpose(0, 1).reshape(lat.shape[1], -1)
    mean, std = per_channel.mean(1), per_channel.std(1)
vae.register_to_config(latents_mean=[round(float(v), 5) for v in mean], latents_std=[round(float(v), 5) for v in std])
os.makedirs(args.out, exist_ok=True)
sd.save_f16(vae, args.out)
json.dump({"parameters": n_params, "steps": args.steps, "batch": args.batch, "window": args.window, "lr": args.lr,
           "final_reconstruction_loss": log[-1][1], "psnr_db_512_train_clips": round(psnr, 2),
           "seconds": round(time.time() - start), "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print(f"wrote {args.out}: PSNR {psnr:.2f} dB on 512 whole clips; latent std {float(std.mean()):.3f}")
