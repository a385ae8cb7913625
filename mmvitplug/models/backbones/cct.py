# Copyright (c) mmvitplug contributors.
"""CCT backbone (Compact Convolutional Transformer).

`Hassani et al. 2021 <https://arxiv.org/abs/2104.05704>`_.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.layers import (Attention, DropPath, Mlp, attend, masked_softmax,
                              resize_pos_embed)
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_tokens,
                   norm_factory)

POS_EMBEDS = ('learnable', 'sine', 'none')


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution / max-pool along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


class ConvTokenizer(nn.Module):
    """CCT's convolutional tokenizer.

    ``num_layers`` times Conv(k, s, p, no bias) -> ReLU -> MaxPool(3, 2, 1)
    (no pooling with ``pool=False``), then the map (B, C, H', W') is
    flattened into tokens (B, H' * W', C). The intermediate layers have
    ``hidden_channels`` channels, the last ``out_channels``. Parameter names
    are those of the official ``Tokenizer`` (``conv_layers.{i}.0.weight``).

    Args:
        in_channels (int): Image channels.
        out_channels (int): Token channels.
        num_layers (int): Number of conv (+ pooling) layers.
        kernel_size (int): Convolution kernel size.
        stride (int): Convolution stride.
        padding (int): Convolution padding.
        hidden_channels (int): Channels between the layers. Defaults to 64.
        pool (bool): Max-pool (kernel 3, stride 2, padding 1) after each
            activation. Defaults to True.
        img_size (tuple[int, int]): Size of the images the model is made
            for; sets :attr:`grid_size`. Defaults to (224, 224).
    """
    pool_kernel, pool_stride, pool_padding = 3, 2, 1

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_layers: int,
                 kernel_size: int,
                 stride: int,
                 padding: int,
                 hidden_channels: int = 64,
                 pool: bool = True,
                 img_size: Tuple[int, int] = (224, 224)):
        super().__init__()
        if num_layers < 1:
            raise ValueError(
                f'num_conv_layers must be >= 1, got {num_layers}')
        channels = [in_channels] + [hidden_channels] * (num_layers - 1) + \
            [out_channels]
        self.kernel_size, self.stride, self.padding = \
            kernel_size, stride, padding
        self.pool = pool
        self.conv_layers = nn.Sequential(*[
            nn.Sequential(
                nn.Conv2d(channels[i], channels[i + 1], kernel_size, stride,
                          padding, bias=False),
                nn.ReLU(),
                nn.MaxPool2d(self.pool_kernel, self.pool_stride,
                             self.pool_padding) if pool else nn.Identity())
            for i in range(num_layers)
        ])
        self.stride_total = (stride * (self.pool_stride if pool else 1)) \
            ** num_layers
        self.img_size = tuple(img_size)
        self.grid_size = self.out_size(self.img_size)
        if min(self.grid_size) < 1:
            raise ValueError(
                f'img_size {self.img_size[0]}x{self.img_size[1]} is too '
                'small for the tokenizer')

    def out_size(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        """Token grid (H', W') of images of size ``hw``."""
        out = []
        for size in hw:
            for _ in self.conv_layers:
                size = max(conv_out_size(size, self.kernel_size,
                                         self.stride, self.padding), 0)
                if self.pool and size >= 1:
                    size = conv_out_size(size, self.pool_kernel,
                                         self.pool_stride, self.pool_padding)
            out.append(size)
        return tuple(out)

    def forward(self, x: torch.Tensor):
        """Images (B, C, H, W) -> tokens (B, H' * W', C) and (H', W')."""
        H, W = x.shape[-2:]
        grid = self.out_size((H, W))
        if min(grid) < 1:
            raise ValueError(
                f'{H}x{W} input is too small for the tokenizer (conv kernel '
                f'{self.kernel_size}, stride {self.stride}, padding '
                f'{self.padding}, {len(self.conv_layers)} layer(s)): it '
                f'gives a {grid[0]}x{grid[1]} token grid')
        x = self.conv_layers(x)
        return x.flatten(2).transpose(1, 2), tuple(x.shape[-2:])


class CCTBlock(nn.Module):
    """CCT's transformer encoder layer, with the official norm placement.

    ``x = x + drop_path(attn(norm1(x)))``, then ``x = norm2(x)`` (the
    residual stream itself is normalised), then
    ``x = x + drop_path(mlp(x))``. Official names: ``pre_norm`` ->
    ``norm1``, ``self_attn`` -> ``attn``, ``norm1`` -> ``norm2``,
    ``linear1`` / ``linear2`` -> ``mlp.fc1`` / ``mlp.fc2``.

    Args:
        dim (int): Token channels.
        num_heads (int): Attention heads.
        feedforward_channels (int): Hidden channels of the MLP.
        qkv_bias (bool): Bias of the q/k/v projection. Defaults to False.
        drop (float): Dropout after the attention projection and in the MLP.
            Defaults to 0.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        drop_path (float): Stochastic depth rate. Defaults to 0.
        norm_layer (callable): ``dims -> norm``. Defaults to LayerNorm.
        fused_attn (bool): Fused attention kernel. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 feedforward_channels: int,
                 qkv_bias: bool = False,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 norm_layer=nn.LayerNorm,
                 fused_attn: bool = True):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, feedforward_channels, drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to tokens (B, N, C)."""
        x = self.norm2(x + self.drop_path(self.attn(self.norm1(x))))
        return x + self.drop_path(self.mlp(x))


class SeqPool(nn.Module):
    """CCT's sequence pooling: ``softmax_N(x w + b)^T x``.

    An attention with one learned query ``w`` over the tokens (scale 1).
    The bias ``b`` is the same for every token, so it does not change the
    softmax; it is kept because the official ``attention_pool`` is an
    ``nn.Linear(C, 1)`` (checkpoints and parameter counts).

    Args:
        dim (int): Token channels.
        fused_attn (bool): Fused attention kernel (the bias as additive
            mask) or the explicit official formula. Defaults to True.
    """

    def __init__(self, dim: int, fused_attn: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, dim))
        self.bias = nn.Parameter(torch.zeros(1))
        self.fused_attn = fused_attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, C) -> pooled (B, C)."""
        if not self.fused_attn:  # weights (B, 1, 1, N): a keep policy
            logits = F.linear(x, self.weight, self.bias).transpose(1, 2)
            weights = masked_softmax(logits[:, None], None)[:, 0]
            return (weights @ x).squeeze(1)
        B, _, C = x.shape
        q = self.weight.to(x.dtype).view(1, 1, 1, C).expand(B, 1, 1, C)
        kv = x.unsqueeze(1)
        mask = self.bias.to(x.dtype).view(1, 1, 1, 1)
        return attend(q, kv, kv, scale=1., mask=mask).view(B, C)


def sine_pos_embed(num_tokens: int, dims: int) -> torch.Tensor:
    """The official 1-D sinusoidal embedding (1, num_tokens, dims)."""
    pos = torch.arange(num_tokens, dtype=torch.float64)[:, None]
    i = torch.arange(dims)
    # angles in float64 then float32, as the official FloatTensor of
    # Python floats
    angle = (pos / 10000**((2 * (i // 2)).double() / dims)).float()
    pe = torch.where(i % 2 == 0, angle.sin(), angle.cos())
    return pe.unsqueeze(0)


@MODELS.register_module()
class CCT(VisionBackbone):
    """Compact Convolutional Transformer backbone.

    `CCT <https://arxiv.org/abs/2104.05704>`_ replaces the patch embedding
    of a ViT with a small convolutional tokenizer (conv, ReLU, max-pool per
    layer) and the class token with sequence pooling (an attention-weighted
    mean of the final tokens). The transformer layers use the official
    code's norm placement: the residual stream is re-normalised after the
    attention (:class:`CCTBlock`). Zoo names are ``cct-{layers}-{kernel}x{
    conv layers}`` as in the paper: the CIFAR-sized archs (32 x 32 images,
    3x3 convs with stride 1) ``cct-2-3x2``, ``cct-4-3x2``, ``cct-6-3x1``,
    ``cct-6-3x2``, ``cct-7-3x1``, ``cct-7-3x2``, and the ImageNet-sized
    ``cct-7-7x2`` and ``cct-14-7x2`` (224; ``cct-14-7x2-384`` at 384),
    whose 7x7 stride-2 convs give stride-16 tokens. Parameter names follow
    the official ``cct.py`` with the ``classifier.`` prefix removed and the
    renames of :class:`CCTBlock` (``pos_embed`` for ``positional_emb``,
    ``attention_pool.{weight,bias}``); see
    :func:`mmvitplug.converters.cct.convert_cct`.

    Any input size works: the token grid is the tokenizer's output and a
    learnable position embedding is resized to it (``interpolate_mode``;
    bilinear as the official ``pe_check``, also when loading a checkpoint
    made for another size), a sine one is recomputed for the number of
    tokens (as the official model built for that size).

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels``, ``kernel_size``, ``num_conv_layers``
            (optionally ``conv_stride`` and ``conv_padding``, by default
            ``max(1, k // 2 - 1)`` and ``max(1, k // 2)`` as the official
            code; ``conv_channels``, 64, the channels between conv layers;
            ``img_size``). Defaults to 'cct-14-7x2'.
        img_size (int | tuple[int, int], optional): Size the position
            embedding is made for. Defaults to the arch's (32 for the
            ``3x`` archs, 224, 384 for ``cct-14-7x2-384``).
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Layers whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'seq_pool' (B, C): the final tokens, normalised
            and sequence-pooled, only with ``out_indices`` the last layer;
            'featmap' (B, C, H', W'); 'avg_featmap' (B, C) mean of the
            tokens; 'raw' (B, N, C) tokens. Defaults to 'seq_pool'.
        pos_embed (str): 'learnable' (official default, truncated normal
            std 0.2), 'sine' (fixed, not a parameter here) or 'none'.
            Defaults to 'learnable'.
        pool (bool): Max-pool in the tokenizer. Defaults to True.
        final_norm (bool): Norm after the last layer. Defaults to True.
        qkv_bias (bool): Bias in the q/k/v projection (the official has
            none). Defaults to False.
        drop_rate (float): Dropout after the position embedding, the
            attention projections and in the MLPs (official ``dropout``).
            Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights (official
            ``attention_dropout``, 0.1 in its constructor). Defaults to 0.
        drop_path_rate (float): Stochastic depth, growing linearly from 0
            at the first layer to this rate at the last (official
            ``stochastic_depth``, 0.1 in its constructor). Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='LN')``
            (eps 1e-5, as official).
        frozen_stages (int): -1 freezes nothing; 0 freezes the tokenizer and
            position embedding; k > 0 also the first k layers, and
            k == num_layers also the final norm and the pooling.
            Defaults to -1.
        interpolate_mode (str): Mode resizing the learnable position
            embedding. Defaults to 'bilinear'.
        fused_attn (bool): Fused attention kernels (layers and sequence
            pooling). Defaults to True.
        with_cp (bool): Gradient checkpointing of the layers in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official CCT checkpoints. Defaults to None.
    """

    arch_zoo: Dict[str, dict] = {
        **{
            f'cct-{layers}-{k}x{n}': dict(
                embed_dims=dims,
                num_layers=layers,
                num_heads=heads,
                feedforward_channels=int(dims * ratio),
                kernel_size=k,
                num_conv_layers=n,
                img_size=size)
            for layers, dims, heads, ratio, k, n, size in (
                (2, 128, 2, 1, 3, 2, 32),
                (4, 128, 2, 1, 3, 2, 32),
                (6, 256, 4, 2, 3, 1, 32),
                (6, 256, 4, 2, 3, 2, 32),
                (7, 256, 4, 2, 3, 1, 32),
                (7, 256, 4, 2, 3, 2, 32),
                (7, 256, 4, 2, 7, 2, 224),
                (14, 384, 6, 3, 7, 2, 224),
            )
        },
        'cct-14-7x2-384':
        dict(embed_dims=384, num_layers=14, num_heads=6,
             feedforward_channels=1152, kernel_size=7, num_conv_layers=2,
             img_size=384),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels', 'kernel_size', 'num_conv_layers')
    optional_arch_keys = ('conv_stride', 'conv_padding', 'conv_channels',
                          'img_size')
    out_types = ('seq_pool', 'featmap', 'avg_featmap', 'raw')
    final_only_out_types = {
        'seq_pool': 'sequence pooling acts on the final tokens'
    }
    # sequence pooling enters after the last layer
    parts = Parts(
        stem=('tokenizer', 'pos_embed', 'pos_drop'),
        stages='blocks',
        top=('norm', 'attention_pool'))
    #: Tokens besides the patches in ``pos_embed`` and the outputs.
    num_extra_tokens = 0
    # sequence pooling honours a keep policy (keep_tokens)
    prunable_out_types = ('seq_pool', )

    def __init__(self,
                 arch: Union[str, dict] = 'cct-14-7x2',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'seq_pool',
                 pos_embed: str = 'learnable',
                 pool: bool = True,
                 final_norm: bool = True,
                 qkv_bias: bool = False,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN'),
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bilinear',
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        if pos_embed not in POS_EMBEDS:
            raise ValueError(f'Unknown pos_embed {pos_embed!r}; choose '
                             f'from {list(POS_EMBEDS)}')
        settings = self.arch_settings
        self.embed_dims = dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        k = settings['kernel_size']
        if img_size is None:
            img_size = settings.get('img_size', 224)
        if isinstance(img_size, int):
            img_size = (img_size, img_size)
        self.tokenizer = ConvTokenizer(
            in_channels,
            dims,
            settings['num_conv_layers'],
            k,
            settings.get('conv_stride', max(1, k // 2 - 1)),
            settings.get('conv_padding', max(1, k // 2)),
            hidden_channels=settings.get('conv_channels', 64),
            pool=pool,
            img_size=img_size)
        #: Total stride of the tokenizer.
        self.patch_size = self.tokenizer.stride_total
        self.pos_embed_type = pos_embed
        self.interpolate_mode = interpolate_mode
        self._sine_cache: Dict[tuple, torch.Tensor] = {}
        grid = self.tokenizer.grid_size
        self.pos_embed = nn.Parameter(
            torch.zeros(1, grid[0] * grid[1], dims)) \
            if pos_embed == 'learnable' else None
        self.pos_drop = nn.Dropout(drop_rate)

        norm_layer = norm_factory(norm_cfg)
        rates = drop_path_rates(drop_path_rate, self.num_layers, 'linear')
        self.blocks = nn.ModuleList([
            CCTBlock(
                dims,
                settings['num_heads'],
                settings['feedforward_channels'],
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=rates[i],
                norm_layer=norm_layer,
                fused_attn=fused_attn) for i in range(self.num_layers)
        ])
        self.final_norm = final_norm
        self.norm = norm_layer(dims) if final_norm else nn.Identity()
        self.attention_pool = SeqPool(dims, fused_attn) \
            if out_type == 'seq_pool' else None

    @property
    def patch_embed(self) -> ConvTokenizer:
        """The tokenizer (its ``grid_size`` sizes ``pos_embed``; checkpoint
        loading resizes position embeddings to it)."""
        return self.tokenizer

    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02) Linear
        weights, zero biases, unit LayerNorms, Kaiming-normal convolutions
        and a truncated normal (std 0.2) position embedding."""
        super().init_default_weights()
        for m in self.tokenizer.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=.2)
        if self.attention_pool is not None:
            nn.init.trunc_normal_(self.attention_pool.weight, std=.02)
            nn.init.zeros_(self.attention_pool.bias)

    def _sine(self, n: int, x: torch.Tensor) -> torch.Tensor:
        key = (n, x.device, x.dtype)
        if key not in self._sine_cache:
            self._sine_cache[key] = sine_pos_embed(n, self.embed_dims).to(
                x.device, x.dtype)
        return self._sine_cache[key]

    def embed(self, x: torch.Tensor):
        """Tokens of the tokenizer plus the position embedding."""
        x, hw = self.tokenizer(x)
        if self.pos_embed is not None:
            x = x + resize_pos_embed(
                self.pos_embed,
                self.tokenizer.grid_size,
                hw,
                mode=self.interpolate_mode,
                num_extra_tokens=0)
        elif self.pos_embed_type == 'sine':
            x = x + self._sine(x.shape[1], x)
        return self.pos_drop(x), hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """Token outputs, normalised after the last layer, or the
        sequence-pooled final tokens."""
        if index < self.num_stages - 1:
            return format_tokens(x, self.out_type, hw)
        x = self.norm(x)
        if self.out_type == 'seq_pool':
            return self.attention_pool(x)
        return format_tokens(x, self.out_type, hw)
