# Copyright (c) mmvitplug contributors.
"""XCiT backbone, with the non-linear Q/K/V embeddings of Ahn et al.

`El-Nouby et al. 2021 <https://arxiv.org/abs/2106.09681>`_ (XCiT);
`Ahn et al. 2021 <https://arxiv.org/abs/2111.10017>`_ (non-linear Q/K/V
embeddings of XCiT, journal version "Redesigning Embedding Layers for
Queries, Keys, and Values in Cross-Covariance Image Transformers",
Mathematics 11(8) 1933, 2023).
"""
import math
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import ClassAttention, DropPath, Mlp
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_tokens, norm_factory

#: The Q/K/V embeddings of :class:`XCA` (see :class:`QKVEmbed`).
QKV_EMBEDS = ('linear', 'separate_nonlinear', 'shared_nonlinear',
              'shared_coded')


def _scaled_linear(x: torch.Tensor, linear: nn.Linear,
                   scale: Optional[torch.Tensor]) -> torch.Tensor:
    """``scale * linear(x)`` with the per-channel ``scale`` folded into the
    weights (a (C_out, C_in) product instead of one over every token)."""
    if scale is None:
        return linear(x)
    bias = linear.bias * scale if linear.bias is not None else None
    return F.linear(x, linear.weight * scale[:, None], bias)


def _dropout(drop: nn.Dropout, x: torch.Tensor) -> torch.Tensor:
    """``drop(x)``, skipped when it is the identity (rate 0 or eval)."""
    return drop(x) if drop.p > 0 and drop.training else x


class ConvPatchEmbed(nn.Module):
    """XCiT's convolutional patch embedding.

    ``log2(patch_size)`` 3x3 stride-2 convolutions, each followed by a
    BatchNorm, with GELUs between them; the widths double up to
    ``embed_dims`` (patch 16: C/8, C/4, C/2, C; patch 8: C/4, C/2, C).
    ``proj.{2i}.0`` / ``proj.{2i}.1`` are the convolutions / BatchNorms, as
    in the official code and timm.

    Args:
        patch_size (int): Total stride, a power of two >= 2 (the official
            models use 8 and 16). Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        embed_dims (int): Output channels; must be divisible by
            ``patch_size / 2``. Defaults to 768.
        norm_cfg (dict): Norm after each convolution.
            Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dims: int = 768,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        if not isinstance(patch_size, int) or patch_size < 2 or \
                patch_size & (patch_size - 1):
            raise ValueError('XCiT patch_size must be a power of two >= 2 '
                             f'(the official models use 8 and 16), got '
                             f'{patch_size!r}')
        if embed_dims % (patch_size // 2):
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible '
                             f'by patch_size / 2 ({patch_size // 2})')
        self.patch_size = patch_size
        num_convs = patch_size.bit_length() - 1
        widths = [embed_dims >> (num_convs - 1 - i) for i in range(num_convs)]
        layers = []
        for i, (cin, cout) in enumerate(zip([in_channels] + widths, widths)):
            if i:
                layers.append(nn.GELU())
            layers.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                    build_norm_layer(norm_cfg, cout)[1]))
        self.proj = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> features (B, embed_dims, H/p, W/p)."""
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f'Input size {H}x{W} is not divisible by the patch size '
                f'{self.patch_size} (XCiT patch grids are H/p x W/p)')
        return self.proj(x)


class FourierPositionEncoding(nn.Module):
    """XCiT's Fourier position encoding, computed for any patch grid.

    Normalised row / column coordinates ``(1..H) / H * 2 pi`` are expanded
    into ``hidden_dims`` sines and cosines each (frequencies
    ``temperature ** (2 floor(i / 2) / hidden_dims)``, as in DETR) and
    projected to ``embed_dims`` by a 1x1 convolution ``token_projection``
    (the only parameters). Nothing is interpolated for other input sizes.

    Args:
        embed_dims (int): Output channels.
        hidden_dims (int): Fourier features per axis. Defaults to 32.
        temperature (float): Frequency base. Defaults to 10000.
    """

    def __init__(self,
                 embed_dims: int,
                 hidden_dims: int = 32,
                 temperature: float = 10000.):
        super().__init__()
        self.token_projection = nn.Conv2d(hidden_dims * 2, embed_dims, 1)
        self.hidden_dims = hidden_dims
        self.temperature = temperature
        self.eps = 1e-6

    def fourier_features(self, hw: Tuple[int, int],
                         device=None) -> torch.Tensor:
        """The (H * W, 2 * hidden_dims) features (y first, then x)."""
        H, W = hw
        scale = 2 * math.pi
        y = torch.arange(1, H + 1, device=device, dtype=torch.float32)
        x = torch.arange(1, W + 1, device=device, dtype=torch.float32)
        y = y / (H + self.eps) * scale
        x = x / (W + self.eps) * scale
        dim_t = torch.arange(self.hidden_dims, device=device,
                             dtype=torch.float32)
        dim_t = self.temperature**(
            2 * torch.div(dim_t, 2, rounding_mode='floor') / self.hidden_dims)

        def expand(pos):  # (L,) -> (L, hidden_dims): sin/cos interleaved
            pos = pos[:, None] / dim_t
            return torch.stack([pos[:, 0::2].sin(), pos[:, 1::2].cos()],
                               dim=2).flatten(1)

        pos_y = expand(y)[:, None].expand(H, W, -1)
        pos_x = expand(x)[None].expand(H, W, -1)
        return torch.cat((pos_y, pos_x), dim=2).reshape(H * W, -1)

    def forward(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The encoding (1, H * W, embed_dims) of an H x W grid."""
        weight = self.token_projection.weight
        features = self.fourier_features(hw, weight.device).to(weight.dtype)
        return F.linear(features, weight.flatten(1),
                        self.token_projection.bias)[None]


class QKVEmbed(nn.Module):
    """Query / key / value embedding of the tokens.

    ``mode`` selects the structure (the three non-linear ones are those of
    `Ahn et al. <https://arxiv.org/abs/2111.10017>`_, who call them SNE,
    P-SNE and F-SNE in the journal version):

    - ``'linear'``: one linear layer per Q, K, V (stacked as ``qkv``,
      ``Linear(C, 3C)``), the standard embedding;
    - ``'separate_nonlinear'`` (SNE): a separate two-layer network with a
      ReLU for each of Q, K, V: ``fc1`` stacks the three first layers
      (``Linear(C, 3h)``), ``fc2_weight`` / ``fc2_bias`` (3, C, h) / (3, C)
      the three second layers;
    - ``'shared_nonlinear'`` (P-SNE): the first layer and its ReLU are shared
      by Q, K and V (``fc1``, ``Linear(C, h)``), the second layers are
      separate (stacked in ``fc2``, ``Linear(h, 3C)``);
    - ``'shared_coded'`` (F-SNE): both layers are shared; a trainable code
      per Q, K, V (``code``, (3, code_dims), initialised one-hot) is
      concatenated to each token before the first layer
      (``fc1``, ``Linear(C + code_dims, h)``; ``fc2``, ``Linear(h, C)``), so
      the codes decide which embedding the shared network computes. The
      first layer's token part is computed once and the code part is a
      per-Q/K/V bias, which is the same function.

    ``h = round(hidden_ratio * C)``. The forward returns q, k, v as one
    (3, B, N, C) tensor or (for ``'linear'`` and ``'shared_nonlinear'``) a
    (B, N, 3, C) view; :meth:`forward` says which.

    The papers' text was not available to us beyond the abstracts: the
    hidden width of the non-linear embeddings (``hidden_ratio``), the code
    size and the code initialisation are our choices, not the authors'.

    Args:
        dim (int): Token channels C.
        mode (str): One of :data:`QKV_EMBEDS`. Defaults to 'linear'.
        bias (bool): Bias of the (last) linear layers. The hidden layers of
            the non-linear embeddings always have one. Defaults to True.
        hidden_ratio (float): Hidden width of the non-linear embeddings as a
            multiple of C. Defaults to 1.
        code_dims (int): Code size of ``'shared_coded'``. Defaults to 3.
    """

    def __init__(self,
                 dim: int,
                 mode: str = 'linear',
                 bias: bool = True,
                 hidden_ratio: float = 1.,
                 code_dims: int = 3):
        super().__init__()
        if mode not in QKV_EMBEDS:
            raise ValueError(f'Unknown qkv_embed {mode!r}; choose from '
                             f'{list(QKV_EMBEDS)}')
        hidden = round(dim * hidden_ratio)
        if mode != 'linear' and hidden < 1:
            raise ValueError(
                f'qkv_hidden_ratio {hidden_ratio} gives {hidden} hidden '
                f'channels for dim {dim}; it must give at least 1')
        self.mode = mode
        self.dim = dim
        if mode == 'linear':
            self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        elif mode == 'separate_nonlinear':
            self.fc1 = nn.Linear(dim, 3 * hidden)
            self.fc2_weight = nn.Parameter(torch.empty(3, dim, hidden))
            self.fc2_bias = nn.Parameter(torch.zeros(3, dim)) \
                if bias else None
        elif mode == 'shared_nonlinear':
            self.fc1 = nn.Linear(dim, hidden)
            self.fc2 = nn.Linear(hidden, 3 * dim, bias=bias)
        else:
            if code_dims < 1:
                raise ValueError(
                    f'qkv_code_dims must be >= 1, got {code_dims}')
            self.code = nn.Parameter(torch.eye(3, code_dims))
            self.fc1 = nn.Linear(dim + code_dims, hidden)
            self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.act = nn.ReLU() if mode != 'linear' else None
        self.reset_parameters()

    def reset_parameters(self):
        """Truncated normal (std 0.02) weights and zero biases, as timm's
        linear layers; one-hot codes."""
        for name, p in self.named_parameters():
            if name == 'code':
                with torch.no_grad():
                    p.copy_(torch.eye(*p.shape))
            elif name.endswith('bias'):
                nn.init.zeros_(p)
            else:
                trunc_normal_(p, std=.02)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, bool]:
        """Embed tokens (B, N, C).

        Returns:
            tuple: ``(qkv, stacked_first)``: q, k, v as a (3, B, N, C)
            tensor when ``stacked_first``, else as (B, N, 3, C).
        """
        B, N, C = x.shape
        if self.mode == 'linear':
            return self.qkv(x).view(B, N, 3, C), False
        if self.mode == 'shared_nonlinear':
            return self.fc2(self.act(self.fc1(x))).view(B, N, 3, C), False
        if self.mode == 'separate_nonlinear':
            h = self.act(self.fc1(x)).view(B * N, 3, -1).transpose(0, 1)
            out = torch.bmm(h, self.fc2_weight.transpose(1, 2))
            if self.fc2_bias is not None:
                out = out + self.fc2_bias[:, None]
            return out.view(3, B, N, C), True
        # shared_coded: fc1([x, code]) = W_x x + (W_c code + b)
        w = self.fc1.weight
        token_part = F.linear(x, w[:, :C])
        code_part = F.linear(self.code, w[:, C:], self.fc1.bias)  # (3, h)
        h = self.act(token_part[None] + code_part[:, None, None])
        return self.fc2(h), True


class XCA(nn.Module):
    """Cross-covariance attention of `XCiT
    <https://arxiv.org/abs/2106.09681>`_.

    Per head, the d x d attention between channels is
    ``softmax(t_h * q_hat^T k_hat)`` where ``q_hat``, ``k_hat`` are
    q and k L2-normalised over the tokens and ``t_h`` the learned
    temperature of the head (``head_temperature``, shape (heads, ); the
    official / timm ``attn.temperature`` has shape (heads, 1, 1) and is
    converted); the output is ``v`` mixed over channels by it. Cost and
    memory are linear in the number of tokens N.

    Two paths compute the same function, both with the (tiny, d x d per
    head, independent of N) attention map materialised:

    - fused (``fused_attn=True``): the normalisation is folded into the
      logits, ``t_h * (q^T k) / (|q| |k|^T)``, so no normalised
      copy of q and k is made (forward or backward);
    - explicit (``fused_attn=False``): the paper's formula step by step
      (normalised copies of q and k, then their product), as timm's
      explicit path.

    :func:`torch.nn.functional.scaled_dot_product_attention` (timm's fused
    path, with the d channels of a head as the sequence and the N tokens as
    the features) is not used: it needs the normalised copies and its CPU
    kernels are slow at such a feature size (XCA forward + backward at
    XCiT-N12 sizes, batch 8, 1 thread, paired runs: the folded path is
    1.12-1.13x timm's fused one).

    Args:
        dim (int): Token channels.
        num_heads (int): Heads; must divide ``dim``. Defaults to 8.
        qkv_bias (bool): Bias of the q/k/v embedding. Defaults to True.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the projection. Defaults to 0.
        qkv_embed (str): Q/K/V embedding structure, see :class:`QKVEmbed`.
            Defaults to 'linear'.
        qkv_hidden_ratio (float): Hidden width of the non-linear
            embeddings. Defaults to 1.
        qkv_code_dims (int): Code size of ``'shared_coded'``.
            Defaults to 3.
        fused_attn (bool): Use the fused path. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 qkv_embed: str = 'linear',
                 qkv_hidden_ratio: float = 1.,
                 qkv_code_dims: int = 3,
                 fused_attn: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f'dim ({dim}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.fused_attn = fused_attn
        # official / timm: attn.temperature of shape (heads, 1, 1)
        self.head_temperature = nn.Parameter(torch.ones(num_heads))
        if qkv_embed not in QKV_EMBEDS:
            raise ValueError(f'Unknown qkv_embed {qkv_embed!r}; choose from '
                             f'{list(QKV_EMBEDS)}')
        # 'linear' keeps the official / timm parameter names attn.qkv.*
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias) \
            if qkv_embed == 'linear' else QKVEmbed(
                dim, qkv_embed, qkv_bias, qkv_hidden_ratio, qkv_code_dims)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _split(self, x: torch.Tensor):
        """q, k, v as (B, heads, N, d) views."""
        B, N, C = x.shape
        H = self.num_heads
        if isinstance(self.qkv, nn.Linear):
            qkv, stacked = self.qkv(x).view(B, N, 3, C), False
        else:
            qkv, stacked = self.qkv(x)
        if stacked:  # (3, B, N, C)
            qkv = qkv.view(3, B, N, H, C // H).permute(0, 1, 3, 2, 4)
        else:  # (B, N, 3, C)
            qkv = qkv.view(B, N, 3, H, C // H).permute(2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def forward(self,
                x: torch.Tensor,
                scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend across channels; tokens (B, N, C) -> (B, N, C), multiplied
        by the per-channel ``scale`` (LayerScale, folded into the output
        projection) if given."""
        B, N, C = x.shape
        q, k, v = self._split(x)  # (B, H, N, d)
        temperature = self.head_temperature.view(-1, 1, 1)
        if self.fused_attn:  # normalisation folded into the d x d logits
            inv_q = 1 / q.norm(dim=2).clamp_min(1e-12)
            inv_k = 1 / k.norm(dim=2).clamp_min(1e-12)
            logits = (q.transpose(-2, -1) @ k) * inv_q[..., :, None] * \
                (inv_k[..., None, :] * temperature)
        else:  # the paper's formula, step by step
            q = F.normalize(q, dim=2)
            k = F.normalize(k, dim=2)
            logits = (q.transpose(-2, -1) @ k) * temperature
        attn = _dropout(self.attn_drop, logits.softmax(dim=-1))
        out = (v @ attn.transpose(-2, -1)).transpose(1, 2)  # (B, N, H, d)
        out = _scaled_linear(out.reshape(B, N, C), self.proj, scale)
        return _dropout(self.proj_drop, out)


class LPI(nn.Module):
    """Local patch interaction: depth-wise 3x3 conv, GELU, BatchNorm,
    depth-wise 3x3 conv on the token grid (names as the official code:
    ``conv1``, ``bn``, ``conv2``).

    The maps are contiguous NCHW: running the convolutions on a
    channels-last view of the tokens (no copies) was about 10% slower on
    CPU (forward + backward, paired runs).

    Args:
        dim (int): Channels.
        kernel_size (int): Kernel of both convolutions. Defaults to 3.
        norm_cfg (dict): Norm between the convolutions.
            Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 dim: int,
                 kernel_size: int = 3,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        padding = kernel_size // 2
        self.conv1 = nn.Conv2d(
            dim, dim, kernel_size, padding=padding, groups=dim)
        self.act = nn.GELU()
        self.bn = build_norm_layer(norm_cfg, dim)[1]
        self.conv2 = nn.Conv2d(
            dim, dim, kernel_size, padding=padding, groups=dim)

    def forward(self,
                x: torch.Tensor,
                hw: Tuple[int, int],
                scale: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Tokens (B, N, C) on an H x W grid -> (B, N, C), multiplied by the
        per-channel ``scale`` (folded into ``conv2``) if given."""
        B, N, C = x.shape
        x = x.transpose(1, 2).reshape(B, C, *hw)
        x = self.bn(self.act(self.conv1(x)))
        conv = self.conv2
        if scale is None:
            x = conv(x)
        else:
            x = F.conv2d(x, conv.weight * scale[:, None, None, None],
                         conv.bias * scale, padding=conv.padding,
                         groups=conv.groups)
        return x.reshape(B, C, N).transpose(1, 2)


class XCABlock(nn.Module):
    """XCiT layer: cross-covariance attention, local patch interaction and
    MLP, each pre-normed, scaled by LayerScale and residual::

        x = x + drop_path(gamma1 * XCA(norm1(x)))
        x = x + drop_path(gamma3 * LPI(norm3(x)))
        x = x + drop_path(gamma2 * MLP(norm2(x)))

    Names follow the official code / timm (``norm1``, ``attn``, ``gamma1``,
    ``norm3``, ``local_mp``, ``gamma3``, ``norm2``, ``mlp``, ``gamma2``).
    Each LayerScale vector is folded into the weights of its branch's last
    layer (attention projection, second LPI convolution, ``mlp.fc2``): a
    (C, C) product instead of one over all B x N tokens, forward and
    backward; zero-rate dropouts are skipped.

    Args:
        dim (int): Channels.
        num_heads (int): XCA heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``
            (truncated). Defaults to 4.
        qkv_bias (bool): Bias of the q/k/v embedding. Defaults to True.
        drop (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        drop_path (float): Stochastic depth of the three branches.
            Defaults to 0.
        init_values (float): LayerScale init (eta). Defaults to 1.
        norm_layer (Callable[[int], nn.Module]): Token norm constructor.
            Defaults to ``nn.LayerNorm`` with eps 1e-6.
        lpi_norm_cfg (dict): Norm inside the LPI.
            Defaults to ``dict(type='BN')``.
        qkv_embed (str): Q/K/V embedding of the XCA, see :class:`QKVEmbed`.
            Defaults to 'linear'.
        qkv_hidden_ratio (float): Hidden width of the non-linear
            embeddings. Defaults to 1.
        qkv_code_dims (int): Code size of ``'shared_coded'``.
            Defaults to 3.
        fused_attn (bool): Fused XCA path. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 init_values: float = 1.,
                 norm_layer=None,
                 lpi_norm_cfg: dict = dict(type='BN'),
                 qkv_embed: str = 'linear',
                 qkv_hidden_ratio: float = 1.,
                 qkv_code_dims: int = 3,
                 fused_attn: bool = True):
        super().__init__()
        if norm_layer is None:
            norm_layer = norm_factory(dict(type='LN', eps=1e-6))
        self.norm1 = norm_layer(dim)
        self.attn = XCA(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            qkv_embed=qkv_embed,
            qkv_hidden_ratio=qkv_hidden_ratio,
            qkv_code_dims=qkv_code_dims,
            fused_attn=fused_attn)
        self.norm3 = norm_layer(dim)
        self.local_mp = LPI(dim, norm_cfg=lpi_norm_cfg)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        for i in (1, 3, 2):
            setattr(self, f'drop_path{i}',
                    DropPath(drop_path) if drop_path > 0. else nn.Identity())
        self.gamma1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma3 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self,
                x: torch.Tensor,
                hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Tokens (B, N, C) on the ``hw`` grid -> tokens; or, without
        ``hw``, an NCHW map (B, C, H, W) -> an NCHW map."""
        if hw is None:
            if x.ndim != 4:
                raise ValueError('XCABlock needs the grid hw for tokens '
                                 f'(B, N, C), got x of shape '
                                 f'{tuple(x.shape)} and no hw')
            hw = x.shape[-2:]
            out = self(x.flatten(2).transpose(1, 2), hw)
            return out.transpose(1, 2).reshape(x.shape).contiguous()
        # LayerScale folded into the last layer of each branch
        x = x + self.drop_path1(self.attn(self.norm1(x), self.gamma1))
        x = x + self.drop_path3(
            self.local_mp(self.norm3(x), hw, self.gamma3))
        mlp = self.mlp
        y = _dropout(mlp.drop, mlp.act(mlp.fc1(self.norm2(x))))
        y = _dropout(mlp.drop, _scaled_linear(y, mlp.fc2, self.gamma2))
        return x + self.drop_path2(y)


class XCiTClassAttentionBlock(nn.Module):
    """XCiT's class-attention layer on ``[cls, patches]`` (B, 1 + N, C).

    As the official code (and timm): the class token is updated by class
    attention and an MLP; the patch tokens are not attended, but they do
    change: they receive their own normalised value through the first
    LayerScale (``x_p + gamma1 * norm1(x)_p``), and with ``tokens_norm``
    they are normalised by ``norm2`` (else only the class token is). The
    next class-attention layer reads these patch tokens::

        u = norm1(x)
        x = x + gamma1 * [attn(u)_cls, u_patches]
        x = norm2(x)  (tokens_norm) or [norm2(x_cls), x_patches]
        x_cls = x_cls + gamma2 * mlp(x_cls)

    Names follow timm (``norm1``, ``attn.{q,k,v,proj}``, ``gamma1``,
    ``norm2``, ``mlp``, ``gamma2``).

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``
            (truncated). Defaults to 4.
        qkv_bias (bool): Bias of q, k, v. Defaults to True.
        drop (float): Dropout after the projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        init_values (float): LayerScale init (eta). Defaults to 1.
        tokens_norm (bool): Normalise every token with ``norm2``, not only
            the class token. Defaults to True.
        norm_layer (Callable[[int], nn.Module]): Token norm constructor.
            Defaults to ``nn.LayerNorm`` with eps 1e-6.
        fused_attn (bool): Fused attention kernel. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 init_values: float = 1.,
                 tokens_norm: bool = True,
                 norm_layer=None,
                 fused_attn: bool = True):
        super().__init__()
        if norm_layer is None:
            norm_layer = norm_factory(dict(type='LN', eps=1e-6))
        self.norm1 = norm_layer(dim)
        self.attn = ClassAttention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.gamma1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma2 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.tokens_norm = tokens_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Update ``[cls, patches]`` (B, 1 + N, C)."""
        u = self.norm1(x)
        x = x + self.gamma1 * torch.cat([self.attn(u), u[:, 1:]], dim=1)
        if self.tokens_norm:
            x = self.norm2(x)
        else:
            x = torch.cat([self.norm2(x[:, :1]), x[:, 1:]], dim=1)
        cls = x[:, :1]
        cls = cls + self.gamma2 * self.mlp(cls)
        return torch.cat([cls, x[:, 1:]], dim=1)


def _arch_zoo() -> Dict[str, dict]:
    """XCiT's 14 models and Ahn et al.'s non-linear Q/K/V variants."""
    zoo = {
        f'xcit-{name}-{depth}-p{patch}': dict(
            embed_dims=dims,
            num_layers=depth,
            num_heads=heads,
            patch_size=patch,
            init_values=1. if depth == 12 else 1e-5,
            tokens_norm=name != 'nano')
        for name, dims, depth, heads in (
            ('nano', 128, 12, 4),
            ('tiny', 192, 12, 4),
            ('small', 384, 12, 8),
            ('tiny', 192, 24, 4),
            ('small', 384, 24, 8),
            ('medium', 512, 24, 8),
            ('large', 768, 24, 16),
        ) for patch in (16, 8)
    }
    # Ahn et al.'s XCiT-N12 / T12 / S12 (p16) with non-linear Q/K/V
    # embeddings, named after the journal version's SNE / P-SNE / F-SNE
    for name in ('xcit-nano-12-p16', 'xcit-tiny-12-p16', 'xcit-small-12-p16'):
        for short, mode in (('sne', 'separate_nonlinear'),
                            ('psne', 'shared_nonlinear'),
                            ('fsne', 'shared_coded')):
            zoo[f'{name}-{short}'] = dict(zoo[name], qkv_embed=mode)
    return zoo


@MODELS.register_module()
class XCiT(VisionBackbone):
    """Cross-Covariance Image Transformer backbone.

    `XCiT <https://arxiv.org/abs/2106.09681>`_: a convolutional patch
    embedding (stride ``patch_size``, BatchNorm), a Fourier position
    encoding computed for each input grid, ``num_layers`` XCiT layers
    (cross-covariance attention, local patch interaction, MLP; cost linear
    in the number of tokens) and, for classification, a class token that
    joins after the trunk and is updated by ``num_ca_layers``
    class-attention layers, then the final norm. Any input whose sides are
    multiples of ``patch_size`` is accepted (nothing to interpolate).

    ``qkv_embed`` replaces the linear Q/K/V embedding of the XCiT layers
    by the non-linear ones of `Ahn et al. <https://arxiv.org/abs/2111.10017>`_
    (see :class:`QKVEmbed`); the class-attention layers keep linear
    embeddings.

    Parameter names follow timm (``patch_embed.proj``,
    ``pos_embed.token_projection``, ``blocks.{i}.*``, ``cls_token``,
    ``cls_attn_blocks.{j}.attn.{q,k,v,proj}``, ``norm``) except the XCA
    temperatures, ``blocks.{i}.attn.head_temperature`` of shape (heads, )
    (timm / official ``attn.temperature``, (heads, 1, 1)), so official and
    timm checkpoints load after
    :func:`mmvitplug.converters.xcit.convert_xcit`.

    ``out_indices`` index the XCiT layers; their dense outputs ('featmap',
    'avg_featmap', 'raw' patch tokens) are not normalised, as the official
    detection / segmentation backbone's. 'cls_token' (only after the last
    layer) is the class token after the class-attention layers and the
    final norm. The class token, class-attention layers and final norm are
    built only for ``out_type='cls_token'``.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``, ``patch_size``,
            ``init_values`` (LayerScale eta; optionally ``tokens_norm``,
            default True, ``mlp_ratio``, default 4, ``num_ca_layers``,
            default 2, ``qkv_embed``, default 'linear'). The zoo has the 14
            XCiT models ('xcit-{nano,tiny,small}-12-p{16,8}',
            'xcit-{tiny,small,medium,large}-24-p{16,8}') and, for the three
            12-layer p16 ones, Ahn et al.'s variants (suffix '-sne',
            '-psne', '-fsne'). Defaults to 'xcit-tiny-12-p16'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): XCiT layers whose output is
            returned; negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' (B, C), only with ``out_indices`` the
            last layer; 'featmap' (B, C, H/p, W/p); 'avg_featmap' (B, C)
            mean of the patch tokens; 'raw' (B, N, C) patch tokens.
            Defaults to 'cls_token'.
        qkv_bias (bool): Bias of the q/k/v embeddings. Defaults to True.
        qkv_embed (str, optional): Q/K/V embedding of the XCiT layers:
            'linear' (XCiT), 'separate_nonlinear' (SNE), 'shared_nonlinear'
            (P-SNE) or 'shared_coded' (F-SNE); see :class:`QKVEmbed`.
            Defaults to None: the arch's ``qkv_embed`` ('linear' unless the
            arch says otherwise, e.g. 'xcit-nano-12-p16-sne').
        qkv_hidden_ratio (float): Hidden width of the non-linear embeddings
            as a multiple of ``embed_dims``. Defaults to 1.
        qkv_code_dims (int): Code size of 'shared_coded'. Defaults to 3.
        use_pos_embed (bool): Add the Fourier position encoding.
            Defaults to True.
        drop_rate (float): Dropout after the position encoding, after the
            attention projections and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of every XCiT layer (a
            constant rate over depth, as official XCiT; none in the
            class-attention layers). Defaults to 0.
        norm_cfg (dict): Token norm. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        conv_norm_cfg (dict): Norm of the patch embedding and the LPI
            (``dict(type='SyncBN')`` for multi-GPU dense training, as the
            official detection code). Defaults to ``dict(type='BN')``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            embedding and position encoding; k > 0 also the first k layers,
            and k == num_layers also the class token, the class-attention
            layers and the final norm. Frozen parts stay in eval mode (also
            their BatchNorms). Defaults to -1.
        fused_attn (bool): Fused attention paths. Defaults to True.
        with_cp (bool): Gradient checkpointing of the layers in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = _arch_zoo()
    arch_keys = ('embed_dims', 'num_layers', 'num_heads', 'patch_size',
                 'init_values')
    optional_arch_keys = ('tokens_norm', 'mlp_ratio', 'num_ca_layers',
                          'qkv_embed')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    token_pruning_note = (
        'its local patch interaction (LPI) is a depth-wise convolution over '
        'the full patch grid and XCA attends over channels, not tokens: a '
        'dropped token cannot be left out')
    final_only_out_types = {
        'cls_token':
        'the class token exists only after the class-attention layers'
    }
    stage_unit = 'XCiT layers'
    parts = Parts(
        stem=('patch_embed', 'pos_embed', 'pos_drop'),
        stages='blocks',
        top=('cls_token', 'cls_attn_blocks', 'norm'))
    trunc_normal_params = ('cls_token', )

    def __init__(self,
                 arch: Union[str, dict] = 'xcit-tiny-12-p16',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 qkv_bias: bool = True,
                 qkv_embed: Optional[str] = None,
                 qkv_hidden_ratio: float = 1.,
                 qkv_code_dims: int = 3,
                 use_pos_embed: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 conv_norm_cfg: dict = dict(type='BN'),
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        self.embed_dims = dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        self.num_heads = settings['num_heads']
        self.patch_size = settings['patch_size']
        self.num_ca_layers = settings.get('num_ca_layers', 2)
        self.tokens_norm = settings.get('tokens_norm', True)
        mlp_ratio = settings.get('mlp_ratio', 4.)
        init_values = settings['init_values']
        if qkv_embed is None:
            qkv_embed = settings.get('qkv_embed', 'linear')
        self.qkv_embed = qkv_embed

        self.patch_embed = ConvPatchEmbed(self.patch_size, in_channels, dims,
                                          conv_norm_cfg)
        self.pos_embed = FourierPositionEncoding(dims) \
            if use_pos_embed else None
        self.pos_drop = nn.Dropout(drop_rate)
        norm_layer = norm_factory(norm_cfg)
        self.blocks = nn.ModuleList([
            XCABlock(
                dims,
                self.num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=drop_path_rate,
                init_values=init_values,
                norm_layer=norm_layer,
                lpi_norm_cfg=conv_norm_cfg,
                qkv_embed=qkv_embed,
                qkv_hidden_ratio=qkv_hidden_ratio,
                qkv_code_dims=qkv_code_dims,
                fused_attn=fused_attn) for _ in range(self.num_layers)
        ])
        with_cls = out_type == 'cls_token'
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims)) \
            if with_cls else None
        self.cls_attn_blocks = nn.ModuleList([
            XCiTClassAttentionBlock(
                dims,
                self.num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                init_values=init_values,
                tokens_norm=self.tokens_norm,
                norm_layer=norm_layer,
                fused_attn=fused_attn)
            for _ in range(self.num_ca_layers if with_cls else 0)
        ])
        self.norm = norm_layer(dims) if with_cls else None

    def init_default_weights(self):
        """timm's initialisation: truncated normal (std 0.02) class token
        and linear weights, zero biases; the non-linear Q/K/V embeddings
        alike (codes one-hot)."""
        super().init_default_weights()
        for m in self.modules():
            if isinstance(m, QKVEmbed):
                m.reset_parameters()

    def embed(self, x: torch.Tensor):
        """Patch tokens plus the Fourier position encoding of their grid."""
        x = self.patch_embed(x)
        hw = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        if self.pos_embed is not None:
            x = x + self.pos_embed(hw)
        return self.pos_drop(x), hw

    def forward_stage(self, index: int, x: torch.Tensor,
                      hw: Tuple[int, int]):
        """Run XCiT layer ``index`` on the ``hw`` grid."""
        return self.run_layer(self.blocks[index], x, hw), hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """Patch outputs of a layer, or the normalised class token after
        the class-attention layers."""
        if self.out_type != 'cls_token':
            return format_tokens(x, self.out_type, hw)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for block in self.cls_attn_blocks:
            x = self.run_layer(block, x)
        return self.norm(x[:, :1])[:, 0]
