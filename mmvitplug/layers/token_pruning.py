# Copyright (c) mmvitplug contributors.
"""Token-pruning primitives of `DynamicViT
<https://arxiv.org/abs/2106.02034>`_ (Rao et al., NeurIPS 2021).

- :func:`softmax_with_policy`: attention weights restricted to the tokens a
  (differentiable, hard) keep policy keeps, every token keeping its
  self-loop, computed in float32 (the official ``softmax_with_policy``);
- :func:`policy_attention` / :func:`block_forward_with_policy`: a
  :class:`~mmvitplug.layers.Attention` / :class:`~mmvitplug.layers.Block`
  run with that policy (training: tokens are masked, not removed);
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
"""
from numbers import Real
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn

from .attention import Attention, attend_explicit
from .block import Block


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


def softmax_with_policy(logits: torch.Tensor,
                        policy: torch.Tensor,
                        eps: float = 1e-6) -> torch.Tensor:
    r"""Attention weights over the keys a keep policy keeps.

    With logits :math:`a_{ij}` (query i, key j) and the policy
    :math:`p_j \in [0, 1]` (1 = keep), every token keeping its self-loop::

        g_ij = p_j + (1 - p_j) * [i == j]
        w_ij = (exp(a_ij - max_j a_ij) * g_ij + eps / N) / (sum_j(...) + eps)

    computed in float32 and returned in the logits' dtype (the official
    ``Attention.softmax_with_policy``, "for stable training"). With a hard
    0 / 1 policy the kept queries attend exactly (up to ``eps``) as over the
    kept tokens alone; the weights are differentiable in the policy, which
    is how the predictors learn. A policy of ones gives ``softmax`` (up to
    ``eps``).

    Args:
        logits (Tensor): Attention logits (B, H, N, N), already scaled.
        policy (Tensor): Keep policy (B, N) or (B, N, 1).
        eps (float): Stabiliser, >= 0. Defaults to 1e-6 (the official).

    Returns:
        Tensor: Weights (B, H, N, N), each row summing to 1 (up to ``eps``).
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 4 or \
            logits.size(-1) != logits.size(-2):
        raise ValueError('logits must be self-attention logits (B, H, N, N), '
                         f'got {getattr(logits, "shape", logits)!r}')
    if not eps >= 0:
        raise ValueError(f'eps must be >= 0, got {eps!r}')
    B, _, N, _ = logits.shape
    policy = _policy_2d(policy, B, N).float()
    eye = torch.eye(N, dtype=torch.float32, device=logits.device)
    keep = policy[:, None, None, :]
    keep = keep + (1. - keep) * eye  # self-loops are kept
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    weights = shifted.float().exp() * keep
    weights = (weights + eps / N) / (weights.sum(-1, keepdim=True) + eps)
    return weights.to(logits.dtype)


def policy_attention(attn: Attention,
                     x: torch.Tensor,
                     policy: torch.Tensor,
                     eps: float = 1e-6) -> torch.Tensor:
    """Run an :class:`~mmvitplug.layers.Attention` with a keep policy.

    The module's own ``qkv``, heads, ``scale``, attention dropout and output
    projection, with :func:`softmax_with_policy` in place of the softmax
    (explicit path only, see the module docstring). The weights are recorded
    by :func:`~mmvitplug.layers.record_attention` as any attention's.

    Args:
        attn (Attention): The attention module.
        x (Tensor): Tokens (B, N, C) (the block's normalised input).
        policy (Tensor): Keep policy (B, N) or (B, N, 1).
        eps (float): See :func:`softmax_with_policy`. Defaults to 1e-6.

    Returns:
        Tensor: (B, N, C).
    """
    if not isinstance(attn, Attention):
        raise TypeError('policy_attention runs an mmvitplug.layers.Attention '
                        f'(qkv, num_heads, scale), got {type(attn).__name__}')
    B, N, C = x.shape
    qkv = attn.qkv(x).reshape(B, N, 3, attn.num_heads, attn.head_dim)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)

    def policy_softmax(logits, dim):
        return softmax_with_policy(logits, policy, eps)

    x = attend_explicit(
        q, k, v,
        scale=attn.scale,
        dropout_p=attn.attn_drop.p if attn.training else 0.,
        softmax=policy_softmax)
    x = x.transpose(1, 2).reshape(B, N, -1)
    return attn.proj_drop(attn.proj(x))


def block_forward_with_policy(block: Block,
                              x: torch.Tensor,
                              policy: Optional[torch.Tensor],
                              eps: float = 1e-6) -> torch.Tensor:
    """:meth:`Block.forward` with its attention run by
    :func:`policy_attention` (``policy=None``: the block's own forward).

    Args:
        block (Block): A pre-norm block whose ``attn`` is an
            :class:`~mmvitplug.layers.Attention`.
        x (Tensor): Tokens (B, N, C).
        policy (Tensor, optional): Keep policy (B, N) or (B, N, 1).
        eps (float): See :func:`softmax_with_policy`. Defaults to 1e-6.

    Returns:
        Tensor: (B, N, C).
    """
    if policy is None:
        return block(x)
    if not isinstance(block, Block):
        raise TypeError('block_forward_with_policy runs an '
                        f'mmvitplug.layers.Block, got {type(block).__name__}')
    y = policy_attention(block.attn, block.norm1(x), policy, eps)
    x = x + block.drop_path1(block.ls1(y))
    x = x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
    return x


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
