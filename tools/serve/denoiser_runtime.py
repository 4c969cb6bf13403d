"""MLServer runtime that serves the denoiser network of a diffusers pipeline directory over the Open Inference
Protocol (KServe v2): the network alone, with no guidance, scheduler, text encoder or VAE, so that a client keeps
classifier-free guidance, the sampler and decoding on its side and sends one row per guided half. With the
model-settings parameter `component` = "decoder" it serves the pipeline's VAE decoder instead (latents in, images
out), for clients that decode remotely.

The model-settings parameter `uri` names the pipeline directory. Its denoiser subfolder (`unet/`, or `transformer/`
for flow models) says by its config's `_class_name` which network class serves it; each class is one entry of
NETWORKS below with its own tensor names. Implemented: UNet2DConditionModel (Stable Diffusion 1.x/2.x),
FluxTransformer2DModel (FLUX.1: packed latent tokens, per-token and pooled text embeddings, timestep, guidance for
guidance-distilled checkpoints, and the unbatched position ids) and WanTransformer3DModel (Wan 2.1 text-to-video).

Tensors travel as FP32, little-endian. Each reply carries the network's own time as the int64 parameter
`compute_us`, so a client can tell compute from wire time. The batch dimension (and the latent size) is variable, marked -1 in the
metadata; channel and embedding widths come from the network's config, so a client can check them before it sends.
"""

import json
import os
import time

import numpy as np
import torch
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, Parameters


class UNet2DConditionNetwork:
    """diffusers' UNet2DConditionModel: inputs `sample` [N, C, H, W], `timestep` [N] (the scheduler's float
    timestep per row) and `encoder_hidden_states` [N, L, D]; output `out_sample` [N, C_out, H, W]."""

    subfolder = "unet"

    def __init__(self, directory):
        from diffusers import UNet2DConditionModel

        self.model = UNet2DConditionModel.from_pretrained(os.path.join(directory, self.subfolder), torch_dtype=torch.float32)
        self.model.eval()
        config = self.model.config
        cross = config.cross_attention_dim
        if isinstance(cross, (list, tuple)):
            if len(set(cross)) != 1:
                raise ValueError(f"unet/config.json: per-block cross_attention_dim {cross} is not served (one width expected)")
            cross = cross[0]
        self.inputs = [
            MetadataTensor(name="sample", datatype="FP32", shape=[-1, config.in_channels, -1, -1]),
            MetadataTensor(name="timestep", datatype="FP32", shape=[-1]),
            MetadataTensor(name="encoder_hidden_states", datatype="FP32", shape=[-1, -1, cross]),
        ]
        self.outputs = [MetadataTensor(name="out_sample", datatype="FP32", shape=[-1, config.out_channels, -1, -1])]

    def __call__(self, tensors):
        sample = torch.from_numpy(tensors["sample"])
        timestep = torch.from_numpy(tensors["timestep"])
        context = torch.from_numpy(tensors["encoder_hidden_states"])
        n = sample.shape[0]
        if timestep.shape != (n,) or context.shape[0] != n:
            raise ValueError(f"batch sizes differ: sample {tuple(sample.shape)}, timestep {tuple(timestep.shape)}, "
                             f"encoder_hidden_states {tuple(context.shape)}")
        with torch.no_grad():
            out = self.model(sample, timestep, encoder_hidden_states=context).sample
        return {"out_sample": out.numpy()}


class FluxTransformer2DNetwork:
    """diffusers' FluxTransformer2DModel: inputs `hidden_states` [N, S, C] (packed latent tokens),
    `encoder_hidden_states` [N, L, D], `pooled_projections` [N, Dp], `timestep` [N] (the scheduler's timestep / 1000,
    as FluxPipeline passes it), `guidance` [N] for guidance-distilled checkpoints only, `txt_ids` [L, 3] and `img_ids`
    [S, 3] (not batched: every row shares them); output `out_sample` [N, S, C_out]."""

    subfolder = "transformer"

    def __init__(self, directory):
        from diffusers import FluxTransformer2DModel

        self.model = FluxTransformer2DModel.from_pretrained(os.path.join(directory, self.subfolder), torch_dtype=torch.float32)
        self.model.eval()
        c = self.model.config
        self.guidance = bool(c.guidance_embeds)
        out_channels = (c.out_channels or c.in_channels) * c.patch_size * c.patch_size
        self.inputs = [
            MetadataTensor(name="hidden_states", datatype="FP32", shape=[-1, -1, c.in_channels]),
            MetadataTensor(name="encoder_hidden_states", datatype="FP32", shape=[-1, -1, c.joint_attention_dim]),
            MetadataTensor(name="pooled_projections", datatype="FP32", shape=[-1, c.pooled_projection_dim]),
            MetadataTensor(name="timestep", datatype="FP32", shape=[-1]),
        ]
        if self.guidance:
            self.inputs.append(MetadataTensor(name="guidance", datatype="FP32", shape=[-1]))
        self.inputs += [MetadataTensor(name="txt_ids", datatype="FP32", shape=[-1, 3]),
                        MetadataTensor(name="img_ids", datatype="FP32", shape=[-1, 3])]
        self.outputs = [MetadataTensor(name="out_sample", datatype="FP32", shape=[-1, -1, out_channels])]

    def __call__(self, tensors):
        hidden = torch.from_numpy(tensors["hidden_states"])
        context = torch.from_numpy(tensors["encoder_hidden_states"])
        pooled = torch.from_numpy(tensors["pooled_projections"])
        timestep = torch.from_numpy(tensors["timestep"])
        guidance = torch.from_numpy(tensors["guidance"]) if self.guidance else None
        txt_ids, img_ids = torch.from_numpy(tensors["txt_ids"]), torch.from_numpy(tensors["img_ids"])
        n = hidden.shape[0]
        batched = [context.shape[0], pooled.shape[0], timestep.shape[0]] + ([guidance.shape[0]] if self.guidance else [])
        if any(b != n for b in batched):
            raise ValueError(f"batch sizes differ: hidden_states {tuple(hidden.shape)}, encoder_hidden_states "
                             f"{tuple(context.shape)}, pooled_projections {tuple(pooled.shape)}, timestep {tuple(timestep.shape)}")
        if img_ids.shape != (hidden.shape[1], 3) or txt_ids.shape != (context.shape[1], 3):
            raise ValueError(f"ids do not match the sequences: img_ids {tuple(img_ids.shape)} for {hidden.shape[1]} tokens, "
                             f"txt_ids {tuple(txt_ids.shape)} for {context.shape[1]} tokens")
        with torch.no_grad():
            out = self.model(hidden_states=hidden, encoder_hidden_states=context, pooled_projections=pooled,
                             timestep=timestep, img_ids=img_ids, txt_ids=txt_ids, guidance=guidance).sample
        return {"out_sample": out.numpy()}


class WanTransformer3DNetwork:
    """diffusers' WanTransformer3DModel (Wan 2.1 text-to-video): inputs `hidden_states` [N, C, F, H, W] (video
    latents), `timestep` [N] (the scheduler's, 0…1000) and `encoder_hidden_states` [N, L, text_dim] (UMT5 states,
    zero past the prompt); output `out_sample` [N, C_out, F, H, W]. The weights are read from the safetensors files
    (sharded or not) and widened to float32: diffusers' from_pretrained for this class needs accelerate."""

    subfolder = "transformer"

    def __init__(self, directory):
        from diffusers import WanTransformer3DModel
        from safetensors.torch import load_file

        path = os.path.join(directory, self.subfolder)
        self.model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(path))
        state = {}
        for name in sorted(os.listdir(path)):
            if name.endswith(".safetensors"):
                state.update(load_file(os.path.join(path, name)))
        self.model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
        self.model = self.model.float().eval()
        c = self.model.config
        if c.image_dim is not None:
            raise ValueError(f"{path}/config.json: image_dim is set (image-to-video); the runtime serves text-to-video")
        self.inputs = [
            MetadataTensor(name="hidden_states", datatype="FP32", shape=[-1, c.in_channels, -1, -1, -1]),
            MetadataTensor(name="timestep", datatype="FP32", shape=[-1]),
            MetadataTensor(name="encoder_hidden_states", datatype="FP32", shape=[-1, -1, c.text_dim]),
        ]
        self.outputs = [MetadataTensor(name="out_sample", datatype="FP32", shape=[-1, c.out_channels, -1, -1, -1])]

    def __call__(self, tensors):
        hidden = torch.from_numpy(tensors["hidden_states"])
        timestep = torch.from_numpy(tensors["timestep"])
        context = torch.from_numpy(tensors["encoder_hidden_states"])
        n = hidden.shape[0]
        if timestep.shape != (n,) or context.shape[0] != n:
            raise ValueError(f"batch sizes differ: hidden_states {tuple(hidden.shape)}, timestep {tuple(timestep.shape)}, "
                             f"encoder_hidden_states {tuple(context.shape)}")
        with torch.no_grad():
            out = self.model(hidden_states=hidden, timestep=timestep, encoder_hidden_states=context).sample
        return {"out_sample": out.numpy()}


class AutoencoderKLDecoderNetwork:
    """diffusers' AutoencoderKL decoder as the image pipelines use it (Stable Diffusion, FLUX.1): input `latents`
    [N, C, h, w] (a trajectory's final states: scaled latents); output `images` [N, 3, 8h, 8w] in [0, 1], i.e.
    `vae.decode(latents / scaling_factor + shift_factor)` then `(x / 2 + 0.5).clamp(0, 1)`."""

    subfolder = "vae"

    def __init__(self, directory):
        from diffusers import AutoencoderKL

        self.model = AutoencoderKL.from_pretrained(os.path.join(directory, self.subfolder), torch_dtype=torch.float32)
        self.model.eval()
        c = self.model.config
        self.scale, self.shift = c.scaling_factor, (c.shift_factor or 0.0)
        self.inputs = [MetadataTensor(name="latents", datatype="FP32", shape=[-1, c.latent_channels, -1, -1])]
        self.outputs = [MetadataTensor(name="images", datatype="FP32", shape=[-1, c.out_channels, -1, -1])]

    def __call__(self, tensors):
        latents = torch.from_numpy(tensors["latents"])
        with torch.no_grad():
            images = self.model.decode(latents / self.scale + self.shift).sample
        return {"images": (images / 2 + 0.5).clamp(0, 1).numpy()}


# `_class_name` of the denoiser subfolder's config.json → the class serving it.
NETWORKS = {"UNet2DConditionModel": UNet2DConditionNetwork, "FluxTransformer2DModel": FluxTransformer2DNetwork,
            "WanTransformer3DModel": WanTransformer3DNetwork}
# Where each family keeps its denoiser, in the order they are looked for.
DENOISER_SUBFOLDERS = ["unet", "transformer"]
# Each servable component: the subfolders it is looked for in, in order, and the classes serving it.
COMPONENTS = {"denoiser": (DENOISER_SUBFOLDERS, NETWORKS), "decoder": (["vae"], {"AutoencoderKL": AutoencoderKLDecoderNetwork})}


def load_network(directory, component="denoiser"):
    """The served network of the pipeline at `directory` (`component` "denoiser", or "decoder" for its VAE decoder);
    a ValueError names what is missing or unsupported."""
    if component not in COMPONENTS:
        raise ValueError(f"component {component!r}: serve the {' or the '.join(COMPONENTS)}")
    subfolders, classes = COMPONENTS[component]
    for sub in subfolders:
        path = os.path.join(directory, sub, "config.json")
        if os.path.exists(path):
            with open(path) as f:
                name = json.load(f).get("_class_name")
            if name not in classes:
                raise ValueError(f"{path}: _class_name {name} is not served as the {component}; served: {', '.join(classes)}")
            return classes[name](directory)
    raise ValueError(f"{directory}: no {component} subfolder ({', '.join(subfolders)}) with a config.json")


class DiffusersDenoiserRuntime(MLModel):
    """Loads the network named by the model's `parameters.uri` (a pipeline directory) and publishes its tensor
    names, shapes and dtypes as the model's metadata."""

    async def load(self) -> bool:
        torch.set_num_threads(int(os.environ.get("EVOSEARCH_SERVE_THREADS", "1")))
        uri = self._settings.parameters.uri if self._settings.parameters else None
        if not uri:
            raise ValueError("model-settings.json: parameters.uri must name a diffusers pipeline directory")
        extra = (self._settings.parameters.extra or {}) if self._settings.parameters else {}
        self.network = load_network(uri, extra.get("component", "denoiser"))
        self._settings.inputs = self.network.inputs
        self._settings.outputs = self.network.outputs
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        tensors = {}
        for tensor in payload.inputs:
            if tensor.datatype != "FP32":
                raise ValueError(f"input {tensor.name}: datatype {tensor.datatype}, expected FP32")
            tensors[tensor.name] = np.ascontiguousarray(NumpyCodec.decode_input(tensor), dtype=np.float32)
        missing = [t.name for t in self.network.inputs if t.name not in tensors]
        if missing:
            raise ValueError(f"missing inputs: {', '.join(missing)}")
        start = time.perf_counter()
        outputs = self.network(tensors)
        compute_us = int((time.perf_counter() - start) * 1e6)
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            parameters=Parameters(compute_us=compute_us),
            outputs=[NumpyCodec.encode_output(name=name, payload=value.astype(np.float32)) for name, value in outputs.items()],
        )
