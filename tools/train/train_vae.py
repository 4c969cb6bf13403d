#!/usr/bin/env python3
"""Trains the shapes-sd AutoencoderKL (64×64×3 ↔ 16×16×4, factor 4) on rendered shapes images.

    python3 tools/train/train_vae.py             # writes .cache/shapes/vae/ (assembled into models/ by export)

The autoencoder has no attention in its mid blocks (mid_block_add_attention=False), so it is purely
convolutional and is trained on random 32×32 crops (offsets on the 4-pixel latent grid), 4× cheaper than whole
images; the scaling factor and PSNR are measured on whole 64×64 images.

Loss: L1 + MSE reconstruction of the decoder's output from a posterior sample, plus a small KL term (1e-6) as
in Stable Diffusion's autoencoder, without its perceptual and adversarial terms (flat-coloured shapes don't need
them). After training, scaling_factor is set to 1 / std of the latents over 2048 training images, the rule SD
used to pick 0.18215.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKL

import shapes_data as sd

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=os.path.join(sd.CACHE, "vae"))
ap.add_argument("--steps", type=int, default=1000)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--count", type=int, default=50000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)

images, captions, _ = sd.load_dataset(args.count, seed=1)
pixels_all = torch.from_numpy(images).permute(0, 3, 1, 2)

vae = AutoencoderKL(in_channels=3, out_channels=3,
                    down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                    block_out_channels=(16, 32, 64), layers_per_block=1, latent_channels=4, norm_num_groups=8,
                    sample_size=64, mid_block_add_attention=False)
opt = torch.optim.AdamW(vae.parameters(), lr=args.lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
gen = torch.Generator().manual_seed(args.seed)
start = time.time(); log = []
for step in range(args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen)
    ox, oy = (torch.randint(0, 9, (2,), generator=gen) * 4).tolist()
    x = pixels_all[idx][:, :, oy:oy + 32, ox:ox + 32].float() / 127.5 - 1
    post = vae.encode(x).latent_dist
    z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
    y = vae.decode(z).sample
    rec = F.l1_loss(y, x) + F.mse_loss(y, x)
    loss = rec + 1e-6 * post.kl().mean()
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if step % 100 == 0 or step == args.steps - 1:
        print(f"step {step} rec {rec.item():.4f} kl {post.kl().mean().item():.1f} {time.time() - start:.0f}s", flush=True)
        log.append((step, round(rec.item(), 5)))

vae.eval()
with torch.no_grad():
    x = pixels_all[:2048].float() / 127.5 - 1
    lat = torch.cat([vae.encode(x[i:i + 256]).latent_dist.mean for i in range(0, 2048, 256)])
    scale = float(1 / lat.std())
    y = torch.cat([vae.decode(lat[i:i + 256]).sample for i in range(0, 2048, 256)])
    psnr = float(10 * torch.log10(4 / F.mse_loss(y.clamp(-1, 1), x)))
vae.register_to_config(scaling_factor=round(scale, 5))
os.makedirs(args.out, exist_ok=True)
sd.save_f16(vae, args.out)
json.dump({"steps": args.steps, "batch": args.batch, "lr": args.lr, "final_reconstruction_loss": log[-1][1],
           "psnr_db_2048_train_images": round(psnr, 2), "scaling_factor": round(scale, 5),
           "seconds": round(time.time() - start), "log": log}, open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print(f"wrote {args.out}: scaling_factor {scale:.5f}, PSNR {psnr:.2f} dB")
