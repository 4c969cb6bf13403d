#!/usr/bin/env python3
"""Converts an ImageReward checkpoint (THUDM's `ImageReward.pt`, the state dict of the `ImageReward` module of the
image-reward package) into the directory EvoSearch's `--reward imagereward` loads:

    python3 tools/convert_imagereward.py --checkpoint ImageReward.pt --vocab bert-base-uncased/vocab.txt \\
        [--med-config med_config.json] --out models/imagereward
    evosearch score --reward imagereward --reward-model models/imagereward --prompt "…" image.png

The package fetches its BERT vocabulary (`bert-base-uncased`) and `med_config.json` from a model hub at run time;
here you bring them: --vocab is required (the `vocab.txt` of bert-base-uncased), --med-config is optional (sizes
are read from the weights; without it the attention heads, layer-norm epsilon and activation take BERT-base's
values: 12 heads, 1e-12, gelu).

What it writes (keys in our layout):
  * model.safetensors —
      visual_encoder.*   BLIP's ViT (timm VisionTransformer) renamed to the CLIP encoder layout the Swift code shares
                         with CLIP and SigLIP: cls_token → embeddings.class_embedding [D], pos_embed →
                         embeddings.position_embedding.weight [T, D], patch_embed.proj → embeddings.patch_embedding,
                         blocks.N.norm1/norm2 → encoder.layers.N.layer_norm1/2, blocks.N.attn.qkv split into
                         self_attn.q_proj/k_proj/v_proj, attn.proj → self_attn.out_proj, mlp.fc1/fc2 unchanged,
                         norm → post_layernorm (applied to every token);
      text_encoder.*     BLIP's BERT with cross-attention (med.py's BertModel), keys unchanged;
      mlp.layers.{0,2,4,6,7}.*   the reward head, keys unchanged.
    `blip.vision_proj` / `blip.text_proj` (not used by ImageReward.score) and the `position_ids` buffer are dropped;
    any other key is an error, as is a missing one.
  * config.json — "evosearch_reward": "imagereward", "vision_config" (hidden_size, intermediate_size,
    num_hidden_layers, num_attention_heads, image_size, patch_size, layer_norm_eps 1e-6, hidden_act gelu),
    "text_config" (the med config with sizes from the weights and encoder_width = the ViT width), "score_mean" and
    "score_std" (ImageReward's published normalisation), "max_length" 35 (ImageReward.score's tokenizer call).
  * vocab.txt (copied), tokenizer_config.json (uncased BERT) and added_tokens.json ([DEC] and [ENC], which BLIP's
    init_tokenizer adds after the vocabulary).
  * preprocessor_config.json — CLIPImageProcessor keys for ImageReward's torchvision transform (Resize(image_size,
    bicubic) and CenterCrop on PIL images, ToTensor, Normalize with OpenAI's CLIP mean/std) with
    "evosearch_backend": "torchvision_transforms".

Needs torch and safetensors only (not the image-reward package).
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch
from safetensors.torch import save_file

SCORE_MEAN = 0.16717362830052426
SCORE_STD = 1.0333394966054072
MAX_LENGTH = 35
HEAD_LAYERS = [0, 2, 4, 6, 7]
OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
# BLIP's create_vit: ViT-B (768) has 12 heads, ViT-L (1024) 16; other widths need --vision-heads.
VISION_HEADS = {768: 12, 1024: 16}
BERT_DEFAULTS = dict(num_attention_heads=12, layer_norm_eps=1e-12, hidden_act="gelu", pad_token_id=0)


class ConversionError(Exception):
    pass


def _unwrap(sd):
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ConversionError(f"expected a state dict, got {type(sd).__name__}")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _take(sd, used, key, shape=None):
    if key not in sd:
        raise ConversionError(f"missing key {key!r}")
    t = sd[key]
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise ConversionError(f"{key!r} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    used.add(key)
    return t


def convert_state_dict(sd, med_config=None, vision_heads=None):
    """(tensors in our layout, config dict). `sd` is ImageReward's state dict (keys blip.…, mlp.…)."""
    sd = _unwrap(sd)
    used = set()
    v = "blip.visual_encoder."
    cls = _take(sd, used, v + "cls_token")
    if cls.dim() != 3 or cls.shape[:2] != (1, 1):
        raise ConversionError(f"{v}cls_token has shape {tuple(cls.shape)}, expected (1, 1, D)")
    d = cls.shape[2]
    patch_w = _take(sd, used, v + "patch_embed.proj.weight")
    if patch_w.dim() != 4 or patch_w.shape[0] != d or patch_w.shape[2] != patch_w.shape[3]:
        raise ConversionError(f"{v}patch_embed.proj.weight has shape {tuple(patch_w.shape)}, expected ({d}, C, P, P)")
    patch = patch_w.shape[2]
    pos = _take(sd, used, v + "pos_embed")
    grid = math.isqrt(pos.shape[1] - 1)
    if pos.dim() != 3 or pos.shape[0] != 1 or pos.shape[2] != d or grid * grid != pos.shape[1] - 1:
        raise ConversionError(f"{v}pos_embed has shape {tuple(pos.shape)}, expected (1, 1 + g², {d})")
    depth = 0
    while f"{v}blocks.{depth}.norm1.weight" in sd:
        depth += 1
    if depth == 0:
        raise ConversionError(f"no {v}blocks.0.* keys: not an ImageReward / BLIP checkpoint")
    heads = vision_heads or VISION_HEADS.get(d)
    if heads is None or d % heads:
        raise ConversionError(f"ViT width {d}: pass --vision-heads (BLIP uses 12 for 768 and 16 for 1024)")
    inter = sd.get(f"{v}blocks.0.mlp.fc1.weight", torch.empty(0, 0)).shape[0]

    out = {}
    o = "visual_encoder."
    out[o + "embeddings.class_embedding"] = cls.reshape(d)
    out[o + "embeddings.patch_embedding.weight"] = patch_w
    out[o + "embeddings.patch_embedding.bias"] = _take(sd, used, v + "patch_embed.proj.bias", (d,))
    out[o + "embeddings.position_embedding.weight"] = pos.reshape(pos.shape[1], d)
    for i in range(depth):
        b, ob = f"{v}blocks.{i}.", f"{o}encoder.layers.{i}."
        for src, dst in (("norm1", "layer_norm1"), ("norm2", "layer_norm2")):
            out[ob + dst + ".weight"] = _take(sd, used, b + src + ".weight", (d,))
            out[ob + dst + ".bias"] = _take(sd, used, b + src + ".bias", (d,))
        qkv_w = _take(sd, used, b + "attn.qkv.weight", (3 * d, d))
        qkv_b = _take(sd, used, b + "attn.qkv.bias", (3 * d,))
        for k, name in enumerate(("q_proj", "k_proj", "v_proj")):
            out[ob + f"self_attn.{name}.weight"] = qkv_w[k * d:(k + 1) * d]
            out[ob + f"self_attn.{name}.bias"] = qkv_b[k * d:(k + 1) * d]
        out[ob + "self_attn.out_proj.weight"] = _take(sd, used, b + "attn.proj.weight", (d, d))
        out[ob + "self_attn.out_proj.bias"] = _take(sd, used, b + "attn.proj.bias", (d,))
        out[ob + "mlp.fc1.weight"] = _take(sd, used, b + "mlp.fc1.weight", (inter, d))
        out[ob + "mlp.fc1.bias"] = _take(sd, used, b + "mlp.fc1.bias", (inter,))
        out[ob + "mlp.fc2.weight"] = _take(sd, used, b + "mlp.fc2.weight", (d, inter))
        out[ob + "mlp.fc2.bias"] = _take(sd, used, b + "mlp.fc2.bias", (d,))
    out[o + "post_layernorm.weight"] = _take(sd, used, v + "norm.weight", (d,))
    out[o + "post_layernorm.bias"] = _take(sd, used, v + "norm.bias", (d,))

    t = "blip.text_encoder."
    word = _take(sd, used, t + "embeddings.word_embeddings.weight")
    vocab_size, hidden = word.shape
    positions = _take(sd, used, t + "embeddings.position_embeddings.weight").shape[0]
    layers = 0
    while f"{t}encoder.layer.{layers}.attention.self.query.weight" in sd:
        layers += 1
    if layers == 0:
        raise ConversionError(f"no {t}encoder.layer.0.* keys: not an ImageReward / BLIP checkpoint")
    if f"{t}encoder.layer.0.crossattention.self.key.weight" not in sd:
        raise ConversionError(f"no {t}encoder.layer.0.crossattention.*: ImageReward's BERT needs cross-attention")
    enc_width = sd[f"{t}encoder.layer.0.crossattention.self.key.weight"].shape[1]
    if enc_width != d:
        raise ConversionError(f"the text encoder's cross-attention takes width {enc_width}, the ViT gives {d}")
    text_inter = sd.get(f"{t}encoder.layer.0.intermediate.dense.weight", torch.empty(0, 0)).shape[0]
    for key in sd:
        if key.startswith(t) and not key.endswith("position_ids"):
            out["text_encoder." + key[len(t):]] = sd[key]
            used.add(key)
    for i in HEAD_LAYERS:
        for p in ("weight", "bias"):
            out[f"mlp.layers.{i}.{p}"] = _take(sd, used, f"mlp.layers.{i}.{p}")
    if out["mlp.layers.0.weight"].shape[1] != hidden:
        raise ConversionError(f"mlp.layers.0 takes {out['mlp.layers.0.weight'].shape[1]} inputs, the text encoder gives {hidden}")

    dropped = {k for k in sd if k.startswith(("blip.vision_proj.", "blip.text_proj.")) or k.endswith("position_ids")}
    unexpected = sorted(set(sd) - used - dropped)
    if unexpected:
        shown = ", ".join(unexpected[:5]) + (f", … ({len(unexpected) - 5} more)" if len(unexpected) > 5 else "")
        raise ConversionError(f"{len(unexpected)} unexpected key(s): {shown}")

    text = dict(BERT_DEFAULTS)
    if med_config:
        text.update({k: med_config[k] for k in ("num_attention_heads", "layer_norm_eps", "hidden_act", "pad_token_id")
                     if k in med_config})
        for k, have in (("hidden_size", hidden), ("vocab_size", vocab_size), ("num_hidden_layers", layers),
                        ("max_position_embeddings", positions), ("intermediate_size", text_inter)):
            if k in med_config and med_config[k] != have:
                raise ConversionError(f"med config {k} = {med_config[k]}, the weights have {have}")
    text.update(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, intermediate_size=text_inter,
                max_position_embeddings=positions, encoder_width=d, add_cross_attention=True)
    config = {
        "architectures": ["ImageReward"],
        "evosearch_reward": "imagereward",
        "vision_config": dict(hidden_size=d, intermediate_size=inter, num_hidden_layers=depth, num_attention_heads=heads,
                              image_size=grid * patch, patch_size=patch, num_channels=patch_w.shape[1],
                              layer_norm_eps=1e-6, hidden_act="gelu"),
        "text_config": text,
        "score_mean": SCORE_MEAN,
        "score_std": SCORE_STD,
        "max_length": MAX_LENGTH,
    }
    return out, config


def read_vocab(path):
    with open(path, encoding="utf-8") as f:
        tokens = f.read().split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    return tokens


def convert(state_dict, out_dir, vocab_path, med_config=None, vision_heads=None, dtype=torch.float32, source=None):
    tensors, config = convert_state_dict(state_dict, med_config, vision_heads)
    vocab = read_vocab(vocab_path)
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"):
        if special not in vocab:
            raise ConversionError(f"{vocab_path}: no {special} token: not a BERT vocab.txt")
    # BLIP's init_tokenizer adds [DEC] (bos) and [ENC] after the vocabulary; the embedding has rows for both.
    if len(vocab) + 2 != config["text_config"]["vocab_size"]:
        raise ConversionError(f"{vocab_path} has {len(vocab)} tokens; the text encoder's {config['text_config']['vocab_size']} "
                              "embedding rows need vocab + [DEC] + [ENC] = that minus 2 (bert-base-uncased has 30522)")
    if source:
        config["evosearch_source"] = source
    os.makedirs(out_dir, exist_ok=True)
    save_file({k: v.detach().to(dtype).contiguous() for k, v in tensors.items()},
              os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copy(vocab_path, os.path.join(out_dir, "vocab.txt"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "tokenize_chinese_chars": True,
                   "strip_accents": None, "model_max_length": 512}, f, indent=2)
    with open(os.path.join(out_dir, "added_tokens.json"), "w") as f:
        json.dump({"[DEC]": len(vocab), "[ENC]": len(vocab) + 1}, f, indent=2)
    size = config["vision_config"]["image_size"]
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": size},
                   "resample": 3, "do_center_crop": True, "crop_size": {"height": size, "width": size},
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                   "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD,
                   "evosearch_backend": "torchvision_transforms"}, f, indent=2)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="ImageReward.pt (a state dict)")
    ap.add_argument("--vocab", required=True, help="bert-base-uncased vocab.txt")
    ap.add_argument("--med-config", help="BLIP's med_config.json (optional)")
    ap.add_argument("--vision-heads", type=int, help="ViT attention heads (default: 12 for width 768, 16 for 1024)")
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    try:
        sd = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        med = None
        if args.med_config:
            with open(args.med_config) as f:
                med = json.load(f)
        convert(sd, args.out, args.vocab, med, args.vision_heads, getattr(torch, args.dtype),
                source=os.path.basename(args.checkpoint))
    except ConversionError as e:
        sys.exit(f"convert_imagereward: {e}")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
