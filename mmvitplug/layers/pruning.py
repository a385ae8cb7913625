# Copyright (c) mmvitplug contributors.
"""Unstructured weight-pruning primitives of `Pruning Convolutional Neural
Networks with Self-Supervision <https://arxiv.org/abs/2001.03554>`_ (Caron,
Morcos, Bojanowski, Mairal, Joulin 2020): iterative global magnitude
pruning (Han et al. 2015) with rewinding (the lottery ticket's late
resetting, Frankle et al. 2019), and the random-mask baseline.

- :func:`prunable_weights`: the weights of the convolutions and linear
  layers of a module (biases, norms, embeddings stay dense);
- :func:`sparsity_schedule`: the sparsity after each of ``R`` rounds that
  each prune the same fraction ``r`` of the remaining weights, ending at
  the final sparsity exactly;
- :func:`global_magnitude_masks`: the ``round(s N)`` weights of smallest
  magnitude over all tensors pruned (already pruned ones stay pruned;
  ties broken by position: the first in order pruned first);
- :func:`random_masks`: the baseline, random positions with the same
  global count, or the same count per tensor as a reference mask;
- :func:`apply_masks` / :func:`mask_optimizer_state`: zero the pruned
  weights, and the optimizer state (momentum, Adam moments) at their
  positions, so that an optimizer step leaves them at zero.

Masks are boolean tensors (``True``: kept), keyed by parameter name. Pure
torch, no parametrisation: the weights stay ordinary parameters, so state
dicts, checkpoints, EMA copies and exported backbones keep their keys and
hold the zeros themselves (``torch.nn.utils.prune`` renames every weight
to ``weight_orig`` plus a ``weight_mask`` buffer, which breaks all of
them).
"""
import fnmatch
from numbers import Integral, Real
from typing import Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.conv import _ConvNd

#: valid values of ``mode`` in :func:`random_masks`
RANDOM_MODES = ('global', 'layerwise')


def prunable_weights(module: nn.Module,
                     exclude: Sequence[str] = ()) -> Dict[str, nn.Parameter]:
    """The weights of every convolution and linear layer of ``module``.

    Args:
        module (nn.Module): The module to prune (e.g. a backbone).
        exclude (Sequence[str]): ``fnmatch`` patterns of parameter names
            (relative to ``module``, e.g. ``'stem.*'``) to keep dense.
            Defaults to ().

    Returns:
        dict[str, nn.Parameter]: ``{name: weight}`` in module order.
    """
    if isinstance(exclude, str):
        raise TypeError('exclude must be a sequence of fnmatch patterns, '
                        f'got the string {exclude!r}')
    weights = {}
    for mod_name, mod in module.named_modules():
        if not isinstance(mod, (_ConvNd, nn.Linear)):
            continue
        weight = getattr(mod, 'weight', None)
        if not isinstance(weight, nn.Parameter):
            continue
        name = f'{mod_name}.weight' if mod_name else 'weight'
        if any(fnmatch.fnmatchcase(name, p) for p in exclude):
            continue
        weights.setdefault(name, weight)  # a shared weight counts once
    if not weights:
        raise ValueError(
            f'no convolution or linear weight to prune in '
            f'{type(module).__name__} (exclude={list(exclude)})')
    return weights


def _check_sparsity(sparsity, name='sparsity') -> float:
    if not isinstance(sparsity, Real) or isinstance(sparsity, bool) \
            or not 0 <= sparsity < 1:
        raise ValueError(f'{name} must be a number in [0, 1) (the fraction '
                         f'of weights set to zero), got {sparsity!r}')
    return float(sparsity)


def sparsity_schedule(final_sparsity: float, num_rounds: int) -> List[float]:
    """The sparsity after each round of iterative pruning.

    Each round prunes the same fraction ``r = 1 - (1 - S) ** (1 / R)`` of
    the weights still there, so after round ``i`` the sparsity is
    ``1 - (1 - r) ** i`` and after round ``R`` exactly ``S``.

    Args:
        final_sparsity (float): ``S`` in (0, 1).
        num_rounds (int): ``R`` >= 1.

    Returns:
        list[float]: ``R`` sparsities, increasing, the last ``S``.
    """
    final_sparsity = _check_sparsity(final_sparsity, 'final_sparsity')
    if final_sparsity == 0:
        raise ValueError('final_sparsity must be in (0, 1), got 0')
    if not isinstance(num_rounds, Integral) or isinstance(num_rounds, bool) \
            or num_rounds < 1:
        raise ValueError(
            f'num_rounds must be an integer >= 1, got {num_rounds!r}')
    kept = 1 - final_sparsity
    schedule = [1 - kept**(i / num_rounds) for i in range(1, num_rounds)]
    return schedule + [final_sparsity]


def num_to_prune(total: int, sparsity: float) -> int:
    """``round(sparsity * total)``: the number of weights pruned."""
    return int(round(_check_sparsity(sparsity) * total))


def _flat(tensors: Mapping[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors.values()])


def _unflat(flat: torch.Tensor,
            like: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, t in like.items():
        out[name] = flat[start:start + t.numel()].view(t.shape).clone()
        start += t.numel()
    return out


def _prior_kept(weights: Mapping[str, torch.Tensor],
                masks: Optional[Mapping[str, torch.Tensor]]) -> torch.Tensor:
    if masks is None:
        return torch.ones(sum(w.numel() for w in weights.values()),
                          dtype=torch.bool,
                          device=next(iter(weights.values())).device)
    if set(masks) != set(weights):
        raise KeyError('masks must have the keys of weights: missing '
                       f'{sorted(set(weights) - set(masks))}, unexpected '
                       f'{sorted(set(masks) - set(weights))}')
    for name, w in weights.items():
        if masks[name].shape != w.shape:
            raise ValueError(f'mask {name!r} has shape '
                             f'{tuple(masks[name].shape)}, its weight '
                             f'{tuple(w.shape)}')
    return _flat({n: masks[n].bool() for n in weights})


def global_magnitude_masks(
        weights: Mapping[str, torch.Tensor],
        sparsity: float,
        masks: Optional[Mapping[str, torch.Tensor]] = None
) -> Dict[str, torch.Tensor]:
    """Global magnitude pruning: exactly ``round(sparsity * N)`` of the
    ``N`` weights (all tensors together) pruned, the smallest ``|w|``.

    Weights already pruned by ``masks`` stay pruned and count towards the
    number (the next round of iterative pruning); among the others the
    smallest magnitudes go. Ties are broken by position (tensors in the
    order of ``weights``, elements in row-major order): the first pruned
    first, so the count is exact whatever the ties.

    Args:
        weights (Mapping[str, Tensor]): The weights, by name.
        sparsity (float): Fraction of all weights to prune, in [0, 1).
        masks (Mapping[str, Tensor], optional): Current masks (``True``:
            kept). Defaults to None: all kept.

    Returns:
        dict[str, Tensor]: The new boolean masks.
    """
    kept = _prior_kept(weights, masks)
    total = kept.numel()
    n_prune = num_to_prune(total, sparsity)
    already = int((~kept).sum())
    if n_prune < already:
        raise ValueError(
            f'sparsity {sparsity} prunes {n_prune} of {total} weights, '
            f'fewer than the {already} the masks already prune')
    score = _flat(weights).abs().float()
    # already pruned: below every magnitude (magnitudes are >= 0)
    score = torch.where(kept, score, torch.full_like(score, -1.))
    order = torch.sort(score, stable=True).indices
    new = torch.ones(total, dtype=torch.bool, device=kept.device)
    new[order[:n_prune]] = False
    return _unflat(new, weights)


def random_masks(weights: Mapping[str, torch.Tensor],
                 sparsity: Optional[float] = None,
                 masks: Optional[Mapping[str, torch.Tensor]] = None,
                 mode: str = 'global',
                 reference: Optional[Mapping[str, torch.Tensor]] = None,
                 generator: Optional[torch.Generator] = None
                 ) -> Dict[str, torch.Tensor]:
    """Random masks: the baseline of a magnitude mask at the same sparsity.

    Pruned positions are drawn uniformly among the weights ``masks`` still
    keeps (already pruned ones stay pruned).

    Args:
        weights (Mapping[str, Tensor]): The weights (only their shapes and
            device are used), by name.
        sparsity (float, optional): ``mode='global'``: the fraction of all
            weights pruned (exactly ``round(sparsity * N)``), wherever.
        masks (Mapping[str, Tensor], optional): Current masks. Defaults to
            None: all kept.
        mode (str): ``'global'``, or ``'layerwise'``: each tensor keeps
            exactly as many weights as in ``reference`` (e.g. the global
            magnitude mask of the same round), at random positions.
        reference (Mapping[str, Tensor], optional): The masks whose
            per-tensor counts ``'layerwise'`` copies.
        generator (torch.Generator, optional): The random generator.

    Returns:
        dict[str, Tensor]: The new boolean masks.
    """
    if mode not in RANDOM_MODES:
        raise ValueError(f'mode must be one of {RANDOM_MODES}, got {mode!r}')
    kept = _unflat(_prior_kept(weights, masks), weights)
    if mode == 'global':
        if sparsity is None or reference is not None:
            raise ValueError("mode='global' takes sparsity, not reference")
        flat = _flat(kept)
        n_prune = num_to_prune(flat.numel(), sparsity)
        already = int((~flat).sum())
        if n_prune < already:
            raise ValueError(
                f'sparsity {sparsity} prunes {n_prune} of {flat.numel()} '
                f'weights, fewer than the {already} the masks already prune')
        return _unflat(_prune_random(flat, n_prune - already, generator),
                       weights)
    if reference is None or sparsity is not None:
        raise ValueError("mode='layerwise' takes reference, not sparsity")
    _prior_kept(weights, reference)  # same keys and shapes
    out = {}
    for name, k in kept.items():
        flat = k.reshape(-1)
        n_keep = int(reference[name].bool().sum())
        n_kept = int(flat.sum())
        if n_keep > n_kept:
            raise ValueError(
                f'reference keeps {n_keep} weights of {name!r}, more than '
                f'the {n_kept} the masks still keep')
        out[name] = _prune_random(flat, n_kept - n_keep,
                                  generator).view(k.shape)
    return out


def _prune_random(kept: torch.Tensor, n: int,
                  generator: Optional[torch.Generator]) -> torch.Tensor:
    """Prune ``n`` of the kept positions of the flat mask ``kept``."""
    candidates = kept.nonzero().squeeze(1)
    perm = torch.randperm(candidates.numel(), generator=generator)
    new = kept.clone()
    new[candidates[perm[:n].to(candidates.device)]] = False
    return new


@torch.no_grad()
def apply_masks(params: Mapping[str, torch.Tensor],
                masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the pruned weights in place (``params[name] *= masks[name]``)."""
    for name, mask in masks.items():
        p = params[name]
        p.mul_(mask.to(device=p.device, dtype=p.dtype))


@torch.no_grad()
def mask_optimizer_state(optimizer: torch.optim.Optimizer,
                         params: Mapping[str, torch.Tensor],
                         masks: Mapping[str, torch.Tensor]) -> None:
    """Zero the optimizer state of the pruned weights in place.

    Every state tensor of a masked parameter with the parameter's shape
    (SGD's ``momentum_buffer``, Adam(W)'s ``exp_avg`` and ``exp_avg_sq``,
    ...) is multiplied by the mask. With zero weights, zero state and zero
    gradients (see :class:`~mmvitplug.engine.hooks.MagnitudePruningHook`)
    the pruned weights stay exactly zero through a step of SGD with
    momentum and weight decay, Adam and AdamW (decoupled decay of 0 is 0).
    """
    for name, mask in masks.items():
        state = optimizer.state.get(params[name])
        if not state:
            continue
        for value in state.values():
            if torch.is_tensor(value) and value.shape == mask.shape:
                value.mul_(mask.to(device=value.device, dtype=value.dtype))


def kept_fraction(masks: Mapping[str, torch.Tensor]) -> float:
    """The fraction of weights the masks keep (all tensors together)."""
    kept = sum(int(m.bool().sum()) for m in masks.values())
    return kept / sum(m.numel() for m in masks.values())
