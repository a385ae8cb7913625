# Copyright (c) mmvitplug contributors.
"""Token-pruning primitives of `DynamicViT
<https://arxiv.org/abs/2106.02034>`_ (Rao et al., NeurIPS 2021).

- :func:`keep_tokens`: the context in which a backbone runs with a token
  keep state (:class:`TokenKeep`): in training a keep *policy* of the patch
  tokens (tokens are masked, not removed), at inference the indices of the
  patch tokens *kept* (tokens were gathered away). Every attention that
  honours it (:func:`~mmvitplug.layers.attend`, hence
  :class:`~mmvitplug.layers.Attention` and
  :class:`~mmvitplug.layers.ClassAttention`;
  :class:`~mmvitplug.layers.TalkingHeadsAttention`; ConViT's GPSA; CCT's
  sequence pooling) then restricts its weights to the kept keys with
  :func:`softmax_with_policy`, and a position-dependent one (GPSA) reads
  the kept positions, so a backbone family runs its own blocks and top
  unchanged inside the context;
- :func:`softmax_with_policy`: attention weights restricted to the tokens a
  (differentiable, hard) keep policy keeps, every token keeping its
  self-loop, computed in float32 (the official ``softmax_with_policy``);
- :func:`batch_index_select`: the per-sample gather of the kept tokens
  (inference: tokens are really removed);
- :class:`TokenKeepPredictor`: the official ``PredictorLG``, keep / drop
  log-probabilities of each token from its own features and the mean of
  the kept tokens'.

Pure torch. The policy-masked attention has an explicit path only: the
gradient of its weights with respect to the policy is what trains the
predictors (through the straight-through Gumbel decisions), and the fused
kernel's masks carry none (a multiplicative 0 / 1 policy is an additive
``log`` mask of ``-inf``, whose gradient is not finite). At inference the
dropped tokens are gathered away and the blocks run their own fused
attention, so no fused policy path is needed there either.

The state is a context (as :func:`~mmvitplug.layers.record_attention`)
rather than an argument, so that the pruning wrapper runs each family's
own ``forward_stage`` and ``format_output`` (class tokens joining late,
class-attention tops, relative positions) instead of a copy of them per
family; a gradient-checkpointed layer re-enters it when recomputed
(:func:`bind_keep`).
"""
import contextlib
import functools
from numbers import Real
from typing import (Callable, Iterator, List, NamedTuple, Optional, Sequence,
                    Union)

import torch
import torch.nn as nn


def keep_ratios(keep_ratio: Union[float, Sequence[float]],
                num_locations: int) -> List[float]:
    """The kept fraction at each of ``num_locations`` pruning locations.

    Args:
        keep_ratio (float | Sequence[float]): ``rho`` in (0, 1] (DynamicViT's
            ``base_rate``), giving ``rho ** (l + 1)`` at location ``l``; or
            the non-increasing fractions in (0, 1] themselves.
        num_locations (int): Number of pruning locations.

    Returns:
        list[float]: One fraction per location.
    """

    def valid(v):
        return isinstance(v, Real) and not isinstance(v, bool) and 0 < v <= 1

    if valid(keep_ratio):
        return [float(keep_ratio)**(i + 1) for i in range(num_locations)]
    if isinstance(keep_ratio, (list, tuple)) and \
            len(keep_ratio) == num_locations and \
            all(map(valid, keep_ratio)) and all(
                b <= a for a, b in zip(keep_ratio, keep_ratio[1:])):
        return [float(v) for v in keep_ratio]
    raise ValueError(
        'keep_ratio must be a number in (0, 1] (rho: the kept fractions '
        f'rho, rho^2, ... at the {num_locations} pruning locations) or a '
        f'non-increasing list of {num_locations} such numbers, got '
        f'{keep_ratio!r}')


def _policy_2d(policy: torch.Tensor, batch: int, num_tokens: int,
               name: str = 'policy') -> torch.Tensor:
    """A policy (B, N) or (B, N, 1) as (B, N), checked."""
    if not isinstance(policy, torch.Tensor):
        raise TypeError(f'{name} must be a tensor, got '
                        f'{type(policy).__name__}')
    if policy.dim() == 3 and policy.size(-1) == 1:
        policy = policy[..., 0]
    if policy.dim() != 2 or tuple(policy.shape) != (batch, num_tokens):
        raise ValueError(
            f'{name} must be (B, N) or (B, N, 1) = ({batch}, {num_tokens}), '
            f'one keep value per token; got {tuple(policy.shape)}')
    return policy


class TokenKeep(NamedTuple):
    """The token keep state of :func:`keep_tokens`.

    Attributes:
        policy (Tensor, optional): Keep decisions of the patch tokens
            (B, N) in [0, 1] (training: 1 keep, 0 dropped, differentiable).
        kept (Tensor, optional): Indices (B, M) into the input's N patch
            tokens of the M patch tokens still present (inference, after
            :func:`batch_index_select`), in the order they are.
        num_patches (int): N, the patch tokens of the input grid.
    """
    policy: Optional[torch.Tensor]
    kept: Optional[torch.Tensor]
    num_patches: int


#: the active :func:`keep_tokens` states (innermost last)
_KEEPS: List[TokenKeep] = []


@contextlib.contextmanager
def _entered(state: TokenKeep) -> Iterator[TokenKeep]:
    _KEEPS.append(state)
    try:
        yield state
    finally:
        _KEEPS.pop()


def keep_tokens(policy: Optional[torch.Tensor] = None,
                kept: Optional[torch.Tensor] = None,
                num_patches: Optional[int] = None):
    """Run a backbone with a token keep state (a context manager).

    Inside, the attentions that honour it treat the **patch tokens** as the
    last N tokens of their keys, any tokens in front (class / distillation
    tokens) as always kept:

    - with ``policy`` (training), the weights go through
      :func:`softmax_with_policy` (explicit path): a dropped key gets no
      weight, every token keeps its self-loop, so each kept token (and each
      class token) gets exactly (up to ``eps``) what it would get with the
      dropped tokens removed;
    - with ``kept`` (inference, tokens gathered away), position-dependent
      attention (ConViT's GPSA) reads the positions of the tokens present.

    Args:
        policy (Tensor, optional): Keep decisions (B, N) or (B, N, 1) of the
            N patch tokens.
        kept (Tensor, optional): Long indices (B, M) of the patch tokens
            present into the input's ``num_patches`` patch tokens.
        num_patches (int, optional): N of the input, with ``kept`` only.

    Returns:
        A context manager yielding the :class:`TokenKeep`.

    Raises:
        ValueError: Not exactly one of ``policy`` and ``kept``, or either
            malformed.
    """
    if (policy is None) == (kept is None):
        raise ValueError('keep_tokens takes a policy (training) or kept '
                         'indices (inference), exactly one of them')
    if policy is not None:
        if not isinstance(policy, torch.Tensor) or policy.dim() not in (
                2, 3) or (policy.dim() == 3 and policy.size(-1) != 1):
            raise ValueError('policy must be keep decisions (B, N) or '
                             '(B, N, 1), got '
                             f'{getattr(policy, "shape", policy)!r}')
        if num_patches is not None:
            raise ValueError('num_patches goes with kept; a policy has one '
                             'entry per patch token')
        policy = policy.reshape(policy.shape[:2])
        return _entered(TokenKeep(policy, None, policy.size(1)))
    if not isinstance(kept, torch.Tensor) or kept.dim() != 2 or \
            kept.is_floating_point():
        raise ValueError('kept must be long indices (B, M) of the patch '
                         'tokens present, got '
                         f'{getattr(kept, "shape", kept)!r}')
    if isinstance(num_patches, torch.Tensor) and num_patches.dim() == 0 \
            and not num_patches.is_floating_point():
        num_patches = int(num_patches)  # a size while tracing
    if isinstance(num_patches, bool) or not isinstance(num_patches, int) \
            or num_patches < kept.size(1):
        raise ValueError(
            f'num_patches must be the int N >= M = {kept.size(1)} of patch '
            f'tokens of the input that kept indexes, got {num_patches!r}')
    return _entered(TokenKeep(None, kept, num_patches))


def active_keep() -> Optional[TokenKeep]:
    """The innermost active :func:`keep_tokens` state, or None."""
    return _KEEPS[-1] if _KEEPS else None


def key_policy(num_keys: int) -> Optional[torch.Tensor]:
    """The active keep policy over ``num_keys`` keys: ones for the
    ``num_keys - N`` tokens in front of the N patch tokens, then the
    policy; None outside a :func:`keep_tokens` policy.

    Raises:
        ValueError: Fewer keys than patch tokens (the attention does not
            attend over the patch tokens: it cannot honour the policy).
    """
    state = active_keep()
    if state is None or state.policy is None:
        return None
    policy = state.policy
    extra = num_keys - policy.size(1)
    if extra < 0:
        raise ValueError(
            f'a token keep policy of {policy.size(1)} patch tokens is '
            f'active, but an attention has {num_keys} keys: only an '
            'attention over (extra tokens and) the patch tokens can honour '
            'it')
    if extra == 0:
        return policy
    return torch.cat([policy.new_ones(policy.size(0), extra), policy], dim=1)


def bind_keep(fn: Callable) -> Callable:
    """``fn``, re-entering the active :func:`keep_tokens` state when called
    (a gradient-checkpointed layer is recomputed in the backward pass,
    outside the context); ``fn`` itself when none is active."""
    state = active_keep()
    if state is None:
        return fn

    @functools.wraps(fn)
    def bound(*args, **kwargs):
        with _entered(state):
            return fn(*args, **kwargs)

    return bound


def keep_matrix(policy: torch.Tensor, num_queries: int) -> torch.Tensor:
    """``g_ij = p_j + (1 - p_j) [i == j]`` (B, 1, Nq, Nk), float32: the keys
    each query keeps, a self-attention's queries (``Nq == Nk``) keeping
    their self-loops; a cross / class attention's queries (``Nq != Nk``)
    the policy alone.

    Args:
        policy (Tensor): Keep policy over the keys (B, Nk).
        num_queries (int): Nq.
    """
    keep = policy.float()[:, None, None, :]
    if num_queries == policy.size(1):
        eye = torch.eye(num_queries, dtype=torch.float32,
                        device=policy.device)
        keep = keep + (1. - keep) * eye
    return keep


def softmax_with_policy(logits: torch.Tensor,
                        policy: torch.Tensor,
                        eps: float = 1e-6) -> torch.Tensor:
    r"""Attention weights over the keys a keep policy keeps.

    With logits :math:`a_{ij}` (query i, key j), the policy
    :math:`p_j \in [0, 1]` (1 = keep) and :math:`g_{ij}` of
    :func:`keep_matrix` (self-attention: every token keeps its self-loop)::

        g_ij = p_j + (1 - p_j) * [i == j]      (p_j for Nq != Nk)
        m_i  = max over the kept keys (g_ij > 0) of a_ij
        w_ij = (exp(a_ij - m_i) * g_ij + eps / Nk) / (sum_j(...) + eps)

    computed in float32 and returned in the logits' dtype (the official
    ``Attention.softmax_with_policy``, "for stable training"), with one
    change: the official code subtracts the max over *all* keys, so when a
    dropped key's logit exceeds every kept one by more than about
    ``-log(eps)`` (14 for 1e-6; sharp attention, e.g. ConViT's positional
    attention after a query's neighbours were dropped) the kept exponentials
    sum below ``eps`` and the weights become uniform over every key, the
    dropped ones included: training no longer computes what inference on
    the kept tokens computes. With the max over the kept keys their sum is
    at least 1 (the two agree whenever that case does not arise). With a
    hard
    0 / 1 policy the kept queries attend exactly (up to ``eps``) as over the
    kept tokens alone; the weights are differentiable in the policy, which
    is how the predictors learn. A policy of ones gives ``softmax`` (up to
    ``eps``).

    Args:
        logits (Tensor): Attention logits (B, H, Nq, Nk), already scaled.
        policy (Tensor): Keep policy over the keys (B, Nk) or (B, Nk, 1).
        eps (float): Stabiliser, >= 0. Defaults to 1e-6 (the official).

    Returns:
        Tensor: Weights (B, H, Nq, Nk), each row summing to 1 (up to
        ``eps``).
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 4:
        raise ValueError('logits must be attention logits (B, H, Nq, Nk), '
                         f'got {getattr(logits, "shape", logits)!r}')
    if not eps >= 0:
        raise ValueError(f'eps must be >= 0, got {eps!r}')
    B, _, Nq, Nk = logits.shape
    keep = keep_matrix(_policy_2d(policy, B, Nk), Nq)
    dtype = logits.dtype
    logits = logits.to(torch.promote_types(dtype, torch.float32))
    # the max over the kept keys (over all keys in a row that keeps none)
    kept_max = logits.masked_fill(keep == 0, float('-inf')).amax(
        dim=-1, keepdim=True)
    kept_max = torch.where(kept_max == float('-inf'),
                           logits.amax(dim=-1, keepdim=True), kept_max)
    # only dropped keys can lie above it: bounded (they are multiplied by
    # 0; exp(60) keeps their policy gradient finite in float32)
    shifted = (logits - kept_max).clamp(max=60.)
    weights = shifted.exp() * keep
    weights = (weights + eps / Nk) / (weights.sum(-1, keepdim=True) + eps)
    return weights.to(dtype)


def batch_index_select(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Per-sample gather along dim 1: ``out[b, i] = x[b, index[b, i]]``.

    Args:
        x (Tensor): (B, N) or (B, N, C).
        index (Tensor): Long indices (B, M) into ``[0, N)``.

    Returns:
        Tensor: (B, M) or (B, M, C).
    """
    if x.dim() not in (2, 3):
        raise ValueError('batch_index_select takes x of shape (B, N) or '
                         f'(B, N, C), got {tuple(x.shape)}')
    if index.dim() != 2 or index.size(0) != x.size(0):
        raise ValueError(f'index must be (B, M) with B = {x.size(0)}, got '
                         f'{tuple(index.shape)}')
    if x.dim() == 3:
        index = index[:, :, None].expand(-1, -1, x.size(-1))
    return torch.gather(x, 1, index)


class TokenKeepPredictor(nn.Module):
    """Keep / drop log-probabilities of every token (the official
    ``PredictorLG`` of DynamicViT).

    Each token's features go through LayerNorm -> Linear -> GELU; the first
    half of the channels stays per token ("local"), the second half is
    averaged over the tokens the previous decision kept ("global", the
    mean weighted by ``policy``; zero if it kept none) and appended to every
    token; an MLP ``C -> C/2 -> C/4 -> 2`` with GELUs and a log-softmax gives
    ``[log p(keep), log p(drop)]``.

    Args:
        dims (int): Token channels C (>= 4).
    """

    def __init__(self, dims: int):
        super().__init__()
        if isinstance(dims, bool) or not isinstance(dims, int) or dims < 4:
            raise ValueError(f'dims must be an int >= 4, got {dims!r}')
        self.dims = dims
        self.in_conv = nn.Sequential(
            nn.LayerNorm(dims), nn.Linear(dims, dims), nn.GELU())
        self.out_conv = nn.Sequential(
            nn.Linear(dims, dims // 2), nn.GELU(),
            nn.Linear(dims // 2, dims // 4), nn.GELU(),
            nn.Linear(dims // 4, 2), nn.LogSoftmax(dim=-1))

    def forward(self, x: torch.Tensor, policy: torch.Tensor) -> torch.Tensor:
        """Score the tokens.

        Args:
            x (Tensor): Patch tokens (B, N, C).
            policy (Tensor): The previous keep decision (B, N) or (B, N, 1)
                (ones at the first pruning location).

        Returns:
            Tensor: Log-probabilities (B, N, 2), keep first.
        """
        B, N, C = x.shape
        policy = _policy_2d(policy, B, N)[..., None].to(x.dtype)
        x = self.in_conv(x)
        half = C // 2
        local_x = x[..., :half]
        # a sample whose tokens were all dropped gets a zero global part
        # (the official code divides 0 by 0: NaN)
        global_x = (x[..., half:] * policy).sum(
            dim=1, keepdim=True) / policy.sum(
                dim=1, keepdim=True).clamp_min(1e-6)
        x = torch.cat([local_x, global_x.expand(B, N, -1)], dim=-1)
        return self.out_conv(x)
