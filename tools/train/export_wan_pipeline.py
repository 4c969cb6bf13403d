#!/usr/bin/env python3
"""Assembles models/shapes-wan-small or models/shapes-wan-large as a diffusers WanPipeline directory.

    python3 tools/train/export_wan_pipeline.py --size small      # after train_wan_vae.py and train_wan.py

Written by WanPipeline.save_pretrained (model_index.json, transformer/, text_encoder/, tokenizer/, vae/,
scheduler/) in float16, with the transformer, UMT5 encoder and SentencePiece tokenizer trained by train_wan.py
(.cache/shapes/wan-<size>), the VAE trained by train_wan_vae.py (.cache/shapes/wan-vae) and Wan 2.1's published
UniPCMultistepScheduler config with the flow_shift of the model's last training stage (train_wan.py --shift),
so the sampler spends its steps where the model was trained. generation_defaults.json records the size, frame count and
prompt length the model was trained at (64×64, 17 frames, 48 tokens); diffusers ignores the file (pass
height=64, width=64, num_frames=17, max_sequence_length=48 there).
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

from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel  # noqa: E402
from transformers import T5TokenizerFast, UMT5EncoderModel  # noqa: E402

import shapes_data as sd  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_wan_transformer_fixtures import load_sharded  # noqa: E402

DEFAULTS = {"height": 64, "width": 64, "frames": 17, "max_sequence_length": 48}
UNIPC = dict(beta_end=0.02, beta_schedule="linear", beta_start=0.0001, disable_corrector=[],
             final_sigmas_type="zero", lower_order_final=True, num_train_timesteps=1000,
             predict_x0=True, prediction_type="flow_prediction", solver_order=2, solver_type="bh2",
             timestep_spacing="linspace", use_flow_sigmas=True)

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--size", choices=("small", "large"), default="small")
ap.add_argument("--trained", default=None, help="train_wan.py's output (default .cache/shapes/wan-<size>)")
ap.add_argument("--vae", default=os.path.join(sd.CACHE, "wan-vae"), help="train_wan_vae.py's output")
ap.add_argument("--out", default=None, help="default models/shapes-wan-<size>")
args = ap.parse_args()
args.trained = args.trained or os.path.join(sd.CACHE, f"wan-{args.size}")
args.out = args.out or os.path.join(sd.ROOT, "models", f"shapes-wan-{args.size}")
log = json.load(open(os.path.join(args.trained, "training_log.json")))
stages = sd.transformer_stages(log)

vae = AutoencoderKLWan.from_pretrained(args.vae, torch_dtype=torch.float32)
# WanPipeline sizes latents by scale_factor_spatial, whose default (8) is not this VAE's factor.
vae.register_to_config(scale_factor_spatial=2 ** (len(vae.config.dim_mult) - 1))
pipe = WanPipeline(
    tokenizer=T5TokenizerFast.from_pretrained(os.path.join(args.trained, "tokenizer")),
    text_encoder=UMT5EncoderModel.from_pretrained(os.path.join(args.trained, "text_encoder"), torch_dtype=torch.float32),
    transformer=load_sharded(os.path.join(args.trained, "transformer")),
    vae=vae,
    scheduler=UniPCMultistepScheduler(**UNIPC, flow_shift=stages[-1]["shift"]))
if os.path.exists(args.out):
    shutil.rmtree(args.out)
pipe.to(torch.float16).save_pretrained(args.out, safe_serialization=True)
shutil.copy(os.path.join(args.trained, "tokenizer", "spiece.model"), os.path.join(args.out, "tokenizer"))
shutil.copy(os.path.join(args.trained, "training_log.json"), os.path.join(args.out, "transformer", "training_log.json"))
shutil.copy(os.path.join(args.vae, "training_log.json"), os.path.join(args.out, "vae", "training_log.json"))
with open(os.path.join(args.out, "generation_defaults.json"), "w") as f:
    json.dump(DEFAULTS, f, indent=1)

# Check the directory loads back in diffusers and samples at the recorded size.
check = WanPipeline(
    tokenizer=T5TokenizerFast.from_pretrained(os.path.join(args.out, "tokenizer")),
    text_encoder=UMT5EncoderModel.from_pretrained(os.path.join(args.out, "text_encoder")).float(),
    transformer=load_sharded(os.path.join(args.out, "transformer")),
    vae=AutoencoderKLWan.from_pretrained(os.path.join(args.out, "vae")).float(),
    scheduler=UniPCMultistepScheduler.from_pretrained(os.path.join(args.out, "scheduler")))
video = check("a red circle moving right", num_inference_steps=3, guidance_scale=5.0,
              generator=torch.Generator("cpu").manual_seed(0), output_type="np", height=64, width=64,
              num_frames=17, max_sequence_length=48).frames
assert video.shape == (1, 17, 64, 64, 3), video.shape

vlog = json.load(open(os.path.join(args.vae, "training_log.json")))
vae_stages = [(s["steps"], s["window"]) for s in vlog["stages"]]  # each VAE training stage, first to last
ceiling = vlog["verifier_pass_rate_of_round_trips"]
tconf = json.load(open(os.path.join(args.out, "transformer", "config.json")))
weights = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.out) for f in fs if f.endswith(".safetensors"))
with open(os.path.join(args.out, "README.md"), "w") as f:
    f.write("\n".join([
        f"# shapes-wan-{args.size}",
        "",
        "A Wan 2.1-style text-to-video pipeline for the moving-shapes world (17 frames of 64×64 RGB: circles, squares",
        "and triangles in five colours moving, holding relations, appearing and disappearing), in diffusers'",
        "WanPipeline layout, f16 weights.",
        "",
        f"- **Data:** {log['clips']} clips of `evosearch shapes render --video --count {log['clips']} --seed 1` (six task types).",
        f"- **Transformer:** WanTransformer3DModel, {log['transformer_parameters']:,} parameters: {tconf['num_layers']} blocks,",
        f"  {tconf['num_attention_heads']} heads × {tconf['attention_head_dim']}, ffn {tconf['ffn_dim']}, patches "
        f"{tuple(tconf['patch_size'])}: {5 * (16 // tconf['patch_size'][1]) * (16 // tconf['patch_size'][2])} video "
        "tokens (16×5×16×16 latents) and 48 text tokens.",
        "  Rectified flow (σ logit-normal, shifted by k, timestep 1000·σ, velocity ε − x0), in stages: "
        + "; then ".join(f"{st['steps']} steps × batch {st['batch']} at shift {st['shift']:g}, AdamW lr {st['lr']}"
                         + "".join(f" (after step {r['after_step']} {r['how']})" for r in st["restarts"])
                         for st in stages) + ",",
        "  each with warm-up and cosine; caption dropout 10%, EMA 0.999; final training loss (EMA of batches)",
        f"  {log['final_loss_ema_of_batches']}; {sum(st['seconds'] for st in stages) / 60:.0f} min on this machine's CPU "
        "(one thread, with UMT5).",
        f"- **Text encoder:** UMT5EncoderModel, {log['umt5_parameters']:,} parameters, trained from scratch with the transformer;",
        f"  tokenizer: SentencePiece Unigram on the caption grammar, {log['tokenizer_pieces']} pieces, as T5TokenizerFast.",
        f"- **VAE:** AutoencoderKLWan, {vlog['parameters']:,} parameters (base_dim 16, dim_mult (1, 2, 4), z_dim 16; spatial",
        "  factor 4, temporal 4), trained on 32×32 crops of " + ", then ".join(
            f"{n} steps × {vlog['batch']} of {w}-frame windows" for n, w in vae_stages) + ";",
        f"  PSNR {vlog['psnr_db_512_train_clips']} dB on 512 training clips, whose round trips the video verifier accepts "
        f"{100 * ceiling['all']:.1f}% of the time",
        "  (" + ", ".join(f"{t.replace('_', ' ')} {100 * v:.0f}%" for t, v in ceiling.items() if t != "all") + ").",
        f"- **Scheduler:** UniPCMultistepScheduler (Wan 2.1's config) with flow_shift {stages[-1]['shift']:g}, the last stage's.",
        "- **Defaults:** generation_defaults.json (64×64, 17 frames, max_sequence_length 48), which evosearch reads; in",
        "  diffusers pass `height=64, width=64, num_frames=17, max_sequence_length=48`.",
        f"- **Size:** {weights / 1e6:.1f} MB of weights.",
        "- Scripts: the video phases of `tools/train/train_all.sh` (the VAE in two stages, the clips' latents,",
        f"  `python3 tools/train/train_wan.py --size {args.size} --steps {stages[0]['steps']} --lr {stages[0]['lr']}"
        f" --shift {stages[0]['shift']:g}`"
        + (f", then `python3 tools/train/train_wan.py --size {args.size} --init {log['init']} --shift {log['shift']:g} "
           f"--steps {log['steps']} --lr {log['lr']} --out {args.trained}`" if log.get("init") else "")
        + f"), then `python3 tools/train/export_wan_pipeline.py --size {args.size}"
        + (f" --trained {args.trained}`." if log.get("init") else "`."),
        ""]))
print("wrote", args.out)
