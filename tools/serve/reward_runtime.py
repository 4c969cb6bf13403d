"""MLServer runtime that serves a CLIP-family reward model over the Open Inference Protocol (KServe v2): decoded
images in, one score per image out, the prompt as the request's string parameter `prompt`.

The model-settings parameter `uri` names a CLIP directory in transformers' layout (config.json, model.safetensors,
the tokenizer files, preprocessor_config.json); the extra parameter `kind` picks the score, as evosearch's local
rewards of the same names compute it, with cos = the cosine similarity of the projected image and text embeddings:
  clip       cos
  clipscore  2.5 · max(cos, 0), with the caption prefix "A photo depicts " (Hessel et al.'s CLIPScore)
  pickscore  exp(logit_scale) · cos (PickScore's checkpoint)
Each image is rounded to 8 bits first (clamped to [0, 1], ×255, rounded half away from zero), as evosearch rounds
a sample before its own CLIP preprocessing, then goes through transformers' CLIPProcessor for the directory.

Tensors: input `images` FP32 [N, 3, H, W] in [0, 1]; output `scores` FP32 [N]. Text embeddings are cached per
prompt. Each reply carries the model's own time as the int64 parameter `compute_us`.
"""

import os
import time

import numpy as np
import torch
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, Parameters, ResponseOutput

KINDS = {"clip": "", "clipscore": "A photo depicts ", "pickscore": ""}


class CLIPRewardRuntime(MLModel):
    async def load(self) -> bool:
        from transformers import CLIPModel, CLIPProcessor

        torch.set_num_threads(int(os.environ.get("EVOSEARCH_SERVE_THREADS", "1")))
        parameters = self._settings.parameters
        uri = parameters.uri if parameters else None
        if not uri:
            raise ValueError("model-settings.json: parameters.uri must name a CLIP model directory")
        extra = (parameters.extra or {}) if parameters else {}
        self.kind = extra.get("kind", "clip")
        if self.kind not in KINDS:
            raise ValueError(f"reward kind {self.kind!r} is not served; served kinds: {', '.join(KINDS)}")
        self.model = CLIPModel.from_pretrained(uri, torch_dtype=torch.float32).eval()
        self.processor = CLIPProcessor.from_pretrained(uri)
        self.text_cache = {}
        self._settings.inputs = [MetadataTensor(name="images", datatype="FP32", shape=[-1, 3, -1, -1])]
        self._settings.outputs = [MetadataTensor(name="scores", datatype="FP32", shape=[-1])]
        return True

    def text_embedding(self, prompt):
        if prompt not in self.text_cache:
            tokens = self.processor.tokenizer([KINDS[self.kind] + prompt], truncation=True, return_tensors="pt")
            with torch.no_grad():
                e = self.model.get_text_features(input_ids=tokens["input_ids"])
            e = e.pooler_output if hasattr(e, "pooler_output") else e
            self.text_cache[prompt] = e / e.norm(dim=-1, keepdim=True)
        return self.text_cache[prompt]

    def scores(self, images, prompt):
        # float32 product, then half away from zero in float64 (exact for these non-negative values).
        magenta = np.array([1, 0, 1], dtype=np.float32).reshape(1, 3, 1, 1)  # NaN shows as evosearch's PNGs show it
        images = np.where(np.isnan(images), magenta, images)
        rounded = np.floor((np.clip(images, 0, 1).astype(np.float32) * np.float32(255)).astype(np.float64) + 0.5)
        batch = [np.ascontiguousarray(r.transpose(1, 2, 0)).astype(np.uint8) for r in rounded]
        inputs = self.processor(images=batch, return_tensors="pt")
        with torch.no_grad():
            e = self.model.get_image_features(pixel_values=inputs["pixel_values"])
        e = e.pooler_output if hasattr(e, "pooler_output") else e
        e = e / e.norm(dim=-1, keepdim=True)
        cos = (e @ self.text_embedding(prompt).T)[:, 0]
        if self.kind == "clipscore":
            return 2.5 * torch.clamp(cos, min=0)
        if self.kind == "pickscore":
            return self.model.logit_scale.exp() * cos
        return cos

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        prompt = payload.parameters.model_extra.get("prompt") if payload.parameters else None
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("the request needs the string parameter prompt (the text the images are scored against)")
        images = [t for t in payload.inputs if t.name == "images"]
        if len(images) != 1 or images[0].datatype != "FP32":
            raise ValueError("the request needs one FP32 input named images, [N, 3, H, W]")
        shape = list(images[0].shape)
        if len(shape) != 4 or shape[1] != 3:
            raise ValueError(f"images has shape {shape}, expected [N, 3, H, W]")
        array = np.asarray(NumpyCodec.decode_input(images[0]), dtype=np.float32).reshape(shape)
        start = time.perf_counter()
        scores = self.scores(array, prompt).numpy().astype(np.float32)
        compute_us = int((time.perf_counter() - start) * 1e6)
        # Built by hand: NumpyCodec would give a 1-D output a trailing batch dimension ([N, 1]).
        output = ResponseOutput(name="scores", datatype="FP32", shape=[len(scores)], data=scores.tolist())
        return InferenceResponse(model_name=self.name, id=payload.id, parameters=Parameters(compute_us=compute_us),
                                 outputs=[output])
