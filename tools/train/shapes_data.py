"""Shared pieces of the shapes-model training scripts: the rendered dataset, the CLIP tokenizer, seeding.

The dataset comes from the Swift renderer (`evosearch shapes render`), never from Python code, so the models
learn exactly the world the verifier checks. Rendered images are cached as one uint8 array under
.cache/shapes/ (git-ignored) keyed by seed and count.
"""
import json
import os
import random
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE = os.path.join(ROOT, ".cache", "shapes")
# The real CLIP BPE vocabulary (49408 tokens), as tools/fixtures/make_tokenizer_fixtures.py builds it from the
# bpe_simple_vocab_16e6.txt.gz file inside the open-clip-torch wheel.
CLIP_VOCAB_DIR = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "tokenizer", "clip")
MAX_TOKENS = 32  # the longest prompt of the grammar is 13 tokens with bos/eos


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evosearch_binary():
    path = os.path.join(ROOT, ".build", "release", "evosearch")
    if not os.path.exists(path):
        print("building evosearch (release) for the renderer …", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--product", "evosearch"], cwd=ROOT, check=True)
    return path


def load_dataset(count, seed):
    """(images uint8 [N, 64, 64, 3], captions list[str], tasks list[str]) rendered by the Swift renderer."""
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, f"seed{seed}-n{count}")
    if not os.path.exists(stem + ".npz"):
        out = stem + "-render"
        subprocess.run([evosearch_binary(), "shapes", "render", "--count", str(count), "--seed", str(seed), "--out", out],
                       check=True)
        from PIL import Image
        records = [json.loads(l) for l in open(os.path.join(out, "captions.jsonl")) if l.strip()]
        images = np.stack([np.asarray(Image.open(os.path.join(out, r["file"])).convert("RGB")) for r in records])
        np.savez(stem + ".npz", images=images, captions=np.array([r["caption"] for r in records]),
                 tasks=np.array([r["task"] for r in records]))
    data = np.load(stem + ".npz")
    return data["images"], [str(c) for c in data["captions"]], [str(t) for t in data["tasks"]]


def load_clips(count, seed, frames=17):
    """(clips uint8 [N, F, 64, 64, 3] memory-mapped, captions list[str], tasks list[str]) of the moving-shapes world,
    rendered by `evosearch shapes render --video` and cached as one .npy (the frames) and one .json (the captions)."""
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, f"video-seed{seed}-n{count}-f{frames}")
    if not os.path.exists(stem + ".json"):
        out = stem + "-render"
        if not os.path.exists(os.path.join(out, "captions.jsonl")):
            subprocess.run([evosearch_binary(), "shapes", "render", "--video", "--frames", str(frames),
                            "--count", str(count), "--seed", str(seed), "--out", out], check=True)
        from PIL import Image
        records = [json.loads(l) for l in open(os.path.join(out, "captions.jsonl")) if l.strip()]
        clips = np.lib.format.open_memmap(stem + ".npy.tmp", mode="w+", dtype=np.uint8,
                                          shape=(len(records), frames, 64, 64, 3))
        for i, r in enumerate(records):
            clips[i] = np.stack([np.asarray(Image.open(os.path.join(out, r["clip"], f"frame-{f:04d}.png")).convert("RGB"))
                                 for f in range(frames)])
        clips.flush(); del clips
        os.replace(stem + ".npy.tmp", stem + ".npy")
        with open(stem + ".json.tmp", "w") as f:
            json.dump({"captions": [r["caption"] for r in records], "tasks": [r["task"] for r in records]}, f)
        os.replace(stem + ".json.tmp", stem + ".json")
        import shutil
        shutil.rmtree(out)
    meta = json.load(open(stem + ".json"))
    return np.load(stem + ".npy", mmap_mode="r"), meta["captions"], meta["tasks"]


def clip_tokenizer():
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer(os.path.join(CLIP_VOCAB_DIR, "vocab.json"), os.path.join(CLIP_VOCAB_DIR, "merges.txt"),
                        pad_token="<|endoftext|>", model_max_length=MAX_TOKENS)
    return tok


def train_sentencepiece(captions, directory, vocab, max_tokens):
    """A SentencePiece Unigram tokenizer trained on the distinct `captions` (`<pad>` 0, `</s>` 1, `<unk>` 2, no
    extra ids), saved in `directory` as T5TokenizerFast (tokenizer.json and spiece.model) and returned."""
    import shutil
    import sentencepiece as spm
    from transformers import T5TokenizerFast
    work = directory + ".spm-work"
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "captions.txt")
    with open(corpus, "w") as f:
        f.write("\n".join(captions) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(work, "spiece"), vocab_size=vocab, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, byte_fallback=False, character_coverage=1.0,
        hard_vocab_limit=False, num_threads=1, minloglevel=2)
    spm_only = os.path.join(work, "spiece-only")
    os.makedirs(spm_only, exist_ok=True)
    shutil.copy(os.path.join(work, "spiece.model"), spm_only)
    tok = T5TokenizerFast.from_pretrained(spm_only, extra_ids=0, model_max_length=max_tokens)
    if os.path.exists(directory):
        shutil.rmtree(directory)
    tok.save_pretrained(directory)
    shutil.copy(os.path.join(work, "spiece.model"), directory)
    shutil.rmtree(work)
    return T5TokenizerFast.from_pretrained(directory)


def tokenize(tok, captions):
    return tok(captions, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt").input_ids


def images_to_tensor(images_uint8):
    """uint8 [N, H, W, 3] → float [N, 3, H, W] in [-1, 1]."""
    x = torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x.contiguous()


def warmup_cosine(optimizer, steps, warmup=200):
    """Linear warm-up over `warmup` steps, then cosine decay to 0 at `steps` (step the scheduler once per step)."""
    import math
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))


def ema_update(pairs, step, decay=0.999):
    """Moves each (ema, model) pair's parameters toward the model's, with the decay ramped up early in training."""
    d = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for ema, model in pairs:
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.lerp_(p, 1 - d)


def transformer_stages(log):
    """Every training stage of a train_wan.py run, first to last, from its training_log.json (a log from before
    stages were recorded is one stage at shift 1)."""
    return log.get("stages") or [{"steps": log["steps"], "batch": log["batch"], "lr": log["lr"], "shift": 1.0,
                                  "seconds": log["seconds"], "restarts": log["restarts"]}]


def save_f16(model, directory):
    """save_pretrained with float16 weights (the config keeps torch_dtype float16)."""
    model.to(torch.float16).save_pretrained(directory, safe_serialization=True)
    model.to(torch.float32)
