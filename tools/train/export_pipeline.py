#!/usr/bin/env python3
"""Assembles models/shapes-sd-small and models/shapes-sd-large as diffusers StableDiffusionPipeline directories.

    python3 tools/train/export_pipeline.py

Each directory is written by StableDiffusionPipeline.save_pretrained (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/), with the trained UNet (.cache/shapes/unet-<size>), the trained VAE
(.cache/shapes/vae), shapes-clip's text tower as CLIPTextModel, the CLIP BPE tokenizer (vocab.json + merges.txt)
and a DDIMScheduler with Stable Diffusion's training schedule. No safety checker or feature extractor. The large
pipeline shares the small one's vae/, text_encoder/ and tokenizer/ through relative symlinks (same files).
"""
import json
import os
import shutil

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPModel, CLIPTextModel

import shapes_data as sd

MODELS = os.path.join(sd.ROOT, "models")
clip = CLIPModel.from_pretrained(os.path.join(MODELS, "shapes-clip"), torch_dtype=torch.float32)
text = CLIPTextModel(clip.config.text_config)
missing, unexpected = text.load_state_dict({k: v for k, v in clip.state_dict().items() if k.startswith("text_model.")},
                                           strict=False)
assert not missing, missing
tok = sd.clip_tokenizer()
vae = AutoencoderKL.from_pretrained(os.path.join(sd.CACHE, "vae"), torch_dtype=torch.float32)
scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                          clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")

for size in ("small", "large"):
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

# shapes-clip: the same vocab.json + merges.txt tokenizer files.
cdir = os.path.join(MODELS, "shapes-clip")
if os.path.exists(os.path.join(cdir, "tokenizer.json")):
    os.remove(os.path.join(cdir, "tokenizer.json"))
for f in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(sd.CLIP_VOCAB_DIR, f), os.path.join(cdir, f))
CLIPModel.from_pretrained(cdir)
