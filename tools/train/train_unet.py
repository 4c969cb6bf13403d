#!/usr/bin/env python3
"""Trains the UNet2DConditionModel of shapes-sd-small or shapes-sd-large on VAE latents of rendered shapes.

    python3 tools/train/train_unet.py --size small      # needs models/shapes-clip and .cache/shapes/vae
    python3 tools/train/train_unet.py --size large

Stable Diffusion's recipe at toy scale: latents = VAE posterior mean × scaling_factor (16×16×4 for 64×64 images);
the frozen text encoder is shapes-clip's text tower (its last hidden state, 32 tokens × 64); ε-prediction with
SD's scaled-linear β schedule (1000 steps, 0.00085…0.012); the caption is replaced by the empty prompt 10% of the
time so classifier-free guidance works; min-SNR-5 loss weighting; AdamW with warm-up and cosine decay; the saved
weights are an exponential moving average (decay 0.999). The two sizes differ mostly in the deepest level, so the
large one has > 4× the parameters for about twice the compute.
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPConfig, CLIPModel

import shapes_data as sd

SIZES = {
    "small": dict(block_out_channels=(32, 64, 64), layers_per_block=1, attention_head_dim=2),
    "large": dict(block_out_channels=(32, 96, 192), layers_per_block=1, attention_head_dim=4),
}

ap = argparse.ArgumentParser()
ap.add_argument("--size", choices=SIZES, default="small")
ap.add_argument("--steps", type=int, default=2500)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--count", type=int, default=50000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--clip", default=os.path.join(sd.ROOT, "models", "shapes-clip"))
ap.add_argument("--vae", default=os.path.join(sd.CACHE, "vae"))
ap.add_argument("--out", default=None)
args = ap.parse_args()
args.out = args.out or os.path.join(sd.CACHE, f"unet-{args.size}")
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)


def make_unet(size):
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64, norm_num_groups=8, **SIZES[size])


images, captions, _ = sd.load_dataset(args.count, seed=1)

# Latents, cached (shared by both sizes).
lat_path = os.path.join(sd.CACHE, f"latents-n{args.count}.pt")
if not os.path.exists(lat_path):
    vae = AutoencoderKL.from_pretrained(args.vae, torch_dtype=torch.float32).eval()
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    with torch.no_grad():
        lat = torch.cat([vae.encode(pixels[i:i + 500].float() / 127.5 - 1).latent_dist.mean
                         for i in range(0, len(pixels), 500)]) * vae.config.scaling_factor
    tmp = f"{lat_path}.{os.getpid()}.tmp"  # both sizes may encode at once (train_all.sh)
    torch.save(lat, tmp); os.replace(tmp, lat_path)
latents = torch.load(lat_path)
print("latents", tuple(latents.shape), "std", float(latents.std()), flush=True)

# Text embeddings of every distinct caption and of the empty prompt, from the frozen shapes-clip text tower.
clip = CLIPModel.from_pretrained(args.clip, torch_dtype=torch.float32).eval()
tok = sd.clip_tokenizer()
unique = sorted(set(captions))
index = {c: i for i, c in enumerate(unique)}
caption_ids = torch.tensor([index[c] for c in captions])
with torch.no_grad():
    emb = clip.text_model(input_ids=sd.tokenize(tok, unique + [""])).last_hidden_state
empty_id = len(unique)
del clip

unet = make_unet(args.size)
n_params = sum(p.numel() for p in unet.parameters())
print(f"{args.size} UNet: {n_params} parameters", flush=True)
ema = make_unet(args.size); ema.load_state_dict(unet.state_dict()); ema.requires_grad_(False)
noise_sched = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
alphas = noise_sched.alphas_cumprod
snr = alphas / (1 - alphas)
weight = torch.clamp(snr, max=5.0) / snr

opt = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=0.0)
sched = sd.warmup_cosine(opt, args.steps)
gen = torch.Generator().manual_seed(args.seed)
start = time.time(); log = []; running = None
for step in range(args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen)
    x0 = latents[idx]
    cid = caption_ids[idx].clone()
    cid[torch.rand(args.batch, generator=gen) < 0.1] = empty_id
    t = torch.randint(0, 1000, (args.batch,), generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    xt = noise_sched.add_noise(x0, eps, t)
    pred = unet(xt, t, emb[cid]).sample
    loss = (weight[t] * ((pred - eps) ** 2).mean(dim=(1, 2, 3))).mean()
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
    opt.step(); sched.step()
    sd.ema_update([(ema, unet)], step)
    running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
    if step % 100 == 0 or step == args.steps - 1:
        print(f"step {step} loss {running:.4f} {time.time() - start:.0f}s", flush=True)
        log.append((step, round(running, 5)))

os.makedirs(args.out, exist_ok=True)
sd.save_f16(ema.eval(), args.out)
json.dump({"size": args.size, "parameters": n_params, "steps": args.steps, "batch": args.batch, "lr": args.lr,
           "final_loss_ema_of_batches": log[-1][1], "seconds": round(time.time() - start), "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print("wrote", args.out)
