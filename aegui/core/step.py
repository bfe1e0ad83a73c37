"""One optimisation step for any spec: the objective assembled from its terms.

Nothing here reads a tensor back to the host: loss terms stay on the device
and are summed into accumulators that the trainer reads once per report.
"""
from __future__ import annotations

from typing import Iterable

import torch

from . import objectives as obj
from .models import Autoencoder
from .spec import AutoencoderSpec


def split_decay_params(params: Iterable[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(weights, biases): 1-D parameters (biases, norm scales) decay with the bias setting."""
    weights, biases = [], []
    for p in params:
        (biases if p.ndim <= 1 else weights).append(p)
    return weights, biases


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether every element is finite, with one host read. A sum per tensor is a fast reduction and
    NaN or inf anywhere makes it non-finite; ``isfinite().all()`` per tensor cost ~2 ms a report here."""
    sums = [t.detach().sum() for t in tensors]
    return not sums or bool(torch.stack(sums).sum().isfinite())


def objective_loss(model: Autoencoder, spec: AutoencoderSpec, x_clean: torch.Tensor, x_in: torch.Tensor,
                   live: dict[str, float], disc=None) -> tuple[torch.Tensor, dict[str, torch.Tensor], object]:
    """The total loss and its terms for one batch; ``x_in`` is what the encoder sees."""
    o = spec.objective
    terms: dict[str, torch.Tensor] = {}
    if o.contractive.weight > 0:
        penalty, encoded = obj.contractive_penalty(model, x_in)
        logits = model.decode(encoded.code)
        terms["contractive"] = penalty
    else:
        logits, encoded = model(x_in)
    recon = obj.reconstruction_loss(logits.float(), x_clean, spec.likelihood)
    terms["recon"] = recon
    loss = recon
    if o.contractive.weight > 0:
        loss = loss + o.contractive.weight * terms["contractive"]
    if model.variational:
        per_dim = obj.kl_per_dim(encoded.mu.float(), encoded.logvar.float())
        terms["kl"] = obj.kl_loss(per_dim, o.variational.free_bits)
        terms["_kl_per_dim"] = per_dim
        loss = loss + live["beta"] * terms["kl"]
    if o.sparsity.kind != "none":
        act = obj.sparsity_activations(encoded, o.sparsity.layer).float()
        term = obj.l1_sparsity(act) if o.sparsity.kind == "l1" else obj.kl_sparsity(act, o.sparsity.target)
        terms["sparsity"] = term
        loss = loss + live["sparsity_weight"] * term
    if disc is not None:
        terms["adv_gen"] = obj.generator_loss(disc, encoded.mean_code.float())
        loss = loss + o.adversarial.weight * terms["adv_gen"]
    terms["total"] = loss
    return loss, terms, encoded


def decay_penalty(spec: AutoencoderSpec, weights, biases) -> torch.Tensor | None:
    """The L1 decay term; L2 decay is done by the optimiser's weight_decay instead."""
    reg = spec.train.regularization
    if reg.decay != "l1" or (reg.weight_decay == 0 and reg.bias_decay == 0):
        return None
    penalty = None
    if reg.weight_decay > 0 and weights:
        penalty = reg.weight_decay * obj.l1_decay(weights)
    if reg.bias_decay > 0 and biases:
        term = reg.bias_decay * obj.l1_decay(biases)
        penalty = term if penalty is None else penalty + term
    return penalty


def make_optimizer(spec: AutoencoderSpec, params_groups: list[dict], lr: float) -> torch.optim.Optimizer:
    name = spec.train.optimizer
    if name == "adam":
        return torch.optim.Adam(params_groups, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params_groups, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params_groups, lr=lr)
    return torch.optim.SGD(params_groups, lr=lr, momentum=0.9)


def param_groups(spec: AutoencoderSpec, params: Iterable[torch.Tensor]) -> list[dict]:
    """Optimiser groups for ``params`` (a model's, or one pretraining stage's) with the spec's L2 decay."""
    reg = spec.train.regularization
    weights, biases = split_decay_params(params)
    l2 = reg.decay == "l2"
    weight_decay = reg.weight_decay if l2 else 0.0
    bias_decay = reg.bias_decay if l2 else 0.0
    if weight_decay == bias_decay:
        # One group when both decay alike: each group is a separate optimiser pass per step.
        return [{"params": weights + biases, "weight_decay": weight_decay}]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if biases:
        groups.append({"params": biases, "weight_decay": bias_decay})
    return groups
