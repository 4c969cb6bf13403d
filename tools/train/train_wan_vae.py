#!/usr/bin/env python3
"""Trains the shapes-wan AutoencoderKLWan (17×64×64×3 ↔ 16×5×16×16) on rendered moving-shapes clips.

    python3 tools/train/train_wan_vae.py         # writes .cache/shapes/wan-vae/ (assembled into models/ by export)

Wan 2.1's causal 3-D VAE at toy scale: base_dim 16, dim_mult (1, 2, 4) — spatial factor 4, as shapes-sd's VAE —
with time downsampling in both down stages (temporal factor 4: 1 + 4·k frames ↔ 1 + k latent frames), one
residual block per stage, z_dim 16, no attention scales (the mid block keeps Wan's per-frame attention).
It is causal and convolutional, so it is trained on random 32×32 crops (on the 4-pixel latent grid) of whole
17-frame clips: the first frame alone, then four chunks of four through the feature cache, as WanPipeline decodes
them: shorter windows leave the cache states of the later latent frames untrained, and their colours drift.
`--init` continues from a saved VAE (e.g. one trained on shorter, cheaper windows).

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
ap.add_argument("--window", type=int, default=17, help="frames per training window (1 + 4·k)")
ap.add_argument("--init", default=None, help="a saved AutoencoderKLWan directory to continue training from")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)

clips, captions, tasks = sd.load_clips(args.count, seed=1)
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


vae = (AutoencoderKLWan.from_pretrained(args.init, torch_dtype=torch.float32) if args.init
       else AutoencoderKLWan(**VAE_CONFIG))
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
    lat, se, se_frames = [], 0.0, torch.zeros(frames)
    for i in range(0, 512, 16):
        x = to_video(clips[i:i + 16])
        z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample.clamp(-1, 1)
        se += float(F.mse_loss(y, x, reduction="sum"))
        se_frames += ((y - x) ** 2).sum((0, 1, 3, 4))
        lat.append(z)
    lat = torch.cat(lat)  # [512, z, F', h, w]
    psnr = float(10 * math.log10(4 / (se / (512 * 3 * frames * 64 * 64))))
    psnr_frames = [round(float(10 * math.log10(4 / (v / (512 * 3 * 64 * 64)))), 2) for v in se_frames]
    per_channel = lat.transpose(0, 1).reshape(lat.shape[1], -1)
    mean, std = per_channel.mean(1), per_channel.std(1)

def verifier_pass_rate(vae, first, count):
    """Fraction of clips [first, first + count) whose VAE round trip (8-bit frames, as a decoded sample is saved)
    `evosearch score --reward shapes-video-verifier` accepts against their own caption, per task type: the best
    any transformer on these latents can be judged."""
    import subprocess
    import tempfile
    from collections import defaultdict
    from PIL import Image
    passed, seen = defaultdict(int), defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for i in range(first, first + count, 16):
            x = to_video(clips[i:min(i + 16, first + count)])
            y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
            y = ((y + 1) * 127.5).round().byte().permute(0, 2, 3, 4, 1).numpy()
            for k in range(y.shape[0]):
                d = os.path.join(tmp, f"{i + k:06d}"); os.makedirs(d)
                for f in range(y.shape[1]):
                    Image.fromarray(y[k, f]).save(os.path.join(d, f"frame-{f:04d}.png"))
                out = subprocess.run([sd.evosearch_binary(), "score", "--reward", "shapes-video-verifier", "--json",
                                      "--prompt", captions[i + k], d], capture_output=True, text=True, check=True)
                task = tasks[i + k]
                passed[task] += json.loads(out.stdout)["scores"][0] == 1.0; seen[task] += 1
    rates = {t: round(passed[t] / seen[t], 3) for t in sorted(seen)}
    rates["all"] = round(sum(passed.values()) / sum(seen.values()), 3)
    return rates


ceiling = verifier_pass_rate(vae, len(captions) - 512, 512)
print("verifier accepts the round trips of the last 512 clips:", ceiling, flush=True)
vae.register_to_config(latents_mean=[round(float(v), 5) for v in mean], latents_std=[round(float(v), 5) for v in std])
# Every training stage, first to last, so the log describes the VAE without the earlier stage's directory.
stages = []
if args.init:
    earlier = json.load(open(os.path.join(args.init, "training_log.json")))
    stages = earlier.get("stages") or [{"steps": earlier["steps"], "window": earlier["window"], "lr": earlier["lr"]}]
stages.append({"steps": args.steps, "window": args.window, "lr": args.lr})
os.makedirs(args.out, exist_ok=True)
sd.save_f16(vae, args.out)
json.dump({"parameters": n_params, "steps": args.steps, "batch": args.batch, "window": args.window, "lr": args.lr,
           "final_reconstruction_loss": log[-1][1], "psnr_db_512_train_clips": round(psnr, 2),
           "psnr_db_per_frame": psnr_frames, "verifier_pass_rate_of_round_trips": ceiling, "init": args.init, "stages": stages,
           "seconds": round(time.time() - start), "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print(f"wrote {args.out}: PSNR {psnr:.2f} dB on 512 whole clips (per frame {psnr_frames}); "
      f"latent std {float(std.mean()):.3f}")
