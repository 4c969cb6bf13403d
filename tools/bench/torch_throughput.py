#!/usr/bin/env python3
"""PyTorch CPU side of `evosearch bench throughput`, on a Stable Diffusion pipeline directory (diffusers layout).

Two measurements, each on the same batch shapes the Swift side ran:
  * forward: the UNet alone on R rows (latents [R, C, H, W] at the pipeline's sample size, the text encoder's
    context length and width, one timestep);
  * replay: a search's model calls in the order the Swift search made them, as `StableDiffusionPipeline` runs
    them: each denoiser call on r samples is one UNet batch of 2r rows (unconditional and conditional halves),
    classifier-free guidance, then `DDIMScheduler.step` at that step's timestep with the given eta; each decode
    call on r samples is `vae.decode` of r latents, scaled to [0, 1]. The latents are random (the timing does
    not depend on their values); the prompt embeddings are the pipeline's own (`encode_prompt`).

Serves one JSON command per line on stdin, one JSON reply per line on stdout (the first line is {"type": "meta"}):
  {"cmd": "load", "model": DIR, "prompt": P, "steps": T, "guidance": G, "eta": E}    -> {"type": "loaded", ...}
  {"cmd": "forward", "rows": R, "runs": N, "warmup": W}    -> {"type": "times", "seconds": [...], "gflop": F}
    (F: FLOPs of one forward as torch's FlopCounterMode counts them)
  {"cmd": "replay", "calls": [[rows, step], ...], "runs": N}  (step -1: a decode)     -> {"type": "times", "seconds": [...]}
  {"cmd": "quit"}
Failures reply {"type": "error", "message": ...}.

    python3 tools/bench/torch_throughput.py --threads 2
"""
import argparse
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models  # noqa: E402  (its line server; it registers the FLOP formula of the CPU attention kernel)

import diffusers  # noqa: E402
from diffusers import DDIMScheduler, StableDiffusionPipeline  # noqa: E402

diffusers.utils.logging.disable_progress_bar()


class Loaded:
    def __init__(self, model, prompt, steps, guidance, eta):
        self.pipe = StableDiffusionPipeline.from_pretrained(model, torch_dtype=torch.float32, safety_checker=None,
                                                            requires_safety_checker=False)
        self.pipe.set_progress_bar_config(disable=True)
        self.scheduler = DDIMScheduler.from_config(self.pipe.scheduler.config)
        self.scheduler.set_timesteps(steps)
        self.guidance, self.eta = guidance, eta
        unet = self.pipe.unet
        self.latent_shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
        with torch.inference_mode():
            cond, uncond = self.pipe.encode_prompt(prompt, "cpu", 1, guidance > 1, negative_prompt="")
        self.cond, self.uncond = cond, uncond
        self.generator = torch.Generator().manual_seed(0)
        self.latents = {}

    def info(self):
        return {"type": "loaded", "latent": list(self.latent_shape), "context": list(self.cond.shape[1:]),
                "timesteps": [int(t) for t in self.scheduler.timesteps]}

    def random_latents(self, rows):
        if rows not in self.latents:
            self.latents[rows] = torch.randn((rows,) + self.latent_shape, generator=self.generator)
        return self.latents[rows]

    def forward(self, rows):
        x = self.random_latents(rows)
        context = self.cond.expand(rows, -1, -1)
        t = self.scheduler.timesteps[len(self.scheduler.timesteps) // 2]
        return lambda: self.pipe.unet(x, t, encoder_hidden_states=context).sample

    def denoise(self, rows, step):
        x = self.random_latents(rows)
        t = self.scheduler.timesteps[step]
        if self.guidance > 1:
            context = torch.cat([self.uncond.expand(rows, -1, -1), self.cond.expand(rows, -1, -1)])
            eps_u, eps_c = self.pipe.unet(torch.cat([x, x]), t, encoder_hidden_states=context).sample.chunk(2)
            eps = eps_u + self.guidance * (eps_c - eps_u)
        else:
            eps = self.pipe.unet(x, t, encoder_hidden_states=self.cond.expand(rows, -1, -1)).sample
        return self.scheduler.step(eps, t, x, eta=self.eta, generator=self.generator).prev_sample

    def decode(self, rows):
        vae = self.pipe.vae
        image = vae.decode(self.random_latents(rows) / vae.config.scaling_factor).sample
        return (image / 2 + 0.5).clamp(0, 1)

    def replay(self, calls):
        for rows, step in calls:
            if step < 0:
                self.decode(rows)
            else:
                self.denoise(rows, step)


def timed(fn, runs, warmup=0):
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return times


def serve():
    state = {"loaded": None}

    def handle(cmd):
        c = cmd.get("cmd")
        if c == "load":
            state["loaded"] = None
            state["loaded"] = Loaded(cmd["model"], cmd["prompt"], int(cmd["steps"]), float(cmd["guidance"]), float(cmd["eta"]))
            return state["loaded"].info()
        loaded = state["loaded"]
        if c in ("forward", "replay") and loaded is None:
            return {"type": "error", "message": "no model loaded (send load first)"}
        if c == "forward":
            fn = loaded.forward(int(cmd["rows"]))
            with torch.inference_mode(), FlopCounterMode(display=False) as counter:
                fn()
            seconds = timed(fn, int(cmd["runs"]), int(cmd.get("warmup", 1)))
            return {"type": "times", "seconds": seconds, "gflop": counter.get_total_flops() / 1e9}
        if c == "replay":
            calls = [(int(r), int(s)) for r, s in cmd["calls"]]
            return {"type": "times", "seconds": timed(lambda: loaded.replay(calls), int(cmd["runs"]))}
        return {"type": "error", "message": f"unknown command {c!r}"}

    torch_models.serve_json_lines(handle)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps({"type": "meta", "torch": torch.__version__, "diffusers": diffusers.__version__,
                      "threads": torch.get_num_threads()}), flush=True)
    serve()


if __name__ == "__main__":
    main()
