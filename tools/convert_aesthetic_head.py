#!/usr/bin/env python3
"""Converts the LAION aesthetic predictor v2 head (christophschuhmann/improved-aesthetic-predictor,
`sac+logos+ava1-l14-linearMSE.pth`) to `aesthetic_head.safetensors` inside a CLIP ViT-L/14 directory in
transformers' layout (e.g. openai/clip-vit-large-patch14), which is then what `--reward aesthetic` loads:

    python3 tools/convert_aesthetic_head.py --head sac+logos+ava1-l14-linearMSE.pth --clip models/clip-vit-large-patch14
    evosearch score --reward aesthetic --reward-model models/clip-vit-large-patch14 image.png

The published head is the state dict of an nn.Sequential: Linear(768, 1024), Dropout(0.2), Linear(1024, 128),
Dropout(0.2), Linear(128, 64), Dropout(0.1), Linear(64, 16), Linear(16, 1) — no activations — so its keys are
layers.{0,2,4,6,7}.{weight,bias}. The script requires exactly those keys (the "relu" variants of the head, whose
Sequential has ReLUs and other indices, are refused), chained sizes ending in 1, and, when the CLIP directory has a
config.json, an input size equal to its projection_dim. Weights are written as float32, keys unchanged.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

LAYERS = [0, 2, 4, 6, 7]
FILE_NAME = "aesthetic_head.safetensors"


class HeadError(Exception):
    pass


def convert_state_dict(sd):
    """The head's tensors (float32, contiguous) after checking the layout."""
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    expected = {f"layers.{i}.{p}" for i in LAYERS for p in ("weight", "bias")}
    keys = set(sd)
    if keys != expected:
        raise HeadError(f"not the aesthetic predictor v2 head: missing {sorted(expected - keys)}, unexpected {sorted(keys - expected)}")
    width = None
    for i in LAYERS:
        w, b = sd[f"layers.{i}.weight"], sd[f"layers.{i}.bias"]
        if w.dim() != 2 or b.shape != (w.shape[0],):
            raise HeadError(f"layers.{i}: weight {tuple(w.shape)} / bias {tuple(b.shape)} are not a Linear layer")
        if width is not None and w.shape[1] != width:
            raise HeadError(f"layers.{i} takes {w.shape[1]} inputs, the previous layer gives {width}")
        width = w.shape[0]
    if width != 1:
        raise HeadError(f"the last layer gives {width} outputs, expected 1")
    return {k: v.detach().to(torch.float32).contiguous() for k, v in sd.items()}


def convert(head_path, clip_dir):
    sd = torch.load(head_path, map_location="cpu", weights_only=True)
    tensors = convert_state_dict(sd)
    cfg_path = os.path.join(clip_dir, "config.json")
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            projection = json.load(f).get("projection_dim", 512)
        if tensors["layers.0.weight"].shape[1] != projection:
            raise HeadError(f"the head takes {tensors['layers.0.weight'].shape[1]}-dim embeddings, {cfg_path} has projection_dim {projection}")
    os.makedirs(clip_dir, exist_ok=True)
    out = os.path.join(clip_dir, FILE_NAME)
    save_file(tensors, out, metadata={"format": "pt"})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head", required=True, help="the predictor's .pth state dict")
    ap.add_argument("--clip", required=True, help="CLIP ViT-L/14 directory (transformers layout) to write the head into")
    args = ap.parse_args()
    try:
        print("wrote", convert(args.head, args.clip))
    except HeadError as e:
        sys.exit(f"convert_aesthetic_head: {e}")


if __name__ == "__main__":
    main()
