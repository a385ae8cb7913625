# Copyright (c) mmvitplug contributors.
"""The building blocks of SPViT (`He et al. 2021, "Pruning Self-attentions
into Convolutional Layers in Single Path"
<https://arxiv.org/abs/2111.11802>`_; official code zhuang-group/SPViT,
``SPViT_DeiT/models_pruning.py``): straight-through Bernoulli gates, the
convolutions derived from a multi-head self-attention's value and output
projections (weight sharing), the single-path searchable attention, the
FFN with hidden-unit gates, and the convolutional branch an attention layer
becomes once the search has chosen it."""
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions.utils import clamp_probs

from .attention import attend

#: the choices of one attention layer, from the cheapest to the dearest
MSA_CHOICES = ('skip', 'conv1x1', 'conv3x3', 'msa')


def bernoulli_sample(probs: torch.Tensor,
                     temperature: float = 1.0) -> torch.Tensor:
    r"""A hard 0/1 sample of Bernoulli(``probs``) with the gradient of its
    relaxed (binary-Concrete) sample: the official ``bernoulli_sample``.

    With :math:`u \sim U(0, 1)`, the relaxed logit is
    :math:`l = (\log\frac{u}{1-u} + \log\frac{p}{1-p}) / T`; the forward
    value is :math:`[l > 0]` (that is :math:`[u > 1 - p]`) and the
    gradient that of :math:`\sigma(l)` (straight-through). ``probs`` and
    ``u`` are clamped away from 0 and 1 as
    ``torch.distributions.utils.clamp_probs`` does.

    Args:
        probs (Tensor): Probabilities of 1, any shape.
        temperature (float): :math:`T` > 0. Defaults to 1.0 (official).

    Returns:
        Tensor: 0/1 values of ``probs``' shape and dtype.
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')
    probs = clamp_probs(probs)
    u = clamp_probs(torch.rand_like(probs))
    logits = (u.log() - (-u).log1p() + probs.log() -
              (-probs).log1p()) / temperature
    soft = torch.sigmoid(logits)
    hard = (logits > 0).to(soft.dtype)
    return hard - soft.detach() + soft


def threshold_indicators(thresholds: torch.Tensor) -> torch.Tensor:
    r"""The deterministic indicators the complexity loss counts: with
    :math:`p = \sigma(\theta)`, the value :math:`[p > 0.5]` with the
    gradient of :math:`\sigma(p - 0.5)` (official ``kernel_indicators`` /
    ``ffn_indicators`` of the FLOPs; the sigmoid is taken twice, as
    officially)."""
    p = torch.sigmoid(thresholds)
    soft = torch.sigmoid(p - 0.5)
    return (p > 0.5).to(soft.dtype) - soft.detach() + soft


def derive_conv(v_weight: torch.Tensor, v_bias: Optional[torch.Tensor],
                proj_weight: torch.Tensor, head_probs: torch.Tensor,
                alpha: float, kernel_size: int
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The convolution an attention layer's value / output projections
    hold (the official weight sharing).

    The ``k = 9`` positions of a 3 x 3 kernel each mix the ``h`` heads with
    :math:`P = \mathrm{softmax}_{heads}(\text{head\_probs} / \alpha)`
    (``head_probs``: (h, 9)): position ``k`` gets the value projection
    :math:`W^v_k = \sum_h P_{h,k} W^v_h` (d x C, d the head dims) and the
    output projection :math:`W^o_k = \sum_h P_{h,k} W^o_h` (C x d).
    Position ``k`` is the kernel entry (row ``k % 3``, column ``k // 3``),
    the official ``view(3, 3, d, C).permute(2, 3, 1, 0)``.

    * ``kernel_size=3``: the conv weight (d, C, 3, 3) of the nine
      :math:`W^v_k`, its bias :math:`\sum_k b^v_k` (the bias of every
      position, also at the zero-padded border, as officially), the output
      projection :math:`\sum_k W^o_k` (C, d);
    * ``kernel_size=1``: the centre position (``k = 4``) alone: the weight
      (d, C, 1, 1), bias :math:`b^v_4`, projection :math:`W^o_4`.

    Args:
        v_weight (Tensor): Value projection (h * d, C), heads outermost.
        v_bias (Tensor, optional): Its bias (h * d, ); None for zeros.
        proj_weight (Tensor): Output projection (C, h * d).
        head_probs (Tensor): Head-mixing logits (h, 9).
        alpha (float): Softmax temperature (official 1e-2).
        kernel_size (int): 3 or 1.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Conv weight, conv bias (d, ),
        output projection (C, d).
    """
    if kernel_size not in (1, 3):
        raise ValueError(f'kernel_size must be 1 or 3, got {kernel_size!r}')
    heads = head_probs.size(0)
    out, dim = v_weight.shape
    if head_probs.shape != (heads, 9) or out % heads:
        raise ValueError(
            f'head_probs must be (num_heads, 9) with num_heads dividing the '
            f'value dims; got head_probs {tuple(head_probs.shape)} for a '
            f'value projection {tuple(v_weight.shape)}')
    d = out // heads
    probs = (head_probs / alpha).softmax(0)  # (h, 9)
    w = torch.einsum('hoc,hk->ock', v_weight.view(heads, d, dim), probs)
    b = torch.einsum('ho,hk->ok',
                     (v_bias if v_bias is not None else v_weight.new_zeros(
                         out)).view(heads, d), probs)
    p = torch.einsum('cho,hk->cok', proj_weight.view(-1, heads, d), probs)
    if kernel_size == 1:
        return w[..., 4, None, None], b[:, 4], p[..., 4]
    # position k = 3 * column + row
    kernel = w.view(d, dim, 3, 3).transpose(2, 3)
    return kernel, b.sum(-1), p.sum(-1)


def _conv_branch(x: torch.Tensor, hw: Tuple[int, int], weight: torch.Tensor,
                 bias: torch.Tensor, bn: nn.Module, proj_weight: torch.Tensor,
                 proj_bias: Optional[torch.Tensor]) -> torch.Tensor:
    """conv -> BN -> ReLU -> projection of the patch tokens (B, HW, C)."""
    B, N, C = x.shape
    H, W = hw
    if N != H * W:
        raise ValueError(f'{N} patch tokens do not form the {H} x {W} grid')
    x = x.transpose(1, 2).reshape(B, C, H, W)
    x = F.conv2d(x, weight, bias, padding=weight.size(-1) // 2)
    x = F.relu(bn(x)).flatten(2).transpose(1, 2)
    return F.linear(x, proj_weight, proj_bias)


def _check_extra(num_extra: int, n: int) -> None:
    if isinstance(num_extra, bool) or not isinstance(num_extra, int) or \
            not 0 <= num_extra < n:
        raise ValueError(f'num_extra_tokens must be an int in [0, {n}), got '
                         f'{num_extra!r}')


class SPViTAttention(nn.Module):
    r"""Single-path searchable attention of SPViT (official
    ``UnifiedAttention``, search mode): multi-head self-attention, and the
    3 x 3 and 1 x 1 convolutions :func:`derive_conv` derives from its own
    value / output projections, gated by three cumulative gates
    :math:`g = \mathrm{cumprod}(b)`::

        out = g2 * MSA + g1 (1 - g2) * conv3x3 + g0 (1 - g1)(1 - g2) * conv1x1

    (all gates 0: a zero output, the attention branch skipped). Each
    convolution (on the patch tokens, as a grid) is followed by its own
    BatchNorm and ReLU, then the derived projection plus the attention's
    projection bias; the class (and distillation) tokens of a convolution
    branch are its input tokens, as officially.

    The gates :math:`b` are Bernoulli samples of
    :math:`\sigma(\theta)` (:func:`bernoulli_sample`, straight-through) in
    training and :math:`[\sigma(\theta) > 0.5]` in eval. When the gates of
    a cheaper choice and the next are both open, the cheaper one's gate is
    detached (the official "slow down the gradient for less-complex
    gates"). :meth:`indicators` gives the deterministic indicators the
    complexity loss counts (:func:`threshold_indicators`, cumulated).

    The parameters keep the names of :class:`~mmvitplug.layers.Attention`
    (``qkv``, ``proj``; the official code splits ``qkv`` into ``qk`` and
    ``v``), so a plain DeiT's weights load as they are; plus ``bn_1x1``,
    ``bn_3x3``, ``head_probs`` (ones) and ``kernel_thresholds`` (theta).

    Args:
        dim (int): Token dimension.
        num_heads (int): Heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the attention's projection.
            Defaults to 0.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        theta (float): Initial gate thresholds (official 1.5: every gate
            opens with probability 0.82). Defaults to 1.5.
        alpha (float): Temperature of the head mixing (official 1e-2).
            Defaults to 1e-2.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True,
                 theta: float = 1.5,
                 alpha: float = 1e-2):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        if not alpha > 0:
            raise ValueError(f'alpha must be > 0, got {alpha!r}')
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.alpha = alpha
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.bn_1x1 = nn.BatchNorm2d(self.head_dim)
        self.bn_3x3 = nn.BatchNorm2d(self.head_dim)
        self.head_probs = nn.Parameter(torch.ones(num_heads, 9))
        self.kernel_thresholds = nn.Parameter(torch.full((3, ), float(theta)))

    @classmethod
    def from_attention(cls, attn: nn.Module, **kwargs) -> 'SPViTAttention':
        """The searchable attention sharing a plain attention's weights
        (a :class:`~mmvitplug.layers.Attention`: ``qkv``, ``proj``,
        ``num_heads``, ``attn_drop``, ``proj_drop``, ``fused_attn``);
        ``kwargs``: ``theta``, ``alpha``."""
        new = cls(
            attn.proj.in_features,
            num_heads=attn.num_heads,
            qkv_bias=attn.qkv.bias is not None,
            attn_drop=attn.attn_drop.p,
            proj_drop=attn.proj_drop.p,
            fused_attn=attn.fused_attn,
            **kwargs)
        new.qkv, new.proj = attn.qkv, attn.proj
        return new

    def value_projection(self) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The value part (C, C) of ``qkv`` and its bias."""
        C = self.dim
        bias = self.qkv.bias[2 * C:] if self.qkv.bias is not None else None
        return self.qkv.weight[2 * C:], bias

    def derived_conv(self, kernel_size: int):
        """:func:`derive_conv` of this layer's weights."""
        v_weight, v_bias = self.value_projection()
        return derive_conv(v_weight, v_bias, self.proj.weight,
                           self.head_probs, self.alpha, kernel_size)

    def gates(self) -> torch.Tensor:
        """The cumulative gates (3, ) of this forward pass: sampled in
        training, thresholded in eval."""
        probs = torch.sigmoid(self.kernel_thresholds)
        b = bernoulli_sample(probs) if self.training else \
            (probs > 0.5).to(probs.dtype)
        g = torch.cumprod(b, dim=0)
        g0, g1, g2 = g.unbind(0)
        if bool(g0) and bool(g1):
            g0 = g0.detach()
            if bool(g2):
                g1 = g1.detach()
        return torch.stack([g0, g1, g2])

    def indicators(self) -> torch.Tensor:
        """Cumulated :func:`threshold_indicators` (3, ) of the thresholds:
        what the complexity loss counts (1 x 1 conv, 3 x 3 conv, MSA)."""
        return torch.cumprod(threshold_indicators(self.kernel_thresholds),
                             dim=0)

    def choice(self) -> str:
        """The chosen operation (one of :data:`MSA_CHOICES`): the eval
        gates."""
        g = torch.cumprod(
            (torch.sigmoid(self.kernel_thresholds.detach()) > 0.5).long(), 0)
        return MSA_CHOICES[int(g.sum())]

    def forward(self, x: torch.Tensor, hw: Tuple[int, int],
                num_extra_tokens: int = 1) -> torch.Tensor:
        """Mix the three operations.

        Args:
            x (Tensor): Tokens (B, E + H * W, C), the E extra tokens first.
            hw (tuple[int, int]): The patch grid (H, W).
            num_extra_tokens (int): E. Defaults to 1.

        Returns:
            Tensor: (B, E + H * W, C).
        """
        B, N, C = x.shape
        _check_extra(num_extra_tokens, N)
        E = num_extra_tokens
        g0, g1, g2 = self.gates().to(x.dtype).unbind(0)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        msa = attend(
            q, k, v,
            scale=self.scale,
            dropout_p=self.attn_drop.p if self.training else 0.,
            fused=self.fused_attn)
        msa = self.proj_drop(self.proj(msa.transpose(1, 2).reshape(B, N, C)))
        extra, patches = x[:, :E], x[:, E:]
        convs = []
        for size, bn in ((3, self.bn_3x3), (1, self.bn_1x1)):
            w, b, p = self.derived_conv(size)
            out = _conv_branch(patches, hw, w, b, bn, p, self.proj.bias)
            convs.append(torch.cat([extra, out], dim=1))
        conv3, conv1 = convs
        return g2 * msa + g1 * (1 - g2) * conv3 + \
            g0 * (1 - g1) * (1 - g2) * conv1


class ConvAttention(nn.Module):
    """The convolution an SPViT attention layer became (official ``bconv``
    of ``post_training_optimize_checkpoint.py``): on the patch tokens as a
    grid, ``conv`` (C -> head dims, ``kernel_size``, zero padding) ->
    ``bn`` -> ReLU -> ``proj`` (head dims -> C); the class (and
    distillation) tokens pass through unchanged.

    Args:
        dim (int): Token dimension C.
        head_dim (int): Channels of the convolution (the attention's head
            dims).
        kernel_size (int): 1 or 3.
    """

    def __init__(self, dim: int, head_dim: int, kernel_size: int):
        super().__init__()
        if kernel_size not in (1, 3):
            raise ValueError(
                f'kernel_size must be 1 or 3, got {kernel_size!r}')
        self.conv = nn.Conv2d(
            dim, head_dim, kernel_size, padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(head_dim)
        self.proj = nn.Linear(head_dim, dim)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int],
                num_extra_tokens: int = 1) -> torch.Tensor:
        """Convolve the patch tokens; as :meth:`SPViTAttention.forward`."""
        _check_extra(num_extra_tokens, x.size(1))
        E = num_extra_tokens
        out = _conv_branch(x[:, E:], hw, self.conv.weight, self.conv.bias,
                           self.bn, self.proj.weight, self.proj.bias)
        return torch.cat([x[:, :E], out], dim=1)


class GatedMlp(nn.Module):
    r"""FFN with a gate on every hidden unit (official ``UnifiedMlp``,
    search mode): ``fc2(drop(gate * act(fc1(x))))``, the gates
    :func:`bernoulli_sample` s of :math:`\sigma(\theta_j)` in training and
    :math:`[\sigma(\theta_j) > 0.5]` in eval; :meth:`indicators` for the
    complexity loss. Parameters: those of
    :class:`~mmvitplug.layers.Mlp` (``fc1``, ``fc2``) and ``thresholds``.

    Args:
        in_features (int): Input channels.
        hidden_features (int): Hidden channels.
        act_layer (Callable[[], nn.Module]): Activation. Defaults to GELU.
        drop (float): Dropout after the gates and after ``fc2``.
            Defaults to 0.
        theta (float): Initial thresholds. Defaults to 1.5.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: int,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 drop: float = 0.,
                 theta: float = 1.5):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.thresholds = nn.Parameter(
            torch.full((hidden_features, ), float(theta)))

    @classmethod
    def from_mlp(cls, mlp: nn.Module, theta: float = 1.5) -> 'GatedMlp':
        """The gated FFN sharing a :class:`~mmvitplug.layers.Mlp`'s
        weights (``fc1``, ``act``, ``drop``, ``fc2``)."""
        if mlp.fc2.out_features != mlp.fc1.in_features:
            raise ValueError('GatedMlp needs an Mlp whose output has its '
                             'input channels')
        new = cls(mlp.fc1.in_features, mlp.fc1.out_features, drop=0.,
                  theta=theta)
        new.fc1, new.act, new.drop, new.fc2 = \
            mlp.fc1, mlp.act, mlp.drop, mlp.fc2
        return new

    def gates(self) -> torch.Tensor:
        """The hidden-unit gates of this forward pass."""
        probs = torch.sigmoid(self.thresholds)
        if self.training:
            return bernoulli_sample(probs)
        return (probs > 0.5).to(probs.dtype)

    def indicators(self) -> torch.Tensor:
        """:func:`threshold_indicators` of the thresholds (hidden, )."""
        return threshold_indicators(self.thresholds)

    def kept(self) -> torch.Tensor:
        """Indices of the hidden units kept at eval."""
        return (torch.sigmoid(self.thresholds.detach()) > 0.5).nonzero()[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated FFN over the last dimension."""
        x = self.act(self.fc1(x)) * self.gates().to(x.dtype)
        return self.drop(self.fc2(self.drop(x)))


def check_msa_choices(choices: Sequence[str], depth: int) -> Tuple[str, ...]:
    """Check per-layer choices (one of :data:`MSA_CHOICES` each)."""
    if not isinstance(choices, (list, tuple)) or len(choices) != depth or \
            any(c not in MSA_CHOICES for c in choices):
        raise ValueError(
            f'msa_choices must be a list of {depth} choices (one per block), '
            f'each one of {MSA_CHOICES}, got {choices!r}')
    return tuple(choices)
