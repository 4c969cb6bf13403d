#!/usr/bin/env python3
"""Converts an open_clip CLIP (ViT image tower + built-in text tower) into the CLIP layout EvoSearch loads:
transformers' CLIPModel directory (config.json with text_config/vision_config, model.safetensors with
text_model.* / vision_model.* / text_projection.weight / visual_projection.weight / logit_scale), plus the
preprocessor_config.json and the CLIP BPE tokenizer files (vocab.json, merges.txt, tokenizer_config.json).

HPSv2.1 (the reason this exists):
    python3 tools/convert_open_clip.py --model ViT-H-14 --checkpoint HPS_v2.1_compressed.pt \\
        --reward hpsv2 --out models/hpsv2.1
    evosearch score --reward hpsv2 --reward-model models/hpsv2.1 --prompt "…" image.png

What it does:
  * builds the architecture with open_clip.create_model(MODEL) (no download) and loads the checkpoint into it
    strictly (a `state_dict` entry and `module.` prefixes are unwrapped), so a checkpoint that does not fit the
    architecture is refused;
  * maps every parameter to transformers' name: in_proj_weight/bias split into q/k/v, c_fc/c_proj → fc1/fc2,
    ln_1/ln_2 → layer_norm1/2, ln_pre → pre_layrnorm, ln_post → post_layernorm, ln_final → final_layer_norm,
    conv1 → patch_embedding, and the `x @ proj` matrices (visual.proj, text_projection) transposed into
    nn.Linear weights. Every checkpoint tensor must be used (only the attn_mask buffer is skipped);
  * refuses open_clip features transformers' CLIP has no place for (layer scale, attentional pooling, no ln_pre,
    pooling other than the class token / argmax, a final LayerNorm after pooling, projection bias, custom blocks);
  * loads the result into transformers' CLIPModel (strictly) and checks it gives open_clip's embeddings on a random
    image and a prompt, then saves it with save_pretrained and adds our keys to config.json:
    "evosearch_reward" (the --reward marker, e.g. "hpsv2") and "evosearch_source";
  * preprocessor_config.json: CLIPImageProcessor keys (size/crop = the image size, open_clip's mean/std, bicubic)
    plus "evosearch_backend": "torchvision_transforms" (torchvision transforms on PIL images, as open_clip and HPSv2
    preprocess) and, for --reward hpsv2, "evosearch_resize": "longest_edge_pad" (HPSv2's ResizeMaxSize: longest
    side to the image size, zero padding to a square);
  * text pooling: open_clip takes the state at argmax(token ids); transformers does the same when
    text_config.eos_token_id is 2, which the config says.

Needs torch, transformers==5.24.0, safetensors and open-clip-torch==3.3.0 (install it, torchvision and ftfy with
--no-deps; see tools/torchvision_compat.py).
"""
import argparse
import gzip
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchvision_compat import ensure_torchvision  # noqa: E402


class ConversionError(Exception):
    pass


def _open_clip():
    ensure_torchvision()
    import open_clip

    return open_clip


def _activation_name(module):
    import torch.nn as nn

    name = type(module).__name__
    if name == "QuickGELU":
        return "quick_gelu"
    if isinstance(module, nn.GELU):
        if module.approximate == "tanh":
            return "gelu_pytorch_tanh"
        return "gelu"
    raise ConversionError(f"unsupported MLP activation {name}")


def _tower(blocks, what):
    """Width, heads, MLP width, layer count, activation and LayerNorm eps of a stack of ResidualAttentionBlocks."""
    import torch.nn as nn

    if len(blocks) == 0:
        raise ConversionError(f"{what}: no transformer blocks")
    b = blocks[0]
    for name in ("ls_1", "ls_2"):
        if not isinstance(getattr(b, name, nn.Identity()), nn.Identity):
            raise ConversionError(f"{what}: layer scale ({name}) has no counterpart in transformers' CLIP")
    if not isinstance(b.attn, nn.MultiheadAttention):
        raise ConversionError(f"{what}: custom attention blocks are not supported")
    if hasattr(b, "ln_attn") and not isinstance(b.ln_attn, nn.Identity):
        raise ConversionError(f"{what}: scale_attn layer norms are not supported")
    width = b.attn.embed_dim
    return dict(width=width, heads=b.attn.num_heads, mlp=b.mlp.c_fc.out_features, layers=len(blocks),
                act=_activation_name(b.mlp.gelu), eps=b.ln_1.eps)


def _map_block(sd, src, dst, width, out, used):
    def take(k):
        used.add(src + k)
        return sd[src + k]

    w = take("attn.in_proj_weight")
    bias = take("attn.in_proj_bias")
    for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
        out[f"{dst}self_attn.{name}.weight"] = w[i * width:(i + 1) * width]
        out[f"{dst}self_attn.{name}.bias"] = bias[i * width:(i + 1) * width]
    pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
             "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
    for s, d in pairs.items():
        for p in ("weight", "bias"):
            out[f"{dst}{d}.{p}"] = take(f"{s}.{p}")


def convert_model(model):
    """(transformers CLIPConfig kwargs, state dict in transformers' names) for an open_clip CLIP in eval mode."""
    import torch.nn as nn

    if not hasattr(model, "token_embedding") or not hasattr(model, "visual"):
        raise ConversionError("only open_clip's CLIP with the built-in text tower is supported (not CustomTextCLIP / HF text)")
    v = model.visual
    if type(v).__name__ != "VisionTransformer":
        raise ConversionError(f"image tower {type(v).__name__} is not a ViT")
    if getattr(v, "attn_pool", None) is not None:
        raise ConversionError("attentional pooling is not supported")
    if isinstance(v.ln_pre, nn.Identity):
        raise ConversionError("ViTs without ln_pre are not supported")
    if getattr(v, "pool_type", "tok") != "tok" or getattr(v, "final_ln_after_pool", False):
        raise ConversionError("only class-token pooling with ln_post before pooling is supported")
    if v.proj is None:
        raise ConversionError("the image tower has no projection")
    if getattr(model, "text_pool_type", "argmax") != "argmax":
        raise ConversionError(f"text pooling {model.text_pool_type} is not supported (argmax only)")
    if model.text_projection is None or isinstance(model.text_projection, nn.Linear):
        raise ConversionError("the text projection must be a plain matrix (no bias)")
    if getattr(model, "logit_bias", None) is not None:
        raise ConversionError("a logit_bias (SigLIP-style) has no counterpart in transformers' CLIP")

    sd = {k: t.detach().float() for k, t in model.state_dict().items()}
    used = {k for k in sd if k.endswith("attn_mask")}
    out = {}

    vt = _tower(v.transformer.resblocks, "image tower")
    patch = v.conv1.weight.shape[-1]
    image_size = v.image_size[0] if isinstance(v.image_size, (tuple, list)) else v.image_size
    if isinstance(v.image_size, (tuple, list)) and v.image_size[0] != v.image_size[1]:
        raise ConversionError("non-square image sizes are not supported")
    vision_map = {"visual.class_embedding": "vision_model.embeddings.class_embedding",
                  "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
                  "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight"}
    for s, d in vision_map.items():
        out[d] = sd[s]
        used.add(s)
    for s, d in {"visual.ln_pre": "vision_model.pre_layrnorm", "visual.ln_post": "vision_model.post_layernorm"}.items():
        for p in ("weight", "bias"):
            out[f"{d}.{p}"] = sd[f"{s}.{p}"]
            used.add(f"{s}.{p}")
    for i in range(vt["layers"]):
        _map_block(sd, f"visual.transformer.resblocks.{i}.", f"vision_model.encoder.layers.{i}.", vt["width"], out, used)
    out["visual_projection.weight"] = sd["visual.proj"].t().contiguous()
    used.add("visual.proj")

    tt = _tower(model.transformer.resblocks, "text tower")
    for s, d in {"token_embedding.weight": "text_model.embeddings.token_embedding.weight",
                 "positional_embedding": "text_model.embeddings.position_embedding.weight"}.items():
        out[d] = sd[s]
        used.add(s)
    for p in ("weight", "bias"):
        out[f"text_model.final_layer_norm.{p}"] = sd[f"ln_final.{p}"]
        used.add(f"ln_final.{p}")
    for i in range(tt["layers"]):
        _map_block(sd, f"transformer.resblocks.{i}.", f"text_model.encoder.layers.{i}.", tt["width"], out, used)
    out["text_projection.weight"] = sd["text_projection"].t().contiguous()
    used.add("text_projection")
    out["logit_scale"] = sd["logit_scale"].reshape(())
    used.add("logit_scale")

    unused = sorted(set(sd) - used)
    if unused:
        raise ConversionError(f"{len(unused)} checkpoint tensors have no place in transformers' CLIP: {unused[:5]}")

    vocab, context = sd["token_embedding.weight"].shape[0], sd["positional_embedding"].shape[0]
    config = dict(
        projection_dim=out["visual_projection.weight"].shape[0],
        logit_scale_init_value=float(out["logit_scale"]),
        text_config=dict(vocab_size=vocab, hidden_size=tt["width"], intermediate_size=tt["mlp"],
                         num_hidden_layers=tt["layers"], num_attention_heads=tt["heads"],
                         max_position_embeddings=context, hidden_act=tt["act"], layer_norm_eps=tt["eps"],
                         # eos_token_id 2 makes transformers pool at argmax(input_ids), as open_clip does.
                         eos_token_id=2, bos_token_id=0, pad_token_id=1),
        vision_config=dict(hidden_size=vt["width"], intermediate_size=vt["mlp"], num_hidden_layers=vt["layers"],
                           num_attention_heads=vt["heads"], image_size=image_size, patch_size=patch,
                           hidden_act=vt["act"], layer_norm_eps=vt["eps"]),
    )
    return config, out


# The CLIP BPE vocabulary from open_clip's bundled merges, as OpenAI's / open_clip's SimpleTokenizer builds it.
def _bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = [chr(b) for b in printable]
    n = 0
    for b in range(256):
        if b not in printable:
            chars.append(chr(256 + n))
            n += 1
    return chars


def write_tokenizer(out_dir, context_length):
    open_clip = _open_clip()
    bpe_path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = [tuple(l.split()) for l in lines[1:49152 - 256 - 2 + 1]]
    alphabet = _bytes_to_unicode()
    vocab = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "!"}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, model_max_length=context_length, do_lower_case=True, tokenizer_class="CLIPTokenizer"), f, indent=1)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=1)


def write_preprocessor(out_dir, image_size, mean, std, reward):
    cfg = {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": image_size},
           "resample": 3, "do_center_crop": True, "crop_size": {"height": image_size, "width": image_size},
           "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": list(mean),
           "image_std": list(std), "do_convert_rgb": True, "evosearch_backend": "torchvision_transforms"}
    if reward == "hpsv2":
        cfg["evosearch_resize"] = "longest_edge_pad"
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def convert(model, out_dir, reward=None, source="open_clip", dtype=torch.float32, check=True):
    """Writes `model` (an open_clip CLIP) to `out_dir` in transformers' CLIPModel layout with our extra files."""
    from transformers import CLIPConfig, CLIPModel

    model = model.eval().float()
    kwargs, state = convert_model(model)
    hf = CLIPModel(CLIPConfig(**kwargs)).eval()
    missing, unexpected = hf.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ConversionError(f"transformers' CLIPModel does not take the converted weights: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if check:
        g = torch.Generator().manual_seed(0)
        size = kwargs["vision_config"]["image_size"]
        pixels = torch.randn(2, 3, size, size, generator=g)
        ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 49407] + [0] * 70])[:, :kwargs["text_config"]["max_position_embeddings"]]
        with torch.no_grad():
            ours_i = hf.get_image_features(pixel_values=pixels).pooler_output
            ours_t = hf.get_text_features(input_ids=ids).pooler_output
            ref_i = model.encode_image(pixels)
            ref_t = model.encode_text(ids)
        for name, a, b in (("image", ours_i, ref_i), ("text", ours_t, ref_t)):
            err = ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()
            if err > 1e-4:
                raise ConversionError(f"converted {name} embeddings differ from open_clip's (max rel. error {err:.2e})")
    os.makedirs(out_dir, exist_ok=True)
    hf.to(dtype).save_pretrained(out_dir, safe_serialization=True)
    cfg_path = os.path.join(out_dir, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    if reward:
        cfg["evosearch_reward"] = reward
    cfg["evosearch_source"] = source
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    mean = getattr(model.visual, "image_mean", None) or (0.48145466, 0.4578275, 0.40821073)
    std = getattr(model.visual, "image_std", None) or (0.26862954, 0.26130258, 0.27577711)
    write_preprocessor(out_dir, kwargs["vision_config"]["image_size"], mean, std, reward)
    write_tokenizer(out_dir, kwargs["text_config"]["max_position_embeddings"])
    return out_dir


def load_checkpoint(path):
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        sd = load_file(path)
    else:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    # The causal mask is a non-persistent buffer in current open_clip; older forks (HPSv2's) saved it.
    return {k: v for k, v in sd.items() if not k.endswith("attn_mask")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="open_clip architecture name, e.g. ViT-H-14")
    ap.add_argument("--checkpoint", required=True, help=".pt/.bin/.safetensors state dict (HPS_v2.1_compressed.pt, …)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--reward", choices=["hpsv2"], help="mark the directory for this reward (and use its preprocessing)")
    ap.add_argument("--dtype", choices=["float32", "float16"], default="float32", help="weights dtype on disk")
    args = ap.parse_args()
    open_clip = _open_clip()
    model = open_clip.create_model(args.model, pretrained=None)
    state = load_checkpoint(args.checkpoint)
    model.load_state_dict(state, strict=True)
    try:
        convert(model, args.out, reward=args.reward, source=f"open_clip {args.model} {os.path.basename(args.checkpoint)}",
                dtype=getattr(torch, args.dtype))
    except ConversionError as e:
        sys.exit(f"convert_open_clip: {e}")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
