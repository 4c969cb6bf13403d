"""Imports torchvision next to a CPU-only torch build.

The torchvision wheel on PyPI is built against CUDA torch; next to the CPU torch wheel its compiled operators
(`torchvision/_C.so`) cannot load. torchvision then still imports (the transforms we need are pure Python), except
that `torchvision/_meta_registrations.py` registers fake kernels for `torchvision::nms` / `qnms`, which fails when
those operators were never defined. `ensure_torchvision()` defines just those two schemas (no kernels) when they
are missing, then imports torchvision. With a matching CPU torchvision build it changes nothing.

Install (CPU torch first, then torchvision WITHOUT dependencies, or pip swaps in a CUDA torch):
    pip install --no-deps torchvision==0.28.0 open-clip-torch==3.3.0 ftfy==6.3.1
"""
import importlib

_lib = None


def ensure_torchvision():
    global _lib
    import torch

    try:
        return importlib.import_module("torchvision")
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise
    # A failed import leaves partial modules behind: drop them before retrying.
    import sys

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    if _lib is None:
        _lib = torch.library.Library("torchvision", "DEF")
        for op in ("nms", "qnms"):
            _lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return importlib.import_module("torchvision")


def ensure_torchvision_if_installed():
    """`ensure_torchvision()` when torchvision is installed; True when it imports. Scripts that do not need
    torchvision but import transformers call it first: with PyPI's CUDA torchvision next to the CPU torch,
    transformers' lazy imports (e.g. `PreTrainedModel`) otherwise fail."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return False
    try:
        ensure_torchvision()
        return True
    except Exception:
        return False

