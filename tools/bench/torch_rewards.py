#!/usr/bin/env python3
"""PyTorch CPU side of EvoSearch's ImageReward and aesthetic-v2.5 scoring benchmark (`benchRewardScoring` in
Sources/EvoSearchCLI/BenchModelsCommand.swift).

Scores a population of decoded images (default 8 at 224 px) with random-weight models of realistic width, through
the Python packages as their users call them:
  imagereward     image-reward 1.5's ImageReward with BLIP ViT-B/16 (768 wide, 12 blocks, 12 heads, 224 px) and
                  BLIP's BERT-base with cross-attention (768, 12 layers; a small vocabulary — its size only changes
                  the embedding table); the published model has ViT-L/16, about 3.5× the vision compute. Timed two
                  ways: `inference_rank(prompt, images)` (the package's API: one forward per image) and "batched"
                  (the package's modules on the whole population at once: transform, visual_encoder, text_encoder,
                  mlp, normalisation).
  aesthetic-v2.5  aesthetic-predictor-v2-5's AestheticPredictorV2_5Model on a SigLIP base-patch16-224-shaped
                  vision tower (768, 12 layers, 12 heads, MLP 3072, 224 px) with its processor; the published
                  predictor uses so400m-patch14-384 (1152 wide, 27 layers, 729 tokens), about 16× the compute.

  1. builds the model once in <cache>/<reward>-bench/ (random weights, converted to our layout by
     tools/convert_imagereward.py / tools/convert_aesthetic_v25.py, float16 — the PyTorch side runs the same
     f16-rounded weights in float32);
  2. writes the images to <cache>/reward-bench-images-<N>x<S>.safetensors ("images" [N, 3, S, S], values k/255);
  3. prints {"type": "ready", model_dir, images_file, prompt, scores, threads}, then answers {"cmd": "time",
     "runs": k} with {"type": "times", "seconds": [...], "batched_seconds": [...]} until {"cmd": "quit"}.

Needs torch, transformers, safetensors, pillow, and (with --no-deps) torchvision, timm==0.6.13, fairscale==0.4.13,
image-reward==1.5, aesthetic-predictor-v2-5==2024.12.18.1. Run from the repository root:
    python3 tools/bench/torch_rewards.py --reward imagereward --runs 2
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_clip import build_images  # noqa: E402  (the same image population as the CLIP scoring benchmark)
PROMPT = "a photo of a red fox in the snow, highly detailed"
VERSION = {"imagereward": "blip-vitb16-bertbase-random-v1", "aesthetic-v2.5": "siglip-base224-random-v1"}


def build_imagereward(path):
    import convert_imagereward
    import make_imagereward_fixtures as fx

    pkg = fx.load_package()
    import torch.nn as nn

    work = tempfile.mkdtemp()
    vocab = fx.make_vocab()
    vocab_path = os.path.join(work, "vocab.txt")
    with open(vocab_path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    tokenizer, _ = fx.make_tokenizer(work)
    vit = pkg.VisionTransformer(img_size=224, patch_size=16, embed_dim=768, depth=12, num_heads=12)
    config = pkg.BertConfig(vocab_size=len(vocab) + 2, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=3072, max_position_embeddings=512, layer_norm_eps=1e-12,
                            hidden_act="gelu", pad_token_id=0, add_cross_attention=True)
    config.encoder_width = 768
    blip = nn.Module()
    blip.visual_encoder, blip.tokenizer = vit, tokenizer
    blip.text_encoder = pkg.BertModel(config=config, add_pooling_layer=False)
    model = pkg.ImageReward.__new__(pkg.ImageReward)
    nn.Module.__init__(model)
    model.device, model.blip, model.preprocess, model.mlp = "cpu", blip, pkg.transform(224), pkg.MLP(768)
    model.mean, model.std = fx.SCORE_MEAN, fx.SCORE_STD
    torch.manual_seed(0)
    fx.randomize(model, 11)
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        convert_imagereward.convert(model.state_dict(), path, vocab_path, med_config=config.to_dict(), vision_heads=12,
                                    dtype=torch.float16, source="random ImageReward ViT-B/16 (bench)")
    shutil.rmtree(work)
    return model.eval()


def build_aesthetic(path):
    from torchvision_compat import ensure_torchvision

    ensure_torchvision()
    import convert_aesthetic_v25
    import make_imagereward_fixtures as fx
    from aesthetic_predictor_v2_5 import AestheticPredictorV2_5Head, convert_v2_5_from_siglip
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, image_size=224,
                  patch_size=16, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    text = dict(vocab_size=64, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=16, projection_size=768)
    work = tempfile.mkdtemp()
    siglip_dir = os.path.join(work, "siglip")
    siglip = fx.randomize(SiglipModel(SiglipConfig(vision_config=vision, text_config=text)), 21)
    siglip.save_pretrained(siglip_dir)
    SiglipImageProcessor(size={"height": 224, "width": 224}).save_pretrained(siglip_dir)
    head_path = os.path.join(work, "head.pth")
    torch.save(fx.randomize(AestheticPredictorV2_5Head(siglip.config.vision_config), 22).state_dict(), head_path)
    model, processor = convert_v2_5_from_siglip(head_path, encoder_model_name=siglip_dir)
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        convert_aesthetic_v25.convert(siglip_dir, head_path, path, dtype=torch.float16)
    shutil.rmtree(work)
    return model.to(torch.float32).eval(), processor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reward", choices=sorted(VERSION), required=True)
    ap.add_argument("--cache-dir", default=os.path.join(ROOT, ".bench-cache"))
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from PIL import Image

    os.makedirs(args.cache_dir, exist_ok=True)
    model_dir = os.path.abspath(os.path.join(args.cache_dir, f"{args.reward}-bench"))
    marker = os.path.join(model_dir, "bench-version.txt")
    if not (os.path.exists(marker) and open(marker).read() == VERSION[args.reward]):
        shutil.rmtree(model_dir, ignore_errors=True)
    # The model is rebuilt from its seeds in every run (it must live in PyTorch anyway); the converted copy for the
    # Swift side is written only when missing.
    if args.reward == "imagereward":
        model = build_imagereward(model_dir)
    else:
        model, processor = build_aesthetic(model_dir)
    with open(marker, "w") as f:
        f.write(VERSION[args.reward])
    images_file = os.path.abspath(os.path.join(args.cache_dir, f"reward-bench-images-{args.images}x{args.size}.safetensors"))
    images = build_images(images_file, args.images, args.size)

    def pil():
        arrays = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        return [Image.fromarray(a) for a in arrays]

    def score():
        with torch.inference_mode():
            if args.reward == "imagereward":
                return torch.tensor(model.inference_rank(PROMPT, pil())[1])
            pixels = processor(images=pil(), return_tensors="pt").pixel_values
            return model(pixels).logits[:, 0]

    def score_batched():
        if args.reward != "imagereward":
            return None
        with torch.inference_mode():
            pixels = torch.stack([model.preprocess(im) for im in pil()])
            emb = model.blip.visual_encoder(pixels)
            tok = model.blip.tokenizer(PROMPT, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
            n = pixels.shape[0]
            out = model.blip.text_encoder(tok.input_ids.repeat(n, 1), attention_mask=tok.attention_mask.repeat(n, 1),
                                          encoder_hidden_states=emb,
                                          encoder_attention_mask=torch.ones(emb.shape[:-1], dtype=torch.long),
                                          return_dict=True)
            return ((model.mlp(out.last_hidden_state[:, 0]) - model.mean) / model.std)[:, 0]

    scores = score()
    batched = score_batched()
    if batched is not None:
        assert torch.allclose(scores, batched, atol=1e-4), (scores, batched)
    print(json.dumps({"type": "ready", "model_dir": model_dir, "images_file": images_file, "prompt": PROMPT,
                      "threads": args.threads, "scores": [float(s) for s in scores]}), flush=True)

    def timed(fn, runs):
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
        return out

    def reply(runs):
        r = {"type": "times", "seconds": timed(score, runs)}
        if args.reward == "imagereward":
            r["batched_seconds"] = timed(score_batched, runs)
        return r

    if not args.serve:
        print(json.dumps(reply(args.runs)), flush=True)
        return
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("cmd") == "quit":
            break
        if req.get("cmd") == "time":
            print(json.dumps(reply(int(req.get("runs", 1)))), flush=True)
        else:
            print(json.dumps({"type": "error", "message": f"unknown command {req}"}), flush=True)


if __name__ == "__main__":
    main()
