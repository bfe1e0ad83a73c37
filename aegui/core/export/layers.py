"""Torch layers written back as the Python that builds them, for the generated ``model.py``.

Only plain ``torch.nn`` constructors come out, with their arguments spelt as a person would
write them. A layer this module does not know is an ExportError: the generated file must
rebuild exactly what the app built, or not be written.
"""
from __future__ import annotations

from torch import nn

from .common import ExportError

INDENT = "    "

_SIMPLE = {nn.ReLU: "nn.ReLU()", nn.ELU: "nn.ELU()", nn.GELU: "nn.GELU()", nn.Sigmoid: "nn.Sigmoid()",
           nn.Tanh: "nn.Tanh()", nn.Identity: "nn.Identity()"}


def _size(value) -> str:
    """A kernel, stride or padding: one number when every dimension agrees, else the tuple."""
    if isinstance(value, (tuple, list)):
        values = tuple(int(v) for v in value)
        return str(values[0]) if len(set(values)) == 1 else str(values)
    return str(int(value))


def _conv(module) -> str:
    name = type(module).__name__
    args = [str(module.in_channels), str(module.out_channels), _size(module.kernel_size)]
    if _size(module.stride) != "1":
        args.append(f"stride={_size(module.stride)}")
    if _size(module.padding) != "0":
        args.append(f"padding={_size(module.padding)}")
    if getattr(module, "transposed", False) and _size(module.output_padding) != "0":
        args.append(f"output_padding={_size(module.output_padding)}")
    if _size(module.dilation) != "1" or module.groups != 1 or module.padding_mode != "zeros":
        raise ExportError(f"--python cannot write a {name} with dilation, groups or padding modes yet")
    if module.bias is None:
        args.append("bias=False")
    return f"nn.{name}({', '.join(args)})"


def _norm(module) -> str:
    name = type(module).__name__
    if isinstance(module, nn.LayerNorm):
        args = [str(module.normalized_shape[0]) if len(module.normalized_shape) == 1 else str(module.normalized_shape)]
        if module.eps != 1e-5:
            args.append(f"eps={module.eps!r}")
        if not module.elementwise_affine:
            args.append("elementwise_affine=False")
        elif module.bias is None:
            args.append("bias=False")
        return f"nn.LayerNorm({', '.join(args)})"
    args = [str(module.num_features)]
    if module.eps != 1e-5:
        args.append(f"eps={module.eps!r}")
    if module.momentum != 0.1:
        args.append(f"momentum={module.momentum!r}")
    if not module.affine:
        args.append("affine=False")
    if not module.track_running_stats:
        args.append("track_running_stats=False")
    return f"nn.{name}({', '.join(args)})"


def _attention(module: nn.MultiheadAttention) -> str:
    args = [str(module.embed_dim), str(module.num_heads)]
    if module.dropout:
        args.append(f"dropout={module.dropout!r}")
    if module.in_proj_bias is None:
        args.append("bias=False")
    if module.bias_k is not None or module.add_zero_attn or not module._qkv_same_embed_dim:
        raise ExportError("--python cannot write a MultiheadAttention with key/value biases or other sizes yet")
    if not module.batch_first:
        raise ExportError("--python expects batch-first attention")
    args.append("batch_first=True")
    return f"nn.MultiheadAttention({', '.join(args)})"


def layer(module: nn.Module, depth: int = 0) -> str:
    """The expression that builds ``module`` (nested containers over several lines at ``depth``)."""
    if type(module) in _SIMPLE:
        return _SIMPLE[type(module)]
    if isinstance(module, nn.LeakyReLU):
        return f"nn.LeakyReLU({module.negative_slope!r})"
    if isinstance(module, nn.Dropout):
        return f"nn.Dropout({module.p!r})"
    if type(module) is nn.Linear:
        bias = "" if module.bias is not None else ", bias=False"
        return f"nn.Linear({module.in_features}, {module.out_features}{bias})"
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        return _conv(module)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
        return _norm(module)
    if isinstance(module, nn.MultiheadAttention):
        return _attention(module)
    if type(module) is nn.Sequential:
        return container("nn.Sequential(", ")", [layer(m, depth + 1) for m in module], depth)
    if type(module) is nn.ModuleList:
        return container("nn.ModuleList([", "])", [layer(m, depth + 1) for m in module], depth)
    raise ExportError(f"--python cannot write a {type(module).__name__} layer yet")


def container(opening: str, closing: str, items: list[str], depth: int) -> str:
    """``opening item, item closing``: on one line when short and flat, else one item a line."""
    flat = f"{opening}{', '.join(items)}{closing}"
    if not items:
        return f"{opening}{closing}"
    if len(flat) + len(INDENT) * (depth + 2) <= 110 and all("\n" not in item for item in items):
        return flat
    inner = INDENT * (depth + 1)
    body = "".join(f"\n{inner}{item}," for item in items)
    return f"{opening}{body}\n{INDENT * depth}{closing}"


def call(name: str, kwargs: list[tuple[str, str]], depth: int) -> str:
    """``name(key=value, ...)``, split over lines when it is long."""
    return container(f"{name}(", ")", [f"{key}={value}" for key, value in kwargs], depth)
