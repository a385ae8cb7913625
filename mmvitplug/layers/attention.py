# Copyright (c) mmvitplug contributors.
"""Scaled dot-product attention (:func:`attend`) and multi-head
self-attention (:class:`Attention`), each with a fused and an explicit path.

While :func:`record_attention` is active, every attention computed by
:func:`attend` (and by the layers that materialise their weights
themselves and call :func:`record_weights`) takes its explicit path and
appends its weights to the recording, in forward order: a backbone needs
nothing more to have its attention maps drawn. Likewise, inside a
:func:`~mmvitplug.layers.keep_tokens` policy (DynamicViT's token pruning in
training) :func:`attend` and :func:`masked_softmax` restrict the weights
to the kept tokens (:func:`~mmvitplug.layers.softmax_with_policy`,
explicit path).
"""
import contextlib
from typing import Callable, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .token_pruning import key_policy, softmax_with_policy

#: the recordings of the active :func:`record_attention` contexts (innermost
#: last); each is the list of weights recorded so far
_RECORDINGS: List[List[torch.Tensor]] = []


@contextlib.contextmanager
def record_attention() -> Iterator[List[torch.Tensor]]:
    """Record the attention weights computed inside the context.

    While the context is active, :func:`attend` takes its explicit path
    (the same function as the fused one) and every attention layer of
    :mod:`mmvitplug.layers` and of the backbones appends its weights
    (B, H, Nq, Nk), detached, in forward order, to the list this context
    yields: the post-softmax weights that multiply the values (after head
    mixing for talking heads, after gating for ConViT's GPSA). Token
    attention only: XCiT's cross-covariance attention, whose weights mix
    channels, is not recorded (its class-attention layers are). Contexts
    nest; only the innermost records. Outside any context nothing is
    recorded and no path changes.

    Example:
        >>> with record_attention() as weights:
        ...     backbone(images)
        >>> last = weights[-1]  # the last attention of the forward pass

    Yields:
        list[torch.Tensor]: The recorded weights.
    """
    recording: List[torch.Tensor] = []
    _RECORDINGS.append(recording)
    try:
        yield recording
    finally:
        _RECORDINGS.pop()


def recording_attention() -> bool:
    """Whether a :func:`record_attention` context is active (attention
    layers then take their explicit path and call :func:`record_weights`).
    """
    return bool(_RECORDINGS)


def record_weights(weights: torch.Tensor) -> None:
    """Append attention weights (B, H, Nq, Nk) to the innermost active
    :func:`record_attention` recording, detached; no-op outside one."""
    if _RECORDINGS:
        _RECORDINGS[-1].append(weights.detach())


def check_mask(mask: torch.Tensor, shape: Tuple[int, int, int, int],
               name: str = 'mask') -> None:
    """Check that an attention mask fits logits of shape ``shape``.

    Called by :func:`attend`; attention layers with their own explicit
    path call it before computing anything.

    Args:
        mask (torch.Tensor): The mask; see :func:`attend`.
        shape (tuple[int, int, int, int]): Logit shape (B, H, Nq, Nk).
        name (str): How error messages call the mask. Defaults to 'mask'.

    Raises:
        TypeError: ``mask`` is not a tensor.
        ValueError: ``mask`` is not bool or floating, not 4-D, or does not
            broadcast to ``shape``.
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got '
                        f'{type(mask).__name__}')
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise ValueError(
            f'{name} must be a bool keep-mask (True = attend) or a floating '
            f'additive mask, got dtype {mask.dtype}')
    shape = tuple(shape)
    if mask.ndim != 4 or any(m not in (1, s)
                             for m, s in zip(mask.shape, shape)):
        raise ValueError(
            f'{name} of shape {tuple(mask.shape)} does not broadcast to the '
            f'attention logits (B, H, Nq, Nk) = {shape}; it must be 4-D with '
            'each size equal to the logits\' or 1 (e.g. a keep-mask over '
            'keys: keep[:, None, None, :] of shape (B, 1, 1, Nk))')


def _mask_logits(logits: torch.Tensor,
                 mask: Optional[torch.Tensor]) -> torch.Tensor:
    """Apply an attention mask to logits (B, H, Nq, Nk).

    Bool masks set the ``False`` entries to ``-inf``; floating masks are
    added (in the logits' dtype). See :func:`attend`.
    """
    if mask is None:
        return logits
    if mask.dtype == torch.bool:
        return logits.masked_fill(~mask, float('-inf'))
    return logits + mask.to(logits.dtype)


def masked_softmax(logits: torch.Tensor,
                   mask: Optional[torch.Tensor],
                   softmax: Callable = torch.softmax) -> torch.Tensor:
    """Softmax over the last dimension of masked logits.

    The mask is applied as in :func:`attend` (``False`` / ``-inf`` entries
    get zero weight); attention layers that materialise their weights
    themselves (e.g. :class:`~mmvitplug.layers.TalkingHeadsAttention`) use
    it to share :func:`attend`'s mask semantics. A query row whose keys are
    all masked gets all-zero weights and zero gradients, as
    :func:`torch.nn.functional.scaled_dot_product_attention` gives, instead
    of the NaNs of a plain softmax over ``-inf``.

    Args:
        logits (torch.Tensor): Attention logits (B, H, Nq, Nk).
        mask (torch.Tensor, optional): Bool keep-mask or additive mask,
            4-D and broadcastable to ``logits`` (not checked here; see
            :func:`check_mask`).
        softmax (Callable): The softmax, called as ``softmax(x, dim)``
            (e.g. Mesa's, which stores its output in 8 bits). Defaults to
            :func:`torch.softmax`.

    Inside a :func:`~mmvitplug.layers.keep_tokens` policy the weights are
    :func:`~mmvitplug.layers.softmax_with_policy` of the masked logits
    (the keys' policy: ones for the tokens in front of the patches).

    Returns:
        torch.Tensor: Weights (B, H, Nq, Nk); exactly
        ``softmax(logits, -1)`` when ``mask`` is None (and no keep policy
        is active).

    Raises:
        RuntimeError: A keep policy is active and ``softmax`` is not
            :func:`torch.softmax` (e.g. Mesa's: not combinable).
    """
    policy = key_policy(logits.size(-1))
    if policy is not None:
        if softmax is not torch.softmax:
            raise RuntimeError(
                'a token keep policy is active (keep_tokens: DynamicViT in '
                'training), but this attention runs its own softmax '
                f'({getattr(softmax, "__qualname__", softmax)!r}, e.g. '
                "Mesa's 8-bit one): the two cannot be combined")
        return softmax_with_policy(_mask_logits(logits, mask), policy)
    if mask is None:
        return softmax(logits, -1)
    logits = _mask_logits(logits, mask)
    empty = logits.amax(dim=-1, keepdim=True) == float('-inf')
    weights = softmax(logits.masked_fill(empty, 0.), -1)
    return weights.masked_fill(empty, 0.)


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
              mask: Optional[torch.Tensor]) -> None:
    """Check the arguments of :func:`attend`: q, k, v (B, H, N, D) and a
    mask broadcastable to (B, H, Nq, Nk)."""
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            'attend expects q, k, v of shape (B, H, N, D), got '
            f'{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}')
    if mask is not None:
        check_mask(mask, (*q.shape[:3], k.shape[2]))


def attend_explicit(q: torch.Tensor,
                    k: torch.Tensor,
                    v: torch.Tensor,
                    *,
                    scale: Optional[float] = None,
                    mask: Optional[torch.Tensor] = None,
                    dropout_p: float = 0.,
                    qk_matmul: Callable = torch.matmul,
                    av_matmul: Callable = torch.matmul,
                    softmax: Callable = torch.softmax) -> torch.Tensor:
    """The explicit path of :func:`attend` (arguments not checked), with
    its two products and its softmax replaceable, e.g. by Mesa's, which
    store the tensors they save for backward in 8 bits
    (:class:`~mmvitplug.layers.MesaAttend`).

    Args:
        q, k, v, scale, mask, dropout_p: As :func:`attend`.
        qk_matmul (Callable): The product of ``q * scale`` and ``k^T``.
            Defaults to :func:`torch.matmul`.
        av_matmul (Callable): The product of the weights and ``v``.
            Defaults to :func:`torch.matmul`.
        softmax (Callable): The softmax of :func:`masked_softmax`, called
            as ``softmax(x, dim)``. Defaults to :func:`torch.softmax`.

    Returns:
        torch.Tensor: The attention output (B, H, Nq, Dv).
    """
    if scale is None:
        scale = q.shape[-1]**-0.5
    attn = masked_softmax(qk_matmul(q * scale, k.transpose(-2, -1)), mask,
                          softmax)
    record_weights(attn)
    if dropout_p > 0.:
        attn = F.dropout(attn, dropout_p)
    return av_matmul(attn, v)


def attend(q: torch.Tensor,
           k: torch.Tensor,
           v: torch.Tensor,
           *,
           scale: Optional[float] = None,
           mask: Optional[torch.Tensor] = None,
           dropout_p: float = 0.,
           fused: bool = True) -> torch.Tensor:
    """Scaled dot-product attention ``softmax(q k^T * scale + mask) v``.

    Two paths compute the same function:

    - fused (``fused=True``):
      :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
      memory-efficient kernels, no (Nq, Nk) tensor kept for backward);
    - explicit (``fused=False``): materialises
      ``softmax(q * scale @ k^T + mask)``, as attention-map visualisation,
      hooks and FLOP counters need.

    Mask semantics (identical on both paths):

    - ``None``: every query attends to every key.
    - bool tensor: a *keep-mask*; ``True`` entries take part, ``False``
      entries get exactly zero attention weight (their logit becomes
      ``-inf``). A keep-mask over keys, ``keep[:, None, None, :]`` for
      ``keep`` of shape (B, Nk), gives the kept queries the same output as
      attention over the kept tokens only (token pruning, e.g.
      `DynamicViT <https://arxiv.org/abs/2106.02034>`_).
    - floating tensor: an *additive* mask (a bias, e.g. a relative-position
      bias; ``-inf`` entries are masked out), cast to ``q``'s dtype. It may
      require grad. To combine a keep-mask ``keep`` with a bias ``bias``,
      pass ``bias.masked_fill(~keep, float('-inf'))``.

    The mask must be 4-D and broadcast to the logits (B, H, Nq, Nk): each
    of its sizes equals the logits' or is 1. A query whose keys are all
    masked gets a zero output (and zero gradients) on both paths.

    Args:
        q (torch.Tensor): Queries (B, H, Nq, D).
        k (torch.Tensor): Keys (B, H, Nk, D).
        v (torch.Tensor): Values (B, H, Nk, Dv).
        scale (float, optional): Logit scale. Defaults to ``D ** -0.5``.
        mask (torch.Tensor, optional): Bool keep-mask or floating additive
            mask, broadcastable to (B, H, Nq, Nk). Defaults to None.
        dropout_p (float): Dropout rate on the attention weights; pass 0.
            outside training. Defaults to 0.
        fused (bool): Use the fused kernel (the explicit path runs anyway
            inside :func:`record_attention` and inside a
            :func:`~mmvitplug.layers.keep_tokens` policy). Defaults to True.

    Returns:
        torch.Tensor: The attention output (B, H, Nq, Dv).
    """
    check_qkv(q, k, v, mask)
    if fused and not _RECORDINGS and key_policy(k.size(2)) is None:
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(q.dtype)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)
    return attend_explicit(q, k, v, scale=scale, mask=mask,
                           dropout_p=dropout_p)


class Attention(nn.Module):
    """Multi-head self-attention of `ViT <https://arxiv.org/abs/2010.11929>`_.

    Computed by :func:`attend`: the fused path calls
    :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
    memory-efficient kernels); the explicit path materialises
    ``softmax(q k^T * scale)``, which attention-map visualisation and FLOP
    counters need. Both compute the same function.

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Add a bias to the qkv projection. Defaults to True.
        attn_drop (float): Dropout rate on the attention weights.
            Defaults to 0.
        proj_drop (float): Dropout rate after the output projection.
            Defaults to 0.
        fused_attn (bool): Use the fused kernel. Defaults to True.

    The child ``attend_op`` (None by default, so no parameter, buffer or
    state-dict key) replaces :func:`attend` when set: a module called with
    :func:`attend`'s arguments, e.g. the 8-bit explicit path of
    :class:`~mmvitplug.layers.MesaAttend` that
    :func:`~mmvitplug.layers.convert_to_mesa` plugs in.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn

        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # optional replacement of `attend` (see the class docstring)
        self.register_module('attend_op', None)

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend over tokens.

        Args:
            x (torch.Tensor): Tokens (B, N, C).
            mask (torch.Tensor, optional): Attention mask broadcastable to
                (B, num_heads, N, N), bool keep-mask or additive; see
                :func:`attend`. Defaults to None.

        Returns:
            torch.Tensor: (B, N, C).
        """
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attend_fn = attend if self.attend_op is None else self.attend_op
        x = attend_fn(
            q, k, v,
            scale=self.scale,
            mask=mask,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))
