#!/usr/bin/env python3
"""Assembles models/shapes-flux-small as a diffusers FluxPipeline directory.

    python3 tools/train/export_flux_pipeline.py      # after tools/train/train_flux.py

Written by FluxPipeline.save_pretrained (model_index.json, transformer/, text_encoder_2/, tokenizer_2/, vae/,
text_encoder/, tokenizer/, scheduler/), with the transformer, T5 encoder and SentencePiece tokenizer trained by
train_flux.py (.cache/shapes/flux-small), shapes-sd-small's VAE (its config with shift_factor 0.0, which
FluxPipeline requires) and shapes-sd-small's text_encoder/ and tokenizer/ (the shapes-clip text tower) through
relative symlinks, and a FlowMatchEulerDiscreteScheduler without shifting (the model was trained on uniform-in-logit
σ, sampled on FluxPipeline's linear grid). generation_defaults.json records the size and T5 length the model was
trained at (64×64, 32 tokens), which FluxPipeline's 1024 px / 512-token defaults would not suit; diffusers ignores
the file (pass height=64, width=64, max_sequence_length=32 there).
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel  # noqa: E402
from transformers import CLIPTextModel, CLIPTokenizer, T5EncoderModel, T5TokenizerFast  # noqa: E402

import shapes_data as sd  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--trained", default=os.path.join(sd.CACHE, "flux-small"), help="train_flux.py's output")
ap.add_argument("--out", default=os.path.join(sd.ROOT, "models", "shapes-flux-small"))
args = ap.parse_args()
MODELS = os.path.dirname(os.path.abspath(args.out))
BASE = os.path.join(MODELS, "shapes-sd-small")
SHARED = ("text_encoder", "tokenizer")
DEFAULTS = {"height": 64, "width": 64, "max_sequence_length": 32}

vae = AutoencoderKL.from_pretrained(os.path.join(BASE, "vae"), torch_dtype=torch.float32)
vae.register_to_config(shift_factor=0.0)
pipe = FluxPipeline(
    scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=False),
    vae=vae,
    text_encoder=CLIPTextModel.from_pretrained(os.path.join(BASE, "text_encoder"), torch_dtype=torch.float32),
    tokenizer=CLIPTokenizer.from_pretrained(os.path.join(BASE, "tokenizer")),
    text_encoder_2=T5EncoderModel.from_pretrained(os.path.join(args.trained, "text_encoder_2"), torch_dtype=torch.float32),
    tokenizer_2=T5TokenizerFast.from_pretrained(os.path.join(args.trained, "tokenizer_2")),
    transformer=FluxTransformer2DModel.from_pretrained(os.path.join(args.trained, "transformer"), torch_dtype=torch.float32))
if os.path.exists(args.out):
    shutil.rmtree(args.out)
pipe.to(torch.float16).save_pretrained(args.out, safe_serialization=True)
for sub in SHARED:
    shutil.rmtree(os.path.join(args.out, sub))
    os.symlink(os.path.join("..", "shapes-sd-small", sub), os.path.join(args.out, sub))
shutil.copy(os.path.join(args.trained, "tokenizer_2", "spiece.model"), os.path.join(args.out, "tokenizer_2"))
log = json.load(open(os.path.join(args.trained, "training_log.json")))
shutil.copy(os.path.join(args.trained, "training_log.json"), os.path.join(args.out, "transformer", "training_log.json"))
with open(os.path.join(args.out, "generation_defaults.json"), "w") as f:
    json.dump(DEFAULTS, f, indent=1)

# Check the directory loads back in diffusers and samples at the recorded size.
check = FluxPipeline.from_pretrained(args.out, torch_dtype=torch.float32)
image = check("a red circle", num_inference_steps=4, generator=torch.Generator("cpu").manual_seed(0),
              output_type="np", **DEFAULTS).images
assert image.shape == (1, 64, 64, 3), image.shape

tconf = json.load(open(os.path.join(args.out, "transformer", "config.json")))
t5conf = json.load(open(os.path.join(args.out, "text_encoder_2", "config.json")))
weights = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs
              if f.endswith(".safetensors") and not os.path.islink(d))
with open(os.path.join(args.out, "README.md"), "w") as f:
    f.write("\n".join([
        "# shapes-flux-small",
        "",
        "A FLUX.1-style rectified-flow text-to-image pipeline for the shapes world (64×64 RGB, 1–4",
        "circles/squares/triangles in red/green/blue/yellow/purple), in diffusers' FluxPipeline layout, f16 weights.",
        "",
        "- **Data:** the 50000 renders of `evosearch shapes render --count 50000 --seed 1` that shapes-sd-small uses.",
        f"- **Transformer:** FluxTransformer2DModel, {log['transformer_parameters']:,} parameters: "
        f"{tconf['num_layers']} double-stream and {tconf['num_single_layers']} single-stream blocks,",
        f"  {tconf['num_attention_heads']} heads × {tconf['attention_head_dim']}, rotary axes {tuple(tconf['axes_dims_rope'])}, "
        "no guidance embedding (guide with classifier-free guidance on the empty prompt);",
        "  64 image tokens (16×16×4 latents packed 2×2) + 32 text tokens.",
        f"  Rectified flow (σ logit-normal, velocity ε − x0), {log['steps']} steps × batch {log['batch']}, AdamW lr {log['lr']}",
        "  (warm-up, cosine), caption dropout 10%, EMA 0.999; final training loss (EMA of batches)",
        f"  {log['final_loss_ema_of_batches']}; {log['seconds'] / 60:.0f} min on this machine's CPU (one thread, with T5).",
        f"- **T5 encoder (text_encoder_2):** T5 v1.1-style, {log['t5_parameters']:,} parameters, "
        f"{t5conf['num_layers']} layers × {t5conf['d_model']} wide, {t5conf['num_heads']} heads, gated-GELU,",
        "  trained from scratch together with the transformer.",
        f"- **Tokenizer (tokenizer_2):** SentencePiece Unigram trained on the caption grammar, {log['tokenizer_pieces']} pieces",
        "  (`<pad>` 0, `</s>` 1, `<unk>` 2, no extra ids), as T5TokenizerFast (tokenizer.json and spiece.model); 32 tokens.",
        "- **CLIP text encoder and tokenizer (pooled embedding):** shapes-sd-small's (the shapes-clip text tower, frozen),",
        "  shared through symlinks.",
        "- **VAE:** shapes-sd-small's AutoencoderKL (16×16×4 latents) with shift_factor 0.0.",
        "- **Scheduler:** FlowMatchEulerDiscreteScheduler, shift 1, no dynamic shifting.",
        "- **Defaults:** generation_defaults.json (64×64, max_sequence_length 32), which evosearch reads; in diffusers pass",
        "  `height=64, width=64, max_sequence_length=32`.",
        f"- **Size:** {weights / 1e6:.1f} MB of weights in this directory (without the shared ones).",
        "- Scripts: `python3 tools/train/train_flux.py`, then `python3 tools/train/export_flux_pipeline.py`.",
        "  Quality per task type: see the repository README.",
        ""]))
print("wrote", args.out)
