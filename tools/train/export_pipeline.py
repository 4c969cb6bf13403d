#!/usr/bin/env python3
"""Assembles models/shapes-sd-small and models/shapes-sd-large as diffusers StableDiffusionPipeline directories.

    python3 tools/train/export_pipeline.py

Each directory is written by StableDiffusionPipeline.save_pretrained (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/), with the trained UNet (.cache/shapes/unet-<size>), the trained VAE
(.cache/shapes/vae), shapes-clip's text tower as CLIPTextModel, the CLIP BPE tokenizer (vocab.json + merges.txt)
and a DDIMScheduler with Stable Diffusion's training schedule. No safety checker or feature extractor. The large
pipeline shares the small one's vae/, text_encoder/ and tokenizer/ through relative symlinks (same files).
"""
import argparse
import json
import os
import shutil

import torch
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPModel, CLIPTextModel

import shapes_data as sd

ap = argparse.ArgumentParser()
ap.add_argument("--sizes", default="small,large", help="which pipelines to assemble (the large one needs the small one)")
SIZES = ap.parse_args().sizes.split(",")
MODELS = os.path.join(sd.ROOT, "models")
clip = CLIPModel.from_pretrained(os.path.join(MODELS, "shapes-clip"), torch_dtype=torch.float32)
text = CLIPTextModel(clip.config.text_config)
# CLIPModel holds the tower under text_model.; CLIPTextModel's own keys may or may not carry that prefix.
prefixed = any(k.startswith("text_model.") for k in text.state_dict())
tower = {(k if prefixed else k[len("text_model."):]): v for k, v in clip.state_dict().items() if k.startswith("text_model.")}
missing, unexpected = text.load_state_dict(tower, strict=False)
assert not missing and not unexpected, (missing, unexpected)
tok = sd.clip_tokenizer()
vae = AutoencoderKL.from_pretrained(os.path.join(sd.CACHE, "vae"), torch_dtype=torch.float32)
scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                          clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")

for size in SIZES:
    unet = UNet2DConditionModel.from_pretrained(os.path.join(sd.CACHE, f"unet-{size}"), torch_dtype=torch.float32)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    out = os.path.join(MODELS, f"shapes-sd-{size}")
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.to(torch.float16).save_pretrained(out, safe_serialization=True)
    # The tokenizer as vocab.json + merges.txt (1.5 MB) rather than a 3.6 MB tokenizer.json.
    tdir = os.path.join(out, "tokenizer")
    for f in os.listdir(tdir):
        if f == "tokenizer.json":
            os.remove(os.path.join(tdir, f))
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(sd.CLIP_VOCAB_DIR, f), os.path.join(tdir, f))
    if size == "large":
        for sub in ("vae", "text_encoder", "tokenizer"):
            shutil.rmtree(os.path.join(out, sub))
            os.symlink(os.path.join("..", "shapes-sd-small", sub), os.path.join(out, sub))
    for f in ("training_log.json",):
        src = os.path.join(sd.CACHE, f"unet-{size}", f)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(out, "unet", f))
    if size == "small":
        shutil.copy(os.path.join(sd.CACHE, "vae", "training_log.json"), os.path.join(out, "vae", "training_log.json"))
    # Check the directory loads back in diffusers.
    StableDiffusionPipeline.from_pretrained(out, torch_dtype=torch.float32, safety_checker=None)
    print("wrote", out)

def size_mb(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            fp = os.path.join(dirpath, f)
            if not os.path.islink(fp) and f.endswith(".safetensors"):
                total += os.path.getsize(fp)
    return total / 1e6


def card(directory, title, lines):
    with open(os.path.join(directory, "README.md"), "w") as f:
        f.write(f"# {title}\n\n" + "\n".join(lines) + "\n")


vae_log = json.load(open(os.path.join(sd.CACHE, "vae", "training_log.json")))
clip_log = json.load(open(os.path.join(MODELS, "shapes-clip", "training_log.json")))
for size in SIZES:
    log = json.load(open(os.path.join(sd.CACHE, f"unet-{size}", "training_log.json")))
    out = os.path.join(MODELS, f"shapes-sd-{size}")
    unet_config = json.load(open(os.path.join(out, "unet", "config.json")))
    layers = unet_config["layers_per_block"]
    shape_doc = (f"{tuple(unet_config['block_out_channels'])}, {layers} layer{'s' if layers > 1 else ''} per block, "
                 f"{unet_config['attention_head_dim']} heads")
    if size != "small":
        small_params = json.load(open(os.path.join(sd.CACHE, "unet-small", "training_log.json")))["parameters"]
        shape_doc += f" ({log['parameters'] / small_params:.1f}× shapes-sd-small's UNet)"
    shared = "" if size == "small" else " (shared with shapes-sd-small through symlinks)"
    card(out, f"shapes-sd-{size}", [
        "A Stable Diffusion-style text-to-image pipeline for the shapes world (64×64 RGB, 1–4 circles/squares/triangles",
        "in red/green/blue/yellow/purple), in diffusers' StableDiffusionPipeline layout, f16 weights.",
        "",
        f"- **Data:** {log.get('dataset', '50000 renders')} from `evosearch shapes render --count 50000 --seed 1` (captions from",
        "  the six task types of the grammar, uniformly).",
        f"- **UNet:** {log['parameters']:,} parameters, block_out_channels {shape_doc}, 16×16×4 latents;",
        f"  {log['steps']} steps × batch {log['batch']}, AdamW lr {log['lr']} (warm-up, cosine), ε-prediction, min-SNR-5,",
        f"  caption dropout 10%, EMA 0.999; final training loss (weighted, EMA of batches) {log['final_loss_ema_of_batches']};",
        f"  {log['seconds'] / 60:.0f} min on this machine's CPU. Script: `python3 tools/train/train_unet.py --size {size}`.",
        f"- **VAE{shared}:** AutoencoderKL 64×64×3 ↔ 16×16×4, block_out_channels (16, 32, 64), no mid-block attention;",
        f"  {vae_log['steps']} steps × batch {vae_log['batch']} on 32×32 crops, L1+MSE+1e-6·KL; PSNR {vae_log['psnr_db_2048_train_images']} dB",
        f"  on 2048 training images; scaling_factor {vae_log['scaling_factor']}. Script: `python3 tools/train/train_vae.py`.",
        f"- **Text encoder{shared}:** the text tower of shapes-clip (frozen), real CLIP BPE vocabulary, 32 tokens.",
        "- **Scheduler:** DDIM with Stable Diffusion's training schedule (scaled-linear β 0.00085…0.012, 1000 steps).",
        f"- **Size:** {size_mb(out):.1f} MB of weights in this directory.",
        "- Assembled by `python3 tools/train/export_pipeline.py`. Quality per task type: see the repository README.",
    ])
    print("card", out)

cdir = os.path.join(MODELS, "shapes-clip")
card(cdir, "shapes-clip", [
    "A small CLIPModel (transformers layout, f16) trained contrastively on shapes-world renders and their captions;",
    "used as a learned reward (`--reward clip --reward-model shapes-clip`) that the exact verifier then judges.",
    "",
    "- **Data:** 50000 renders (`evosearch shapes render --count 50000 --seed 1`).",
    "- **Model:** text tower 3 layers × 64 wide, 2 heads, quick-GELU, real CLIP BPE vocabulary (49408 tokens; rows the",
    "  grammar never uses stay zero), 32 positions; vision tower ViT 64 px, patch 8, 3 layers × 64; projection 64.",
    f"- **Training:** {clip_log['steps']} steps × batch {clip_log['batch']}, AdamW lr {clip_log['lr']}, CLIP loss with targets",
    "  spread over pairs that share a caption, pixel noise 0.05 as augmentation; final loss",
    f"  {clip_log['final_loss']}, in-batch caption retrieval top-1 {clip_log['final_top1']}; {clip_log['seconds'] / 60:.0f} min on CPU.",
    "  Script: `python3 tools/train/train_clip.py`.",
    f"- **Size:** {size_mb(cdir):.1f} MB of weights.",
])

# shapes-clip: the same vocab.json + merges.txt tokenizer files.
cdir = os.path.join(MODELS, "shapes-clip")
if os.path.exists(os.path.join(cdir, "tokenizer.json")):
    os.remove(os.path.join(cdir, "tokenizer.json"))
for f in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(sd.CLIP_VOCAB_DIR, f), os.path.join(cdir, f))
CLIPModel.from_pretrained(cdir)
