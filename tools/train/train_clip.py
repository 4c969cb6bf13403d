#!/usr/bin/env python3
"""Trains shapes-clip: a small CLIPModel (transformers layout) on rendered shapes images and their captions.

    python3 tools/train/train_clip.py            # writes models/shapes-clip/

Contrastive loss as CLIP's, except that captions repeat in a batch (the grammar is small), so the targets are
spread uniformly over every pair with the same caption instead of only the diagonal. The vocabulary is the real
CLIP BPE vocabulary; token embeddings of tokens the grammar never uses stay at their (zero) initial value.
Its text tower is also the frozen text encoder of shapes-sd-small and shapes-sd-large.
"""
import argparse
import json
import math
import os
import shutil
import time

import torch
import torch.nn.functional as F
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

import shapes_data as sd

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=os.path.join(sd.ROOT, "models", "shapes-clip"))
ap.add_argument("--steps", type=int, default=1500)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--count", type=int, default=50000)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)

images, captions, tasks = sd.load_dataset(args.count, seed=1)
tok = sd.clip_tokenizer()
unique = sorted(set(captions))
index = {c: i for i, c in enumerate(unique)}
caption_ids = torch.tensor([index[c] for c in captions])
unique_tokens = sd.tokenize(tok, unique)
pixels_all = torch.from_numpy(images).permute(0, 3, 1, 2)  # uint8

config = CLIPConfig(
    text_config=dict(vocab_size=tok.vocab_size + len(tok.get_added_vocab()) - 0, hidden_size=64, intermediate_size=256,
                     num_hidden_layers=3, num_attention_heads=2, max_position_embeddings=sd.MAX_TOKENS,
                     hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
    vision_config=dict(image_size=64, patch_size=8, hidden_size=64, intermediate_size=256, num_hidden_layers=3,
                       num_attention_heads=2, hidden_act="quick_gelu"),
    projection_dim=64,
)
config.text_config.vocab_size = 49408
model = CLIPModel(config)
used = torch.unique(unique_tokens)
with torch.no_grad():  # unused vocabulary rows stay exactly zero (they compress to nothing)
    mask = torch.ones(49408, dtype=torch.bool); mask[used] = False
    model.text_model.embeddings.token_embedding.weight[mask] = 0
processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
mean = torch.tensor(processor.image_mean).view(1, 3, 1, 1)
std = torch.tensor(processor.image_std).view(1, 3, 1, 1)

opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 200) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
gen = torch.Generator().manual_seed(args.seed)
start = time.time(); log = []
for step in range(args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen)
    x = (pixels_all[idx].float() / 255 - mean) / std
    # Light augmentation: none geometric (positions are semantics); tiny colour jitter keeps it robust to model output.
    x = x + 0.05 * torch.randn(x.shape, generator=gen)
    cid = caption_ids[idx]
    out = model(input_ids=unique_tokens[cid], pixel_values=x, return_dict=True)
    same = (cid[:, None] == cid[None, :]).float()
    targets = same / same.sum(1, keepdim=True)
    loss = 0.5 * (torch.sum(-targets * F.log_softmax(out.logits_per_image, 1), 1).mean()
                  + torch.sum(-targets * F.log_softmax(out.logits_per_text, 1), 1).mean())
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    with torch.no_grad():
        model.text_model.embeddings.token_embedding.weight[mask] = 0
    if step % 100 == 0 or step == args.steps - 1:
        acc = (out.logits_per_image.argmax(1) == torch.arange(args.batch)).float()
        acc = same[torch.arange(args.batch), out.logits_per_image.argmax(1)].mean().item()
        print(f"step {step} loss {loss.item():.4f} top1(caption) {acc:.3f} {time.time() - start:.0f}s", flush=True)
        log.append((step, round(loss.item(), 4), round(acc, 3)))

os.makedirs(args.out, exist_ok=True)
model.eval()
sd.save_f16(model, args.out)
tok.save_pretrained(args.out)
processor.save_pretrained(args.out)
json.dump({"steps": args.steps, "batch": args.batch, "lr": args.lr, "dataset": f"{args.count} renders, seed 1",
           "final_loss": log[-1][1], "final_top1": log[-1][2], "seconds": round(time.time() - start), "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
print("wrote", args.out)
