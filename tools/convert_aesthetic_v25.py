#!/usr/bin/env python3
"""Builds the directory EvoSearch's `--reward aesthetic-v2.5` loads from a SigLIP checkpoint in transformers' layout
(the predictor uses google/siglip-so400m-patch14-384) and the aesthetic predictor v2.5 head
(discus0434/aesthetic-predictor-v2-5, `aesthetic_predictor_v2_5.pth`):

    python3 tools/convert_aesthetic_v25.py --siglip models/siglip-so400m-patch14-384 \\
        --head aesthetic_predictor_v2_5.pth --out models/aesthetic-v2.5
    evosearch score --reward aesthetic-v2.5 --reward-model models/aesthetic-v2.5 image.png

The result is the layout `AestheticPredictorV2_5Model.save_pretrained` writes under transformers 5.24 (so a directory
saved by the package itself, plus its preprocessor_config.json, loads too):
  * model.safetensors — the SigLIP vision tower with transformers 5's SiglipVisionModel keys (embeddings.*,
    encoder.layers.N.*, post_layernorm.*, head.* — the attention-pooling head), i.e. a hub checkpoint's
    `vision_model.` prefix removed and its text tower (text_model.*, logit_scale, logit_bias) dropped; and the
    predictor head as layers.scoring_head.{0,2,4,6,8}.{weight,bias} (Linear(hidden, 1024), Linear(1024, 128),
    Linear(128, 64), Linear(64, 16), Linear(16, 1); the Dropouts between have no weights). Any other key is an error.
  * config.json — the SiglipVisionConfig (the `vision_config` of a full SiglipConfig) with "architectures":
    ["AestheticPredictorV2_5Model"] and "evosearch_reward": "aesthetic-v2.5".
  * preprocessor_config.json — copied from the SigLIP directory (SiglipImageProcessor: resize to 384×384 bicubic,
    rescale, normalise with mean = std = 0.5; the predictor's processor is that class).

Needs torch and safetensors only.
"""
import argparse
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

HEAD_LAYERS = [0, 2, 4, 6, 8]


class ConversionError(Exception):
    pass


def load_siglip(directory):
    """(config dict, {key: tensor}) of a transformers SigLIP directory (single or sharded safetensors)."""
    cfg_path = os.path.join(directory, "config.json")
    if not os.path.exists(cfg_path):
        raise ConversionError(f"{cfg_path}: not found (expected a SigLIP directory in transformers' layout)")
    with open(cfg_path) as f:
        config = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    tensors = {}
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        for shard in shards:
            tensors.update(load_file(os.path.join(directory, shard)))
    elif os.path.exists(os.path.join(directory, "model.safetensors")):
        tensors = load_file(os.path.join(directory, "model.safetensors"))
    else:
        raise ConversionError(f"{directory}: no model.safetensors (or sharded index)")
    return config, tensors


def vision_part(config, tensors):
    """The vision config and the vision tower's tensors without the `vision_model.` prefix."""
    vision_cfg = config.get("vision_config", config)
    if vision_cfg.get("model_type", "siglip_vision_model") not in ("siglip_vision_model", "siglip"):
        raise ConversionError(f"config model_type {vision_cfg.get('model_type')!r} is not SigLIP")
    out = {}
    prefixed = any(k.startswith("vision_model.") for k in tensors)
    for k, v in tensors.items():
        if prefixed:
            if k.startswith("vision_model."):
                out[k[len("vision_model."):]] = v
            elif not (k.startswith("text_model.") or k in ("logit_scale", "logit_bias")):
                raise ConversionError(f"unexpected key {k!r} in the SigLIP checkpoint")
        elif k.startswith("layers.scoring_head."):
            continue  # already a predictor directory: the --head replaces it
        else:
            out[k] = v
    out = {k: v for k, v in out.items() if not k.endswith("position_ids")}
    if "embeddings.patch_embedding.weight" not in out:
        raise ConversionError("no vision_model.embeddings.patch_embedding.weight: not a SigLIP vision checkpoint")
    if not vision_cfg.get("vision_use_head", True) or "head.probe" not in out:
        raise ConversionError("the SigLIP vision tower has no attention-pooling head (vision_use_head), which the predictor needs")
    return vision_cfg, out


def head_tensors(sd, hidden):
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = {k[len("layers."):] if k.startswith("layers.") else k: v for k, v in sd.items()}
    expected = {f"scoring_head.{i}.{p}" for i in HEAD_LAYERS for p in ("weight", "bias")}
    if set(sd) != expected:
        raise ConversionError(f"not the aesthetic predictor v2.5 head: missing {sorted(expected - set(sd))}, "
                              f"unexpected {sorted(set(sd) - expected)}")
    width = hidden
    for i in HEAD_LAYERS:
        w, b = sd[f"scoring_head.{i}.weight"], sd[f"scoring_head.{i}.bias"]
        if w.dim() != 2 or w.shape[1] != width or b.shape != (w.shape[0],):
            raise ConversionError(f"scoring_head.{i}: weight {tuple(w.shape)} / bias {tuple(b.shape)} do not take {width} inputs")
        width = w.shape[0]
    if width != 1:
        raise ConversionError(f"the last layer gives {width} outputs, expected 1")
    return {f"layers.{k}": v for k, v in sd.items()}


def convert(siglip_dir, head_path, out_dir, dtype=torch.float32):
    config, tensors = load_siglip(siglip_dir)
    vision_cfg, vision = vision_part(config, tensors)
    head = head_tensors(torch.load(head_path, map_location="cpu", weights_only=True), vision_cfg.get("hidden_size", 768))
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.detach().to(dtype).contiguous() for k, v in {**vision, **head}.items()},
              os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    cfg = {k: v for k, v in vision_cfg.items() if k not in ("architectures", "_name_or_path")}
    cfg.update({"architectures": ["AestheticPredictorV2_5Model"], "model_type": "siglip_vision_model",
                "evosearch_reward": "aesthetic-v2.5"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    pre = os.path.join(siglip_dir, "preprocessor_config.json")
    if not os.path.exists(pre):
        raise ConversionError(f"{pre}: not found (the SigLIP image processor settings)")
    shutil.copy(pre, os.path.join(out_dir, "preprocessor_config.json"))
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--siglip", required=True, help="SigLIP directory (transformers layout, e.g. siglip-so400m-patch14-384)")
    ap.add_argument("--head", required=True, help="aesthetic_predictor_v2_5.pth")
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    try:
        convert(args.siglip, args.head, args.out, getattr(torch, args.dtype))
    except ConversionError as e:
        sys.exit(f"convert_aesthetic_v25: {e}")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
