#!/usr/bin/env python3
"""PyTorch CPU reference timings for `evosearch bench models`.

For every benchmark case this script
  1. makes sure the model directory exists: the committed fixtures (Tests/ModelsTests/Fixtures/sd/) are used
     as they are; the larger random-weight models (not committed) are built once in the cache directory
     (default `.bench-cache/` in the repository root) and saved as float16 safetensors with
     `save_pretrained(..., variant="fp16")` (the Flux block stack as bfloat16, variant "bf16"), then reused
     while their configuration is unchanged; the embedded models' components (models/) are used as committed;
     (the Wan 2.1 blocks likewise as bfloat16, variant "bf16");
  2. writes the case's inputs (and PyTorch's output, for a parity check) to `<cache>/inputs/<case>.safetensors`,
     so the Swift side runs on exactly the same tensors;
  3. loads the model in float32 from that directory (the same f16/bf16-rounded weights Swift loads), counts the
     forward pass's FLOPs with `torch.utils.flop_counter.FlopCounterMode` and times forward passes
     (warm-up, then the median of N) under `torch.inference_mode()` with `torch.set_num_threads(threads)`.
It also times a 2048³ `torch.mm` (the sgemm ceiling PyTorch sees).

Output: with --json, one JSON object per line ({"type": "meta" | "sgemm" | "model", ...}); otherwise a
readable table. The Swift command parses the JSON lines.

Run from anywhere (needs tools/requirements.txt: torch, diffusers, transformers, safetensors):
    python3 tools/bench/torch_models.py --threads 2 --runs 20 --large-runs 5
    python3 tools/bench/torch_models.py --models small-unet,unet-sd1 --json
"""
import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import torch
from safetensors.torch import load_file, save_file
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop_count

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torchvision_compat import ensure_torchvision_if_installed  # noqa: E402

# With the reward benchmarks' --no-deps torchvision installed, transformers cannot import without this.
ensure_torchvision_if_installed()

import diffusers  # noqa: E402
import transformers
from diffusers import AutoencoderKL, FluxPipeline, FluxTransformer2DModel, UNet2DConditionModel, WanTransformer3DModel
from transformers import CLIPTextConfig, CLIPTextModel

diffusers.utils.logging.disable_progress_bar()
transformers.utils.logging.disable_progress_bar()

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "sd")
MODELS = os.path.join(ROOT, "models")

# torch 2.13's FlopCounterMode has no formula for the CPU fused attention kernel; without this, attention
# FLOPs are silently missing from the count.
try:
    @register_flop_formula(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu)
    def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        # q·kᵀ and p·v; like torch's own sdpa formulas, a causal mask is not discounted.
        return sdpa_flop_count(query_shape, key_shape, value_shape)
except (RuntimeError, ValueError):
    pass  # a newer torch registers it itself

# --- the random-weight models built in the cache ---------------------------------------------------------

# Stable Diffusion 2.1's unet/config.json (stabilityai/stable-diffusion-2-1), diffusers 0.42 field names.
SD21_UNET = dict(
    sample_size=96, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    only_cross_attention=False, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    downsample_padding=1, mid_block_scale_factor=1, act_fn="silu", norm_num_groups=32, norm_eps=1e-5,
    cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20], dual_cross_attention=False,
    use_linear_projection=True, class_embed_type=None, num_class_embeds=None, upcast_attention=True,
    resnet_time_scale_shift="default")

# The "small SD-style UNet (32,64,64)" of PERF-NOTES (2.20 M parameters, 0.36 GFLOP at 16×16, batch 1, 77
# context tokens): the regime of the project's own small models.
SMALL_UNET = dict(
    sample_size=16, in_channels=4, out_channels=4, block_out_channels=(32, 64, 64), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=64, attention_head_dim=8, norm_num_groups=32)

# Stable Diffusion 2.1's text_encoder/config.json (OpenCLIP ViT-H/14 text tower, 23 of 24 layers).
SD21_TEXT = dict(
    vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
    max_position_embeddings=77, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=512,
    bos_token_id=0, eos_token_id=2, pad_token_id=1)

# Stable Diffusion's vae/config.json (SD 1.x / 2.x share it, sample_size aside).
SD_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, act_fn="silu",
    norm_num_groups=32, sample_size=768, scaling_factor=0.18215)

# FLUX.1-dev's transformer/config.json (black-forest-labs/FLUX.1-dev) with one double-stream and one
# single-stream block instead of 19 and 38: the real widths (3072 = 24 heads of 128, T5 4096, CLIP pooled 768).
FLUX_BLOCKS = dict(
    patch_size=1, in_channels=64, out_channels=None, num_layers=1, num_single_layers=1, attention_head_dim=128,
    num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
    axes_dims_rope=(16, 56, 56))

# Wan2.1-T2V-1.3B-Diffusers' transformer/config.json with 2 blocks instead of 30: the real widths (1536 = 12 heads
# of 128, ffn 8960, UMT5 4096, 256 frequency channels).
WAN_BLOCKS = dict(
    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
    text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
    eps=1e-6, image_dim=None, added_kv_proj_dim=None, rope_max_seq_len=1024, pos_embed_seq_len=None)


def _case(name, kind, source, inputs, large=False, config=None, note="", variant="fp16"):
    return dict(name=name, kind=kind, source=source, inputs=inputs, large=large, config=config, note=note,
                variant=variant)


def g(seed):
    return torch.Generator().manual_seed(seed)


def unet_inputs(batch, channels, size, tokens, context_dim, seed):
    gen = g(seed)
    return {"sample": torch.randn(batch, channels, size, size, generator=gen),
            "timestep": torch.tensor([500.0] * batch),
            "encoder_hidden_states": torch.randn(batch, tokens, context_dim, generator=gen)}


def text_ids(batch, length, seed):
    gen = g(seed)
    ids = torch.randint(3, 49000, (batch, length), generator=gen)
    ids[:, 0] = 49406
    ids[:, 12:] = 49407  # a 10-token prompt, then eos/padding as SD 2.1's tokenizer pads
    return {"input_ids": ids.to(torch.float32)}


def flux_inputs(packed_h, packed_w, text_len, seed, config=FLUX_BLOCKS, batch=1):
    """Packed latent tokens, T5-sized text states, a CLIP pooled vector, the timestep as FluxPipeline passes it
    (t/1000), the guidance scale (models with a guidance embedding), and the pipeline's text/image position ids."""
    gen = g(seed)
    x = {"hidden_states": torch.randn(batch, packed_h * packed_w, config["in_channels"], generator=gen),
         "encoder_hidden_states": torch.randn(batch, text_len, config["joint_attention_dim"], generator=gen),
         "pooled_projections": torch.randn(batch, config["pooled_projection_dim"], generator=gen),
         "timestep": torch.tensor([0.75] * batch),
         "txt_ids": torch.zeros(text_len, 3),
         "img_ids": FluxPipeline._prepare_latent_image_ids(1, packed_h, packed_w, "cpu", torch.float32)}
    if config["guidance_embeds"]:
        x["guidance"] = torch.tensor([3.5] * batch)
    return x


def wan_inputs(frames, height, width, text_len, prompt_tokens, seed, config=WAN_BLOCKS, batch=1):
    """Latents [B, 16, (frames−1)/4+1, height/8, width/8] as WanPipeline makes them for a video of `frames` frames
    of height×width, a timestep on the 0…1000 scale (one per row, as the pipeline expands it) and UMT5-sized text
    states padded with zeros past `prompt_tokens` to `text_len` (WanPipeline's max_sequence_length)."""
    gen = g(seed)
    latent = (batch, config["in_channels"], (frames - 1) // 4 + 1, height // 8, width // 8)
    context = torch.randn(batch, text_len, config["text_dim"], generator=gen)
    context[:, prompt_tokens:] = 0
    return {"hidden_states": torch.randn(*latent, generator=gen), "timestep": torch.tensor([937.5] * batch),
            "encoder_hidden_states": context}


def embedded_flux_inputs(model, batch, seed):
    """Inputs for an embedded FluxPipeline's transformer at its generation_defaults.json size and T5 length."""
    root = os.path.join(MODELS, model)
    config = json.load(open(os.path.join(root, "transformer", "config.json")))
    defaults = json.load(open(os.path.join(root, "generation_defaults.json")))
    vae = json.load(open(os.path.join(root, "vae", "config.json")))
    factor = 2 ** (len(vae["block_out_channels"]) - 1) * 2  # VAE downsampling × 2×2 packing
    return flux_inputs(defaults["height"] // factor, defaults["width"] // factor, defaults["max_sequence_length"], seed,
                       config=config, batch=batch)


def embedded_wan_inputs(model, batch, seed):
    """Inputs for an embedded WanPipeline's transformer at its generation_defaults.json frames, size and text length
    (latents at the VAE's spatial factor, 4 frames per latent frame after the first)."""
    root = os.path.join(MODELS, model)
    config = json.load(open(os.path.join(root, "transformer", "config.json")))
    defaults = json.load(open(os.path.join(root, "generation_defaults.json")))
    factor = json.load(open(os.path.join(root, "vae", "config.json"))).get("scale_factor_spatial", 8)
    gen = g(seed)
    latent = (batch, config["in_channels"], (defaults["frames"] - 1) // 4 + 1, defaults["height"] // factor,
              defaults["width"] // factor)
    text_len = defaults["max_sequence_length"]
    context = torch.randn(batch, text_len, config["text_dim"], generator=gen)
    context[:, text_len // 2:] = 0
    return {"hidden_states": torch.randn(*latent, generator=gen), "timestep": torch.tensor([937.5] * batch),
            "encoder_hidden_states": context}


CASES = [
    # Committed fixtures, on the inputs their parity tests use.
    _case("unet-sd1", "unet", "fixture", ["sample", "timestep", "encoder_hidden_states"]),
    _case("unet-sd2", "unet", "fixture", ["sample", "timestep", "encoder_hidden_states"]),
    _case("unet-heads", "unet", "fixture", ["sample", "timestep", "encoder_hidden_states"]),
    _case("vae-small", "vae", "fixture", ["latents"]),
    _case("vae-three", "vae", "fixture", ["latents"]),
    _case("text-quickgelu", "text", "fixture", ["input_ids"]),
    _case("text-gelu", "text", "fixture", ["input_ids"]),
    # Random-weight models built in the cache.
    _case("small-unet", "unet", "cache", lambda: unet_inputs(1, 4, 16, 77, 64, 11), config=SMALL_UNET,
          note="PERF-NOTES small SD-style UNet (32,64,64)"),
    _case("sd21-unet", "unet", "cache", lambda: unet_inputs(1, 4, 32, 77, 1024, 12), large=True, config=SD21_UNET,
          note="SD 2.1 config, 32×32 latent"),
    _case("sd21-text", "text", "cache", lambda: text_ids(1, 77, 13), large=True, config=SD21_TEXT,
          note="SD 2.1 text encoder config, 77 tokens"),
    _case("sd-vae", "vae", "cache", lambda: {"latents": torch.randn(1, 4, 32, 32, generator=g(14))}, large=True,
          config=SD_VAE, note="SD VAE decoder, 32×32 latent → 256×256"),
    _case("flux-blocks", "flux", "cache", lambda: flux_inputs(32, 32, 512, 15), large=True, config=FLUX_BLOCKS,
          note="FLUX.1-dev widths, 1 double + 1 single block, 1024 image + 512 text tokens", variant="bf16"),
    # Embedded models as committed (f16, no variant suffix), at the batch of one guided generation step.
    _case("shapes-flux-small", "flux", "embedded", lambda: embedded_flux_inputs("shapes-flux-small", 2, 16),
          config="shapes-flux-small/transformer", note="embedded shapes-flux-small transformer, CFG pair", variant=None),
    _case("shapes-wan-small", "wan", "embedded", lambda: embedded_wan_inputs("shapes-wan-small", 2, 18),
          config="shapes-wan-small/transformer", note="embedded shapes-wan-small transformer, CFG pair", variant=None),
    _case("shapes-wan-large", "wan", "embedded", lambda: embedded_wan_inputs("shapes-wan-large", 2, 19),
          config="shapes-wan-large/transformer", note="embedded shapes-wan-large transformer, CFG pair", variant=None),
    _case("wan-blocks", "wan", "cache", lambda: wan_inputs(9, 256, 256, 512, 24, 17), large=True, config=WAN_BLOCKS,
          note="Wan 2.1 T2V 1.3B widths, 2 blocks, 9 frames of 256×256 (768 tokens) + 512 text tokens", variant="bf16"),
]


def stamp_of(case):
    fields = {"config": case["config"], "kind": case["kind"], "diffusers": diffusers.__version__,
              "transformers": transformers.__version__, "format": 1}
    if case["variant"] != "fp16":
        fields["variant"] = case["variant"]  # fp16 cases keep the stamps of the caches already built
    text = json.dumps(fields, sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_cached(case, cache):
    """Builds (once) the random-weight model for a cache case; returns (directory, variant)."""
    path = os.path.join(cache, case["name"])
    stamp_file = os.path.join(path, "bench-stamp.json")
    stamp = stamp_of(case)
    if os.path.exists(stamp_file):
        with open(stamp_file) as f:
            if json.load(f).get("stamp") == stamp:
                return path, case["variant"]
    log(f"building random-weight {case['name']} in {path} (once)")
    torch.manual_seed(1000 + sum(map(ord, case["name"])))
    if case["kind"] == "unet":
        model = UNet2DConditionModel(**case["config"])
    elif case["kind"] == "vae":
        model = AutoencoderKL(**case["config"])
    elif case["kind"] == "flux":
        model = FluxTransformer2DModel(**case["config"])
    elif case["kind"] == "wan":
        model = WanTransformer3DModel(**case["config"])
    else:
        model = CLIPTextModel(CLIPTextConfig(**case["config"]))
    with torch.no_grad():
        # Default inits leave norms at 1/0; perturb them so nothing is trivially the identity.
        for name, p in model.named_parameters():
            if p.dim() == 1 and name.endswith("weight"):
                p.add_(0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0, 0.02)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[case["variant"]]
    model.to(dtype).save_pretrained(path, safe_serialization=True, variant=case["variant"])
    with open(stamp_file, "w") as f:
        json.dump({"stamp": stamp, "name": case["name"]}, f)
    return path, case["variant"]


def load_model(kind, path, variant):
    kw = dict(torch_dtype=torch.float32)
    if variant:
        kw["variant"] = variant
    if kind == "unet":
        return UNet2DConditionModel.from_pretrained(path, **kw).eval()
    if kind == "vae":
        return AutoencoderKL.from_pretrained(path, **kw).eval()
    if kind == "flux":
        return FluxTransformer2DModel.from_pretrained(path, **kw).eval()
    if kind == "wan":
        # from_pretrained of this class needs accelerate (for its fp32 modules): the weights are read here.
        model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(path))
        suffix = f".{variant}.safetensors" if variant else ".safetensors"
        state = {}
        for name in sorted(os.listdir(path)):
            if name.startswith("diffusion_pytorch_model") and name.endswith(suffix):
                state.update(load_file(os.path.join(path, name)))
        model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        return model.float().eval()
    return CLIPTextModel.from_pretrained(path, **kw).eval()


def forward_fn(kind, model, x):
    if kind == "unet":
        return lambda: model(x["sample"], x["timestep"], encoder_hidden_states=x["encoder_hidden_states"]).sample
    if kind == "vae":
        return lambda: model.decode(x["latents"]).sample
    if kind == "flux":
        return lambda: model(x["hidden_states"], encoder_hidden_states=x["encoder_hidden_states"],
                             pooled_projections=x["pooled_projections"], timestep=x["timestep"], img_ids=x["img_ids"],
                             txt_ids=x["txt_ids"], guidance=x.get("guidance")).sample
    if kind == "wan":
        return lambda: model(x["hidden_states"], timestep=x["timestep"],
                             encoder_hidden_states=x["encoder_hidden_states"]).sample
    ids = x["input_ids"].to(torch.long)
    return lambda: model(ids).last_hidden_state


def describe(kind, x):
    if kind == "unet":
        s, c = x["sample"].shape, x["encoder_hidden_states"].shape
        return f"{s[0]}×{s[1]}×{s[2]}×{s[3]}, ctx {c[1]}×{c[2]}"
    if kind == "vae":
        s = x["latents"].shape
        return f"{s[0]}×{s[1]}×{s[2]}×{s[3]} latent"
    if kind == "flux":
        s, c = x["hidden_states"].shape, x["encoder_hidden_states"].shape
        return f"{s[0]}×{s[1]}×{s[2]}, ctx {c[1]}×{c[2]}"
    if kind == "wan":
        s, c = x["hidden_states"].shape, x["encoder_hidden_states"].shape
        return "×".join(map(str, s)) + f", ctx {c[1]}×{c[2]}"
    s = x["input_ids"].shape
    return f"{s[0]}×{s[1]} tokens"


def time_calls(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return times, cpu / wall if wall > 0 else 0.0


def sgemm_peak(runs=7, n=2048):
    a, b = torch.randn(n, n), torch.randn(n, n)
    times, _ = time_calls(lambda: torch.mm(a, b), 2, runs)
    return 2 * n ** 3 / min(times) / 1e9  # best run: background load only lowers it


def reset_peak_rss():
    """Resets this process's VmHWM to its current resident set (Linux: "5" to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


class Loaded:
    """One case's model, inputs and forward function, ready to time. `peak_rss_kb` of its timing replies is the
    process's peak resident memory since just before the case was loaded (torch runtime included)."""

    def __init__(self, case, cache):
        self.peak_reset = reset_peak_rss()
        if case["source"] == "fixture":
            path, variant = os.path.join(FIXTURES, case["name"]), None
            io = load_file(os.path.join(FIXTURES, case["name"] + ".io.safetensors"))
            x = {k: io[k] for k in case["inputs"]}
        elif case["source"] == "embedded":
            path, variant = os.path.join(MODELS, case["config"]), None
            x = case["inputs"]()
        else:
            path, variant = build_cached(case, cache)
            x = case["inputs"]()
        self.case = case
        self.model = load_model(case["kind"], path, variant)
        self.fn = forward_fn(case["kind"], self.model, x)
        with torch.inference_mode():
            with FlopCounterMode(display=False) as counter:
                out = self.fn()
        inputs_dir = os.path.join(cache, "inputs")
        os.makedirs(inputs_dir, exist_ok=True)
        inputs_file = os.path.join(inputs_dir, case["name"] + ".safetensors")
        save_file({**{k: v.contiguous() for k, v in x.items()}, "output": out.detach().float().contiguous()},
                  inputs_file)
        self.info = {
            "type": "model", "name": case["name"], "kind": case["kind"], "model_dir": os.path.abspath(path),
            "variant": variant, "inputs_file": os.path.abspath(inputs_file), "input": describe(case["kind"], x),
            "large": case["large"], "note": case["note"],
            "params": sum(p.numel() for p in self.model.parameters()),
            "gflop": counter.get_total_flops() / 1e9}
        with open(os.path.join(inputs_dir, case["name"] + ".json"), "w") as f:
            json.dump(self.info, f, indent=1)  # lets the Swift side report GFLOP/s even without Python

    def time(self, runs, warmup):
        with torch.inference_mode():
            return time_calls(self.fn, warmup, runs)


def measure_load(case, cache):
    """Peak RSS of a fresh process that loads the case's model in float32 (run as a child)."""
    import resource
    if case["source"] == "cache":
        path, variant = build_cached(case, cache)
    else:
        path, variant = os.path.join(MODELS if case["source"] == "embedded" else FIXTURES, case["config"] or case["name"]), None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    model = load_model(case["kind"], path, variant)
    seconds = time.perf_counter() - t
    return {"type": "load", "name": case["name"], "seconds": seconds, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "peak_rss_before_kb": before, "params": sum(p.numel() for p in model.parameters())}


def serve_json_lines(handle):
    """Answers one JSON command per line on stdin with `handle(cmd)`'s reply, one JSON line on stdout, until
    {"cmd": "quit"} or end of input. An exception becomes {"type": "error", "message": …} (the caller decides)."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
            if cmd.get("cmd") == "quit":
                break
            reply = handle(cmd)
        except Exception as e:
            reply = {"type": "error", "message": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


def serve(args, by_name):
    """Line protocol for the Swift command (stdin: one JSON command per line; stdout: one JSON reply per line):
    {"cmd": "sgemm"} · {"cmd": "load", "case": NAME} · {"cmd": "time", "runs": N, "warmup": W} ·
    {"cmd": "release"} · {"cmd": "quit"}. Replies carry "type"; failures reply {"type": "error", "message": …}."""
    state = {"loaded": None}

    def handle(cmd):
        c = cmd.get("cmd")
        if c == "sgemm":
            return {"type": "sgemm", "n": 2048, "gflops": sgemm_peak()}
        if c == "load":
            state["loaded"] = None
            state["loaded"] = Loaded(by_name[cmd["case"]], args.cache_dir)
            return state["loaded"].info
        if c == "time":
            loaded = state["loaded"]
            times, cores = loaded.time(int(cmd["runs"]), int(cmd.get("warmup", 0)))
            reply = {"type": "times", "seconds": times, "cpu_per_wall": cores}
            if loaded.peak_reset:
                reply["peak_rss_kb"] = peak_rss_kb()
            return reply
        if c == "release":
            state["loaded"] = None
            return {"type": "released"}
        return {"type": "error", "message": f"unknown command {c!r}"}

    serve_json_lines(handle)


def log(msg):
    print(f"torch_models: {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default=os.path.join(ROOT, ".bench-cache"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20, help="timed runs for fixture-sized models")
    ap.add_argument("--large-runs", type=int, default=5, help="timed runs for the SD-sized models")
    ap.add_argument("--models", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--skip-large", action="store_true", help="skip the SD-sized models")
    ap.add_argument("--prepare-only", action="store_true", help="build cache models and inputs; no timing")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    ap.add_argument("--serve", action="store_true", help="answer JSON commands on stdin (used by the Swift command)")
    ap.add_argument("--measure-load", metavar="CASE", help="report the peak RSS of loading CASE in this fresh process")
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print(c["name"], c["kind"], "large" if c["large"] else "small", c["note"])
        return
    torch.set_num_threads(args.threads)
    os.makedirs(args.cache_dir, exist_ok=True)
    wanted = [m for m in args.models.split(",") if m]
    unknown = set(wanted) - {c["name"] for c in CASES}
    if unknown:
        sys.exit(f"torch_models: unknown case(s) {sorted(unknown)}; --list shows them")
    cases = [c for c in CASES if (not wanted or c["name"] in wanted) and not (args.skip_large and c["large"])]

    def emit(obj):
        if args.json:
            print(json.dumps(obj), flush=True)

    by_name = {c["name"]: c for c in CASES}
    if args.measure_load:
        emit(measure_load(by_name[args.measure_load], args.cache_dir))
        return
    emit({"type": "meta", "torch": torch.__version__, "diffusers": diffusers.__version__,
          "transformers": transformers.__version__, "threads": torch.get_num_threads(),
          "cache_dir": os.path.abspath(args.cache_dir)})
    if args.serve:
        serve(args, by_name)
        return
    if not args.prepare_only:
        peak = sgemm_peak()
        emit({"type": "sgemm", "n": 2048, "gflops": peak})
        if not args.json:
            print(f"torch.mm 2048³: {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads)")
    for case in cases:
        m = Loaded(case, args.cache_dir)
        r = dict(m.info)
        if not args.prepare_only:
            runs = args.large_runs if case["large"] else args.runs
            times, cores = m.time(runs, 1 if case["large"] else 3)
            r.update(torch_seconds=statistics.median(times), torch_min_seconds=min(times), torch_runs=runs,
                     torch_cpu_per_wall=cores)
        del m
        emit(r)
        if not args.json:
            line = f"{r['name']:14s} {r['input']:28s} {r['gflop']:9.3f} GFLOP"
            if "torch_seconds" in r:
                line += (f" {r['torch_seconds'] * 1e3:10.2f} ms {r['gflop'] / r['torch_seconds']:7.1f} GFLOP/s"
                         f"  cpu/wall {r['torch_cpu_per_wall']:.2f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
