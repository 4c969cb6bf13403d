#!/usr/bin/env python3
"""Trains shapes-flux-small: a FluxTransformer2DModel, a T5 encoder trained with it and its SentencePiece tokenizer.

    python3 tools/train/train_flux.py      # needs models/shapes-sd-small (its VAE and CLIP text tower)

FLUX.1's recipe at toy scale, by rectified flow on the rendered shapes world:
- latents: shapes-sd-small's VAE posterior mean × scaling_factor (16×16×4 for 64×64 images; shift_factor 0),
  packed by FluxPipeline's 2×2 packing into 64 tokens of 16 channels;
- text: shapes-clip's frozen text tower gives the pooled embedding (as FluxPipeline takes CLIP's pooler_output);
  a small T5 v1.1 encoder (gated-GELU, RMS norm, relative position buckets) is trained from scratch together with
  the transformer on the ids of a SentencePiece Unigram tokenizer trained here on the caption grammar (`pad` 0,
  `</s>` 1, `unk` 2, no extra ids), prompts padded to 32 tokens with no attention mask, as FluxPipeline runs T5;
- objective: x_σ = (1 − σ)·x0 + σ·ε with σ logit-normal(0, 1), the transformer (timestep = σ, as FluxPipeline
  passes t/1000) predicts ε − x0; MSE; both encodings replaced by the empty prompt's 10% of the time so that
  classifier-free guidance works (the transformer has no guidance embedding: guidance is true CFG);
- AdamW with warm-up and cosine decay, gradient clipping 1; the saved weights are exponential moving averages
  (decay 0.999) of the transformer and T5.

Writes .cache/shapes/flux-small/{transformer,text_encoder_2,tokenizer_2,training_log.json}; then
tools/train/export_flux_pipeline.py assembles models/shapes-flux-small.
"""
import argparse
import json
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKL, FluxPipeline, FluxTransformer2DModel  # noqa: E402
from transformers import CLIPTextModel, T5Config, T5EncoderModel  # noqa: E402

import shapes_data as sd  # noqa: E402

MAX_T5_TOKENS = 32  # the longest caption of the grammar is 19 pieces with </s>

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--steps", type=int, default=4000)
ap.add_argument("--batch", type=int, default=64)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--count", type=int, default=50000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--vocab", type=int, default=96, help="SentencePiece vocabulary size")
ap.add_argument("--base", default=os.path.join(sd.ROOT, "models", "shapes-sd-small"),
                help="pipeline whose vae/ and text_encoder/ are used (frozen)")
ap.add_argument("--out", default=os.path.join(sd.CACHE, "flux-small"))
args = ap.parse_args()
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)
os.makedirs(args.out, exist_ok=True)

images, captions, _ = sd.load_dataset(args.count, seed=1)
unique = sorted(set(captions))
index = {c: i for i, c in enumerate(unique)}
caption_ids = torch.tensor([index[c] for c in captions])
empty_id = len(unique)


tok2 = sd.train_sentencepiece(unique, os.path.join(args.out, "tokenizer_2"), args.vocab, MAX_T5_TOKENS)
t5_ids = tok2(unique + [""], padding="max_length", max_length=MAX_T5_TOKENS, truncation=True,
              return_tensors="pt").input_ids
longest = int((t5_ids != tok2.pad_token_id).sum(1).max())
print(f"tokenizer: {len(tok2)} pieces, longest caption {longest} ids with </s>", flush=True)
assert longest <= MAX_T5_TOKENS and tok2.unk_token_id not in t5_ids[:-1].tolist(), "a caption does not tokenize"

# Latents (shapes-sd-small's f16 VAE, widened), cached.
lat_path = os.path.join(sd.CACHE, f"latents-sd-small-vae-n{args.count}.pt")
vae = AutoencoderKL.from_pretrained(os.path.join(args.base, "vae"), torch_dtype=torch.float32).eval()
scaling = vae.config.scaling_factor
if not os.path.exists(lat_path):
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    with torch.no_grad():
        lat = torch.cat([vae.encode(pixels[i:i + 500].float() / 127.5 - 1).latent_dist.mean
                         for i in range(0, len(pixels), 500)]) * scaling
    torch.save(lat, lat_path + ".tmp"); os.replace(lat_path + ".tmp", lat_path)
latents = torch.load(lat_path)
del vae
C, H, W = latents.shape[1:]
packed = FluxPipeline._pack_latents(latents, len(latents), C, H, W)  # [N, H/2·W/2, 4C]
img_ids = FluxPipeline._prepare_latent_image_ids(1, H // 2, W // 2, "cpu", torch.float32)
txt_ids = torch.zeros(MAX_T5_TOKENS, 3)
print("latents", tuple(latents.shape), "std", float(latents.std()), "packed", tuple(packed.shape), flush=True)

# CLIP pooled embeddings of every distinct caption and of the empty prompt (frozen, as FluxPipeline runs them).
clip = CLIPTextModel.from_pretrained(os.path.join(args.base, "text_encoder"), torch_dtype=torch.float32).eval()
with torch.no_grad():
    pooled = clip(input_ids=sd.tokenize(sd.clip_tokenizer(), unique + [""])).pooler_output
del clip

T5_CONFIG = dict(vocab_size=len(tok2), d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                 feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                 relative_attention_max_distance=64, dropout_rate=0.0, is_encoder_decoder=False, use_cache=False,
                 pad_token_id=0, eos_token_id=1)
FLUX_CONFIG = dict(patch_size=1, in_channels=4 * C, num_layers=2, num_single_layers=4, attention_head_dim=24,
                   num_attention_heads=4, joint_attention_dim=64, pooled_projection_dim=pooled.shape[1],
                   guidance_embeds=False, axes_dims_rope=(4, 10, 10))


def make_models():
    torch.manual_seed(args.seed)
    return T5EncoderModel(T5Config(**T5_CONFIG)), FluxTransformer2DModel(**FLUX_CONFIG)


t5, flux = make_models()
ema_t5, ema_flux = make_models()
ema_t5.load_state_dict(t5.state_dict()); ema_flux.load_state_dict(flux.state_dict())
ema_t5.requires_grad_(False); ema_flux.requires_grad_(False)
params = list(t5.parameters()) + list(flux.parameters())
n_flux = sum(p.numel() for p in flux.parameters()); n_t5 = sum(p.numel() for p in t5.parameters())
print(f"transformer {n_flux} parameters, T5 {n_t5}", flush=True)

opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
sched = sd.warmup_cosine(opt, args.steps)
gen = torch.Generator().manual_seed(args.seed)
start = time.time(); log = []; running = None
for step in range(args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen)
    x0 = packed[idx]
    cid = caption_ids[idx].clone()
    cid[torch.rand(args.batch, generator=gen) < 0.1] = empty_id
    sigma = torch.sigmoid(torch.randn(args.batch, generator=gen))
    eps = torch.randn(x0.shape, generator=gen)
    s = sigma[:, None, None]
    xt = (1 - s) * x0 + s * eps
    hidden = t5(input_ids=t5_ids[cid]).last_hidden_state
    pred = flux(hidden_states=xt, timestep=sigma, pooled_projections=pooled[cid], encoder_hidden_states=hidden,
                txt_ids=txt_ids, img_ids=img_ids, return_dict=False)[0]
    loss = F.mse_loss(pred, eps - x0)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step(); sched.step()
    sd.ema_update([(ema_t5, t5), (ema_flux, flux)], step)
    running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
    if step % 100 == 0 or step == args.steps - 1:
        print(f"step {step} loss {running:.4f} {time.time() - start:.0f}s", flush=True)
        log.append((step, round(running, 5)))

for name, model in (("transformer", ema_flux), ("text_encoder_2", ema_t5)):
    d = os.path.join(args.out, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    sd.save_f16(model.eval(), d)
json.dump({"transformer_parameters": n_flux, "t5_parameters": n_t5, "tokenizer_pieces": len(tok2),
           "steps": args.steps, "batch": args.batch, "lr": args.lr, "final_loss_ema_of_batches": log[-1][1],
           "seconds": round(time.time() - start), "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print("wrote", args.out)
