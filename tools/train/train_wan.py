#!/usr/bin/env python3
"""Trains shapes-wan-small or shapes-wan-large: a WanTransformer3DModel with a UMT5 encoder trained alongside it.

    python3 tools/train/train_wan.py --encode-only --threads 2   # latents of the clips (after train_wan_vae.py)
    python3 tools/train/train_wan.py --size small --shift 3 --steps 5000
    python3 tools/train/train_wan.py --size small --init .cache/shapes/wan-small --shift 3 --steps 9000 --lr 5e-4 \
        --out .cache/shapes/wan-small-stage2   # its second stage, as train_all.sh runs it
    python3 tools/train/train_wan.py --size large --shift 3 --steps 3500

Wan 2.1's text-to-video recipe at toy scale, by rectified flow on rendered moving-shapes clips (17 frames, 64×64):
- latents: the shapes-wan VAE's posterior mean (.cache/shapes/wan-vae, train_wan_vae.py), normalised per channel
  as WanPipeline does, (z − latents_mean) / latents_std: 16 × 5 × 16 × 16;
- text: a UMT5 encoder (gated-GELU, per-layer relative position bias) trained from scratch with the transformer on
  the ids of a SentencePiece Unigram tokenizer trained here on the caption grammar, 48 tokens with the attention
  mask and the states past the prompt's tokens zeroed, as WanPipeline encodes prompts; the caption is replaced by
  the empty prompt 10% of the time so classifier-free guidance on the (empty) negative prompt works;
- objective: x_σ = (1 − σ)·x0 + σ·ε with σ logit-normal(0, 1), shifted σ ↦ k·σ / (1 + (k − 1)·σ) by `--shift k`
  as the sampler's flow_shift shifts its grid, timestep 1000·σ (the scheduler's timesteps); the transformer
  predicts ε − x0 (flow_prediction); MSE. Consecutive frames are nearly alike, so a clip keeps its layout at
  noise levels that erase a still image's, and the layout is decided at σ > 0.9, which unshifted σ reaches in
  1.4 % of batches; training at shift 3 from the start (both sizes; the small one then a second stage at shift 3)
  raises the held-out accuracy of plain samples (docs/BENCHMARKS.md), and export_wan_pipeline.py gives the
  sampler the same flow_shift;
- AdamW with warm-up and cosine decay, gradient clipping 1; the saved weights are exponential moving averages
  (decay 0.999) of the transformer and the encoder;
- a checkpoint every 100 steps (.cache/shapes/wan-<size>/checkpoint.pt): the same command resumes an interrupted run,
  and a larger --steps extends a run (the cosine is recomputed over the new length and the learning rate re-warmed
  over 50 steps from the step reached; the log records the extension);
- `--init DIR` starts from a finished run's weights, or an exported models/shapes-wan-* pipeline's (its
  transformer, text encoder and tokenizer; fresh AdamW moments and averages), and the log lists every stage;
- `--pause-after K` ends a run after step K with a portable snapshot small enough to keep in git (the weights and
  their averages in f16, the tokenizer, the step and the sampler's state; no optimizer moments), and
  `--resume-from SNAPSHOT` continues it to the end on another machine: fresh AdamW moments, the learning rate
  re-warmed over 50 steps at its place on the schedule. The log records every pause and extension.
The two sizes differ in patch size, width and depth: small takes 4×4 latent patches (80 video tokens, 2 blocks ×
256, as wide as a patch's 256 values so the embedding loses nothing), large 2×2 patches (320 video tokens, 6 blocks
× 160), which makes a large forward several times a small one's time here (docs/BENCHMARKS.md), as Wan 2.1's 14B
model is ≈ 10× its 1.3B one.

Writes .cache/shapes/wan-<size>/{transformer,text_encoder,tokenizer,training_log.json}; then
tools/train/export_wan_pipeline.py assembles models/shapes-wan-<size>.
"""
import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

ensure_torchvision_if_installed()  # a --no-deps CUDA torchvision next to the CPU torch breaks transformers' imports

from diffusers import AutoencoderKLWan, WanTransformer3DModel  # noqa: E402
from transformers import UMT5Config, UMT5EncoderModel  # noqa: E402

import shapes_data as sd  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_wan_transformer_fixtures import load_sharded  # noqa: E402

MAX_TOKENS = 48  # the longest caption of the video grammar is 32 pieces with </s>
SIZES = {
    "small": dict(patch_size=(1, 4, 4), num_attention_heads=8, attention_head_dim=32, ffn_dim=512, num_layers=2),
    "large": dict(patch_size=(1, 2, 2), num_attention_heads=8, attention_head_dim=20, ffn_dim=640, num_layers=6),
}
DEFAULT_STEPS = {"small": 14000, "large": 3500}
UMT5_CONFIG = dict(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, feed_forward_proj="gated-gelu",
                   relative_attention_num_buckets=32, relative_attention_max_distance=64, dropout_rate=0.0,
                   is_encoder_decoder=False, use_cache=False, pad_token_id=0, eos_token_id=1)

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--size", choices=SIZES, default="small")
ap.add_argument("--encode-only", action="store_true", help="only write the cached latents of the clips")
ap.add_argument("--steps", type=int, default=None, help="default: 14000 (small), 3500 (large)")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--lr", type=float, default=1e-3)
ap.add_argument("--count", type=int, default=16000, help="rendered clips (seed 1)")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--vocab", type=int, default=96, help="SentencePiece vocabulary size")
ap.add_argument("--shift", type=float, default=1.0, help="σ shift k of the training noise levels (default 1)")
ap.add_argument("--init", default=None, metavar="DIR", help="a finished run's output or an exported "
                "models/shapes-wan-* pipeline (its transformer, text encoder and tokenizer) to train from, e.g. a "
                "second stage at a larger --shift")
ap.add_argument("--vae", default=os.path.join(sd.CACHE, "wan-vae"))
ap.add_argument("--out", default=None)
ap.add_argument("--pause-after", type=int, default=None, metavar="K",
                help="stop after step K, writing a portable snapshot to <out>/snapshot (at once, from the "
                     "checkpoint, when the run has passed K)")
ap.add_argument("--resume-from", default=None, metavar="SNAPSHOT", help="continue a --pause-after snapshot")
args = ap.parse_args()
args.steps = args.steps or DEFAULT_STEPS[args.size]
args.out = args.out or os.path.join(sd.CACHE, f"wan-{args.size}")
torch.set_num_threads(args.threads)
sd.seed_everything(args.seed)

clips, captions, _ = sd.load_clips(args.count, seed=1)


def weights_digest(directory):
    """A digest of a saved model's tensors (names, dtypes, values), independent of the file's layout and metadata."""
    import hashlib
    from safetensors.torch import load_file
    h = hashlib.sha256()
    for name, tensor in sorted(load_file(os.path.join(directory, "diffusion_pytorch_model.safetensors")).items()):
        h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        h.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


vae_digest = weights_digest(args.vae)


def normalised_latents():
    """The VAE's posterior means of every clip, (z − mean) / std per channel, cached under a digest of the VAE's
    weights (so a retrained VAE is never paired with another's latents): [N, 16, 5, 16, 16]."""
    path = os.path.join(sd.CACHE, f"latents-wan-vae-{vae_digest}-n{args.count}.pt")
    if not os.path.exists(path):
        vae = AutoencoderKLWan.from_pretrained(args.vae, torch_dtype=torch.float32).eval()
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        out, start = [], time.time()
        with torch.no_grad():
            for i in range(0, len(clips), 32):
                x = torch.from_numpy(np.array(clips[i:i + 32])).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
                out.append(((vae.encode(x).latent_dist.mean - mean) / std).half())
                if i % 1600 == 0:
                    print(f"encoded {i}/{len(clips)} clips {time.time() - start:.0f}s", flush=True)
        torch.save(torch.cat(out), path + ".tmp")
        os.replace(path + ".tmp", path)
    return torch.load(path).float()


latents = normalised_latents()
print("latents", tuple(latents.shape), "std", float(latents.std()), flush=True)
if args.encode_only:
    sys.exit(0)
os.makedirs(args.out, exist_ok=True)

unique = sorted(set(captions))
index = {c: i for i, c in enumerate(unique)}
caption_ids = torch.tensor([index[c] for c in captions])
empty_id = len(unique)
if args.init:
    # A run's output keeps its log at the top, an exported pipeline (models/shapes-wan-*) under transformer/.
    init_log = next((p for p in (os.path.join(args.init, "training_log.json"),
                                 os.path.join(args.init, "transformer", "training_log.json")) if os.path.exists(p)), None)
    if init_log is None:
        sys.exit(f"{args.init}: no training_log.json (give train_wan.py's output or an exported models/shapes-wan-* directory)")
if args.resume_from or args.init:  # the earlier run's tokenizer, so the ids match the embeddings it learned
    from transformers import T5TokenizerFast
    if os.path.exists(os.path.join(args.out, "tokenizer")):
        shutil.rmtree(os.path.join(args.out, "tokenizer"))
    shutil.copytree(os.path.join(args.resume_from or args.init, "tokenizer"), os.path.join(args.out, "tokenizer"))
    tok = T5TokenizerFast.from_pretrained(os.path.join(args.out, "tokenizer"))
else:
    tok = sd.train_sentencepiece(unique, os.path.join(args.out, "tokenizer"), args.vocab, MAX_TOKENS)
encoded = tok(unique + [""], padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt")
ids, mask = encoded.input_ids, encoded.attention_mask
longest = int(mask.sum(1).max())
print(f"tokenizer: {len(tok)} pieces, {len(unique)} distinct captions, longest {longest} ids with </s>", flush=True)
assert longest < MAX_TOKENS and tok.unk_token_id not in ids[:-1].tolist(), "a caption does not tokenize"


def make_models():
    torch.manual_seed(args.seed)
    text = UMT5EncoderModel(UMT5Config(vocab_size=len(tok), **UMT5_CONFIG))
    transformer = WanTransformer3DModel(
        in_channels=latents.shape[1], out_channels=latents.shape[1],
        text_dim=UMT5_CONFIG["d_model"], freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        eps=1e-6, rope_max_seq_len=1024, **SIZES[args.size])
    return text, transformer


text, transformer = make_models()
if args.init:
    transformer.load_state_dict(load_sharded(os.path.join(args.init, "transformer")).state_dict())
    text.load_state_dict(UMT5EncoderModel.from_pretrained(os.path.join(args.init, "text_encoder")).float().state_dict())
ema_text, ema_transformer = make_models()
ema_text.load_state_dict(text.state_dict()); ema_transformer.load_state_dict(transformer.state_dict())
ema_text.requires_grad_(False); ema_transformer.requires_grad_(False)
params = list(text.parameters()) + list(transformer.parameters())
n_transformer = sum(p.numel() for p in transformer.parameters()); n_text = sum(p.numel() for p in text.parameters())
print(f"{args.size}: transformer {n_transformer} parameters, UMT5 {n_text}", flush=True)

opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
gen = torch.Generator().manual_seed(args.seed)
log = []; running = None; first_step = 0; earlier_seconds = 0.0
settings = {k: getattr(args, k) for k in ("size", "steps", "batch", "lr", "count", "seed", "vocab", "shift", "init")}
settings["vae"] = vae_digest  # the VAE's weights, wherever they are read from


REWARM_STEPS = 50  # after a restart: a snapshot's optimizer moments start from zero, an extension raises the rate
# The trained modules, by their names in checkpoints and snapshots.
weight_modules = ((text, "text"), (transformer, "transformer"), (ema_text, "ema_text"), (ema_transformer, "ema_transformer"))


def make_schedule(restarts):
    """Warm-up and cosine over all steps; after a restart (a --pause-after snapshot resumed, or a run extended), from
    the latest restart's place on the schedule with the learning rate re-warmed over REWARM_STEPS."""
    base = sd.warmup_cosine(opt, args.steps, warmup=REWARM_STEPS if args.init else 200)
    if not restarts:
        return base
    offset = restarts[-1]["after_step"] + 1
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: base.lr_lambdas[0](s + offset) * min(1, (s + 1) / REWARM_STEPS))


def extends(old):
    """Whether a run with `old` settings may be continued by this one: the same settings, or a larger --steps."""
    old = {"shift": 1.0, "init": None, **old}  # runs from before these flags
    same = {k: v for k, v in old.items() if k != "steps"} == {k: v for k, v in settings.items() if k != "steps"}
    return same and args.steps >= old["steps"]


def extension(old):
    """How this run extends one with `old` settings, in the log's words, or None when it does not."""
    return None if args.steps == old["steps"] else f"extended from {old['steps']} to {args.steps} steps"


# An interrupted run resumes from its last checkpoint (every 100 steps) when started again with the same flags, or
# with a larger --steps to extend it.
checkpoint_path = os.path.join(args.out, "checkpoint.pt")
restarts = []  # [{"after_step": K, "how": …}] for each snapshot resumed and each extension, in order
if os.path.exists(checkpoint_path):
    ck = torch.load(checkpoint_path, weights_only=False)
    old = ck["settings"]
    if not extends(old):
        sys.exit(f"{checkpoint_path} was written by a run with {old}, not {settings}: start it again with those "
                 "flags (a larger --steps extends it), or delete the checkpoint to train afresh")
    extended = extension(old)
    restarts = ck["restarts"] + ([{"after_step": ck["step"], "how": f"{extended}, AdamW moments kept, learning rate "
                                   f"re-warmed over {REWARM_STEPS} steps"}] if extended else [])
    sched = make_schedule(restarts)
    for module, key in weight_modules + ((opt, "opt"),) + (() if extended else ((sched, "sched"),)):
        module.load_state_dict(ck[key])
    gen.set_state(ck["generator"])
    log, running, first_step, earlier_seconds = ck["log"], ck["running"], ck["step"] + 1, ck["seconds"]
    print(f"resuming after step {ck['step']} ({earlier_seconds:.0f}s of training so far)"
          + (f", {extended}" if extended else ""), flush=True)
elif args.resume_from:
    from safetensors.torch import load_file
    state = torch.load(os.path.join(args.resume_from, "state.pt"), weights_only=False)
    if not extends(state["settings"]):
        sys.exit(f"{args.resume_from} was written by a run with {state['settings']}, not {settings}: "
                 "resume it with those flags (a larger --steps extends it)")
    for module, key in weight_modules:
        weights = load_file(os.path.join(args.resume_from, key + ".safetensors"))
        module.load_state_dict({k: v.float() for k, v in weights.items()})
    gen.set_state(state["generator"])
    log, running, first_step, earlier_seconds = state["log"], state["running"], state["step"] + 1, state["seconds"]
    extended = extension(state["settings"])
    restarts = state["restarts"] + [{"after_step": state["step"], "how": "resumed from an f16 snapshot"
                                     + (f", {extended}" if extended else "")
                                     + f", fresh AdamW moments, learning rate re-warmed over {REWARM_STEPS} steps"}]
    sched = make_schedule(restarts)
    print(f"resuming {args.resume_from} after step {state['step']} ({earlier_seconds:.0f}s of training so far)", flush=True)
else:
    sched = make_schedule(restarts)


def save_checkpoint(step):
    ck = {"settings": settings, "step": step, "log": log, "running": running, "generator": gen.get_state(),
          "seconds": earlier_seconds + time.time() - start, "text": text.state_dict(),
          "transformer": transformer.state_dict(), "ema_text": ema_text.state_dict(),
          "ema_transformer": ema_transformer.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
          "restarts": restarts}
    torch.save(ck, checkpoint_path + ".tmp")
    os.replace(checkpoint_path + ".tmp", checkpoint_path)


def save_snapshot(step):
    """The portable --pause-after snapshot: f16 weights and averages, tokenizer, step, log and sampler state."""
    from safetensors.torch import save_file
    d = os.path.join(args.out, "snapshot")
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    for module, key in weight_modules:
        save_file({k: v.detach().half().contiguous() for k, v in module.state_dict().items()},
                  os.path.join(d, key + ".safetensors"))
    shutil.copytree(os.path.join(args.out, "tokenizer"), os.path.join(d, "tokenizer"))
    torch.save({"settings": settings, "step": step, "log": log, "running": running, "generator": gen.get_state(),
                "seconds": earlier_seconds + time.time() - start, "restarts": restarts}, os.path.join(d, "state.pt"))
    flags = " ".join(f"--{k} {v}" for k, v in settings.items() if k != "vae")
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write("\n".join([
            f"# shapes-wan-{args.size}: training paused after step {step} of {args.steps}", "",
            "A portable snapshot of `tools/train/train_wan.py`: the transformer and UMT5 weights and their moving",
            "averages in f16, the tokenizer, the training log and the sampler's state (no optimizer moments). Continue",
            "it with the VAE whose latents it was trained on (digest " + vae_digest + " of its tensors):", "",
            f"    python3 tools/train/train_wan.py {flags} --vae VAE_DIR --resume-from THIS_DIRECTORY", ""]))
    print(f"paused after step {step}: {d} (continue with --resume-from {d})", flush=True)


start = time.time()
if args.pause_after is not None and first_step > args.pause_after:  # a checkpoint already past K: snapshot it
    save_snapshot(first_step - 1)
    sys.exit(0)
for step in range(first_step, args.steps):
    idx = torch.randint(0, len(captions), (args.batch,), generator=gen)
    x0 = latents[idx]
    cid = caption_ids[idx].clone()
    cid[torch.rand(args.batch, generator=gen) < 0.1] = empty_id
    u = torch.sigmoid(torch.randn(args.batch, generator=gen))
    sigma = args.shift * u / (1 + (args.shift - 1) * u)
    eps = torch.randn(x0.shape, generator=gen)
    s = sigma.view(-1, 1, 1, 1, 1)
    xt = (1 - s) * x0 + s * eps
    m = mask[cid]
    states = text(input_ids=ids[cid], attention_mask=m).last_hidden_state * m[..., None]
    pred = transformer(hidden_states=xt, timestep=sigma * 1000, encoder_hidden_states=states, return_dict=False)[0]
    loss = F.mse_loss(pred, eps - x0)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step(); sched.step()
    sd.ema_update([(ema_text, text), (ema_transformer, transformer)], step)
    running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
    if step % 100 == 0 or step == args.steps - 1:
        print(f"step {step} loss {running:.4f} {earlier_seconds + time.time() - start:.0f}s", flush=True)
        log.append((step, round(running, 5)))
        save_checkpoint(step)
    if step == args.pause_after:
        save_snapshot(step)
        sys.exit(0)

for name, model in (("transformer", ema_transformer), ("text_encoder", ema_text)):
    d = os.path.join(args.out, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    sd.save_f16(model.eval(), d)
# Every training stage, first to last, so the log describes the model without the earlier stage's directory.
stages = []
if args.init:
    stages = sd.transformer_stages(json.load(open(init_log)))
stages.append({"steps": args.steps, "batch": args.batch, "lr": args.lr, "shift": args.shift,
               "seconds": round(earlier_seconds + time.time() - start), "restarts": restarts})
json.dump({"size": args.size, "transformer_parameters": n_transformer, "umt5_parameters": n_text,
           "tokenizer_pieces": len(tok), "clips": len(captions), "steps": args.steps, "batch": args.batch,
           "lr": args.lr, "shift": args.shift, "init": args.init, "stages": stages,
           "final_loss_ema_of_batches": log[-1][1],
           "seconds": round(earlier_seconds + time.time() - start), "restarts": restarts, "log": log},
          open(os.path.join(args.out, "training_log.json"), "w"), indent=1)
os.remove(checkpoint_path)
print("wrote", args.out)
