#!/usr/bin/env python3
"""PyTorch CPU side of EvoSearch's CLIP scoring benchmark (`benchCLIPScoring` in
Sources/EvoSearchCLI/BenchCLIPScoring.swift).

Scores a population of decoded images (default 32 at 224 px) with a ViT-B/32-shaped CLIPModel with random
weights, the way a transformers user scores diffusion samples: images → PIL (diffusers' numpy_to_pil rounding) →
AutoProcessor.from_pretrained(dir) (the torchvision-backed CLIPImageProcessor when torchvision imports, else
CLIPImageProcessorPil) → get_image_features → normalise → cosine with the prompt's text embedding (computed once).

  1. builds the model once in <cache>/clip-vit-b32/ (transformers' default CLIPConfig = ViT-B/32 shape: vision
     768×12 layers, patch 32; text 512×12 layers; projection 512), random weights saved as float16, with the
     default preprocessor_config.json and the CLIP tokenizer copied from Tests/RewardsTests/Fixtures/clip/tokenizer;
  2. writes the images to <cache>/clip-bench-images-<N>x<S>.safetensors ("images" [N, 3, S, S], values k/255 so
     the 8-bit rounding is exact on both sides) and loads the model in float32 (the same f16-rounded weights);
  3. prints one JSON line {"type": "ready", model_dir, images_file, prompt, backend, scores, threads}, then, with
     --serve, answers each stdin line {"cmd": "time", "runs": k} with {"type": "times", "seconds": [...]}
     (one scoring of the whole population per run) until {"cmd": "quit"} or end of input; without --serve it
     times --runs runs after one warm-up and prints {"type": "times", ...} once.

Run from the repository root (needs torch, transformers, safetensors, pillow; torchvision optional):
    python3 tools/bench/torch_clip.py --runs 5
"""
import argparse
import json
import os
import shutil
import sys
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
TOKENIZER = os.path.join(ROOT, "Tests", "RewardsTests", "Fixtures", "clip", "tokenizer")
PROMPT = "a photo of a red fox in the snow, highly detailed"
CONFIG_VERSION = "vit-b32-random-v1"


def build_model(path):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    marker = os.path.join(path, "bench-version.txt")
    if os.path.exists(marker) and open(marker).read() == CONFIG_VERSION:
        return
    shutil.rmtree(path, ignore_errors=True)
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig()).eval()
    model.to(torch.float16).save_pretrained(path, safe_serialization=True)
    CLIPImageProcessor().save_pretrained(path)
    for f in os.listdir(TOKENIZER):
        shutil.copy(os.path.join(TOKENIZER, f), path)
    with open(marker, "w") as f:
        f.write(CONFIG_VERSION)


def build_images(path, n, size):
    if os.path.exists(path):
        return load_file(path)["images"]
    g = torch.Generator().manual_seed(1)
    low = torch.rand(n, 3, size // 16, size // 16, generator=g)
    smooth = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    noisy = (smooth + 0.08 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    images = (noisy * 255).round() / 255
    save_file({"images": images.contiguous()}, path)
    return images


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=os.path.join(ROOT, ".bench-cache"))
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from torchvision_compat import ensure_torchvision_if_installed

    have_tv = ensure_torchvision_if_installed()
    from PIL import Image
    from transformers import AutoProcessor, CLIPModel

    model_dir = os.path.abspath(os.path.join(args.cache_dir, "clip-vit-b32"))
    images_file = os.path.abspath(os.path.join(args.cache_dir, f"clip-bench-images-{args.images}x{args.size}.safetensors"))
    os.makedirs(args.cache_dir, exist_ok=True)
    build_model(model_dir)
    images = build_images(images_file, args.images, args.size)
    model = CLIPModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    backend = getattr(processor.image_processor, "backend", "unknown")
    with torch.inference_mode():
        ids = processor.tokenizer([PROMPT], return_tensors="pt").input_ids
        text = model.get_text_features(input_ids=ids).pooler_output
        text = text / text.norm(dim=-1, keepdim=True)

    def score():
        with torch.inference_mode():
            arrays = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
            pil = [Image.fromarray(a) for a in arrays]
            pixels = processor(images=pil, return_tensors="pt").pixel_values
            emb = model.get_image_features(pixel_values=pixels).pooler_output
            emb = emb / emb.norm(dim=-1, keepdim=True)
            return (emb @ text.T)[:, 0]

    scores = score()
    print(json.dumps({"type": "ready", "model_dir": model_dir, "images_file": images_file, "prompt": PROMPT,
                      "backend": backend, "torchvision": have_tv, "threads": args.threads,
                      "scores": [float(s) for s in scores]}), flush=True)

    def timed(runs):
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            score()
            out.append(time.perf_counter() - t0)
        return out

    if not args.serve:
        print(json.dumps({"type": "times", "seconds": timed(args.runs)}), flush=True)
        return
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("cmd") == "quit":
            break
        if req.get("cmd") == "time":
            print(json.dumps({"type": "times", "seconds": timed(int(req.get("runs", 1)))}), flush=True)
        else:
            print(json.dumps({"type": "error", "message": f"unknown command {req}"}), flush=True)


if __name__ == "__main__":
    main()
