# Copyright (c) mmvitplug contributors.
"""CvT backbone.

`Wu et al. 2021 <https://arxiv.org/abs/2103.15808>`_.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import DropPath, Mlp, attend, tokens_to_featmap
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, norm_factory


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the activation of the official CvT (and
    CLIP) code."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


#: Activations of the MLPs, by ``act_type``.
ACTIVATIONS = {'quick_gelu': QuickGELU, 'gelu': nn.GELU}


class ConvEmbed(nn.Module):
    """Convolutional token embedding: a strided convolution on NCHW maps,
    a norm over the channels of the tokens, optionally a class token
    prepended, then dropout (the official ``patch_embed``, ``cls_token``
    and ``pos_drop`` of a stage).

    Args:
        in_channels (int): Input channels.
        embed_dims (int): Output channels.
        kernel_size (int): Kernel of the convolution.
        stride (int): Stride of the convolution.
        padding (int): Padding of the convolution.
        norm_layer (callable): ``dims -> nn.Module`` token norm.
        with_cls_token (bool): Prepend a learned class token.
            Defaults to False.
        drop (float): Dropout rate on the tokens. Defaults to 0.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dims: int,
                 kernel_size: int,
                 stride: int,
                 padding: int,
                 norm_layer,
                 with_cls_token: bool = False,
                 drop: float = 0.):
        super().__init__()
        self.proj = nn.Conv2d(
            in_channels,
            embed_dims,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding)
        self.norm = norm_layer(embed_dims)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims)) \
            if with_cls_token else None
        self.drop = nn.Dropout(drop)

    @property
    def num_extra_tokens(self) -> int:
        """Tokens before the patches in the output."""
        return int(self.cls_token is not None)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, tuple]:
        """Maps (B, C, H, W) -> tokens (B, extra + H' * W', C') and the
        grid (H', W')."""
        x = self.proj(x)
        hw = tuple(x.shape[2:])
        x = self.norm(x.flatten(2).transpose(1, 2))
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x),
                          dim=1)
        return self.drop(x), hw


def conv_projection(dims: int, kernel_size: int, stride: int) -> nn.Module:
    """CvT's 'dw_bn' projection: a depthwise convolution (no bias) then
    BatchNorm, named ``conv`` / ``bn`` as in the official code."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(
                dims,
                dims,
                kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                groups=dims,
                bias=False),
            bn=nn.BatchNorm2d(dims)))


class ConvProjectionAttention(nn.Module):
    """Multi-head attention with convolutional projections.

    The patch tokens are laid out as a map and projected by a depthwise
    convolution + BatchNorm for each of q, k and v (k and v with
    ``stride_kv``: a 2x shorter key sequence per axis by default), then by
    a linear layer. Extra tokens (the class token) skip the convolutions
    and are prepended to q, k and v. As in the official code the logits are
    scaled by ``dims ** -0.5`` (the full embedding width, not the head
    width).

    Args:
        dims (int): Token channels.
        num_heads (int): Heads; must divide ``dims``.
        qkv_bias (bool): Bias of the linear q, k, v projections.
            Defaults to True.
        kernel_size (int): Kernel of the convolutional projections (odd).
            Defaults to 3.
        stride_kv (int): Stride of the k and v projections (q has stride
            1: one output per input token). Defaults to 2.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after the output projection.
            Defaults to 0.
        fused_attn (bool): Fused attention kernel. Defaults to True.
    """

    def __init__(self,
                 dims: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 kernel_size: int = 3,
                 stride_kv: int = 2,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 fused_attn: bool = True):
        super().__init__()
        if dims % num_heads != 0:
            raise ValueError(
                f'dims ({dims}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.scale = dims**-0.5  # the official scale: full width
        self.fused_attn = fused_attn
        self.attn_drop = attn_drop
        self.conv_proj_q = conv_projection(dims, kernel_size, 1)
        self.conv_proj_k = conv_projection(dims, kernel_size, stride_kv)
        self.conv_proj_v = conv_projection(dims, kernel_size, stride_kv)
        self.proj_q = nn.Linear(dims, dims, bias=qkv_bias)
        self.proj_k = nn.Linear(dims, dims, bias=qkv_bias)
        self.proj_v = nn.Linear(dims, dims, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        return x.view(B, N, self.num_heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int],
                num_extra: int = 0) -> torch.Tensor:
        """Attend over tokens (B, num_extra + H * W, C) on grid ``hw``."""
        B, N, C = x.shape
        extra = x[:, :num_extra]
        maps = tokens_to_featmap(x[:, num_extra:], hw)
        qkv = []
        for conv, linear in ((self.conv_proj_q, self.proj_q),
                             (self.conv_proj_k, self.proj_k),
                             (self.conv_proj_v, self.proj_v)):
            t = conv(maps).flatten(2).transpose(1, 2)
            if num_extra:
                t = torch.cat((extra, t), dim=1)
            qkv.append(self._heads(linear(t)))
        x = attend(
            *qkv,
            scale=self.scale,
            dropout_p=self.attn_drop if self.training else 0.,
            fused=self.fused_attn)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))


class CvTBlock(nn.Module):
    """Pre-norm transformer block with convolutional-projection attention.

    Args:
        dims (int): Token channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden width over ``dims``.
        norm_layer (callable): ``dims -> nn.Module`` token norm.
        act_layer (callable): MLP activation constructor.
        drop_path (float): Stochastic-depth rate. Defaults to 0.
        drop (float): Dropout after the projections and in the MLP.
            Defaults to 0.
        **attn_kwargs: Other arguments of :class:`ConvProjectionAttention`.
    """

    def __init__(self,
                 dims: int,
                 num_heads: int,
                 mlp_ratio: float,
                 norm_layer,
                 act_layer,
                 drop_path: float = 0.,
                 drop: float = 0.,
                 **attn_kwargs):
        super().__init__()
        self.norm1 = norm_layer(dims)
        self.attn = ConvProjectionAttention(
            dims, num_heads, proj_drop=drop, **attn_kwargs)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = norm_layer(dims)
        self.mlp = Mlp(dims, int(dims * mlp_ratio), act_layer=act_layer,
                       drop=drop)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int],
                num_extra: int = 0) -> torch.Tensor:
        """Tokens (B, num_extra + H * W, C) on grid ``hw``."""
        x = x + self.drop_path(self.attn(self.norm1(x), hw, num_extra))
        return x + self.drop_path(self.mlp(self.norm2(x)))


@MODELS.register_module()
class CvT(VisionBackbone):
    """CvT: Convolutional vision Transformer.

    A three-stage pyramid (`CvT <https://arxiv.org/abs/2103.15808>`_). Each
    stage opens with a convolutional token embedding (a strided convolution
    and a LayerNorm; the first stage's is the stem, ``patch_embed``) and
    stacks transformer blocks whose attention projects q, k and v with a
    depthwise convolution + BatchNorm (k and v with stride 2) before the
    linear projections. There is no position embedding, so any input size
    works. The last stage's embedding prepends a class token (it skips the
    convolutional projections of the attention); the classification output
    is that token after the final norm. The MLPs use QuickGELU and the
    attention logits are scaled by ``embed_dims ** -0.5`` of the stage (the
    whole width), both as in the official code, whose checkpoints load
    after :func:`mmvitplug.converters.convert_cvt`.

    Parameter names: ``patch_embed`` (stage 0's embedding),
    ``stages.{i}.{j}`` (stage 0: its blocks; stage ``i > 0``: the embedding
    at ``j = 0``, then the blocks), ``stages.2.0.cls_token``, ``norm``;
    inside the blocks the official names (``attn.conv_proj_{q,k,v}.{conv,
    bn}``, ``attn.proj_{q,k,v}``, ``attn.proj``, ``mlp.fc1``...).

    Dense prediction: the stage maps (strides 4, 8, 16, no norm) feed an
    FPN / UPerHead directly; the final norm is built for
    ``out_type='cls_token'`` only, and the class token still joins the last
    stage (its attention sees it), as in the pretrained model.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_heads``, ``depths`` (one entry per stage)
            and optionally ``patch_sizes``, ``patch_strides``,
            ``patch_paddings`` (the per-stage token-embedding convolutions,
            default ``(7, 3, 3)``, ``(4, 2, 2)``, ``(2, 1, 1)``).
            Defaults to 'cvt-13'.
        in_channels (int): Image channels. Defaults to 3.
        mlp_ratio (float): MLP hidden width over the stage width.
            Defaults to 4.
        qkv_bias (bool): Bias of the linear q, k, v projections.
            Defaults to True.
        qkv_kernel_size (int): Kernel of the convolutional projections
            (odd). Defaults to 3.
        stride_kv (int): Stride of the k / v projections (the official
            q stride is 1). Defaults to 2.
        act_type (str): MLP activation, 'quick_gelu' (official) or 'gelu'
            (e.g. HF transformers' CvT). Defaults to 'quick_gelu'.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' — the normalised class token, (B, C)
            (only with ``out_indices`` the last stage) —, 'featmap'
            (B, C, H/s, W/s) contiguous maps of the stage (s = 4, 8, 16),
            'avg_featmap' (B, C) mean of the stage's patch tokens, or 'raw'
            (B, N, C) tokens (the class token first in the last stage).
            Defaults to 'cls_token'.
        drop_rate (float): Dropout after each token embedding, the
            projections and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights.
            Defaults to 0.
        drop_path_rate (float | Sequence[float]): Stochastic depth. A float
            rises linearly from 0 over all the blocks (timm's, DeiT's
            schedule); a sequence gives each stage's largest rate, rising
            linearly from 0 over that stage's blocks: the official
            ``DROP_PATH_RATE`` (``(0, 0, 0.1)`` for CvT-13 and CvT-21,
            ``(0, 0, 0.3)`` for CvT-W24). Defaults to 0.
        norm_cfg (dict): Token norm. Defaults to
            ``dict(type='LN', eps=1e-5)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages (the final norm with every stage).
            Frozen parts (BatchNorms included) stay in eval mode.
            Defaults to -1.
        fused_attn (bool): Fused attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of every layer in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'cvt-13':
        dict(embed_dims=(64, 192, 384), num_heads=(1, 3, 6),
             depths=(1, 2, 10)),
        'cvt-21':
        dict(embed_dims=(64, 192, 384), num_heads=(1, 3, 6),
             depths=(1, 4, 16)),
        'cvt-w24':
        dict(embed_dims=(192, 768, 1024), num_heads=(3, 12, 16),
             depths=(2, 2, 20)),
    }
    arch_keys = ('embed_dims', 'num_heads', 'depths')
    optional_arch_keys = ('patch_sizes', 'patch_strides', 'patch_paddings')
    #: The official token embeddings of the stages.
    default_patch = dict(
        patch_sizes=(7, 3, 3), patch_strides=(4, 2, 2),
        patch_paddings=(2, 1, 1))
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    final_only_out_types = {
        'cls_token': 'the class token exists in the last stage only'
    }
    stage_unit = 'stages'
    num_stages_key = 'depths'
    # the class token belongs to the last stage's embedding
    parts = Parts(stem=('patch_embed', ), stages='stages', top=('norm', ))

    def __init__(self,
                 arch: Union[str, dict] = 'cvt-13',
                 in_channels: int = 3,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 qkv_kernel_size: int = 3,
                 stride_kv: int = 2,
                 act_type: str = 'quick_gelu',
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: Union[float, Sequence[float]] = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-5),
                 frozen_stages: int = -1,
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        n = self.num_stages
        settings = {k: v[:n] for k, v in self.default_patch.items()}
        settings.update(self.arch_settings)
        for key in (*self.arch_keys, *self.optional_arch_keys):
            settings[key] = tuple(settings[key])
            if len(settings[key]) != n:
                raise ValueError(
                    f'arch {key!r} needs one entry per stage ({n} stages, '
                    f"from 'depths'), got {list(settings[key])}")
        if min(settings['depths']) < 1:
            raise ValueError('every stage needs at least one block, got '
                             f"depths {list(settings['depths'])}")
        if act_type not in ACTIVATIONS:
            raise ValueError(f'Unknown act_type {act_type!r}; choose from '
                             f'{sorted(ACTIVATIONS)}')
        if qkv_kernel_size % 2 != 1:
            raise ValueError('qkv_kernel_size must be odd, got '
                             f'{qkv_kernel_size}')
        dpr = _drop_path_rates(drop_path_rate, settings['depths'])
        self.stage_settings = settings
        dims = self.embed_dims = list(settings['embed_dims'])
        self.depths = list(settings['depths'])
        self.patch_size = settings['patch_strides'][0]
        self.num_layers = sum(self.depths)  # transformer blocks
        self.act_type = act_type
        norm_layer = norm_factory(norm_cfg)

        def embedding(i, in_dims):
            return ConvEmbed(
                in_dims,
                dims[i],
                settings['patch_sizes'][i],
                settings['patch_strides'][i],
                settings['patch_paddings'][i],
                norm_layer,
                with_cls_token=i == n - 1,
                drop=drop_rate)

        self.patch_embed = embedding(0, in_channels)
        self.stages = nn.ModuleList()
        for i, rates in enumerate(dpr):
            layers = [embedding(i, dims[i - 1])] if i else []
            layers += [
                CvTBlock(
                    dims[i],
                    settings['num_heads'][i],
                    mlp_ratio,
                    norm_layer,
                    ACTIVATIONS[act_type],
                    drop_path=float(rate),
                    drop=drop_rate,
                    qkv_bias=qkv_bias,
                    kernel_size=qkv_kernel_size,
                    stride_kv=stride_kv,
                    attn_drop=attn_drop_rate,
                    fused_attn=fused_attn) for rate in rates
            ]
            self.stages.append(nn.ModuleList(layers))
        self.norm = norm_layer(dims[-1]) if out_type == 'cls_token' else \
            nn.Identity()

    def init_default_weights(self):
        """Truncated normal (std 0.02) class token and linear weights, zero
        biases, unit LayerNorms (the official 'trunc_norm' init);
        convolutions and BatchNorms keep PyTorch's defaults."""
        super().init_default_weights()
        trunc_normal_(self.stages[-1][0].cls_token if self.num_stages > 1
                      else self.patch_embed.cls_token, std=.02)

    @property
    def min_input_size(self) -> int:
        """The smallest image side the stem takes."""
        s = self.stage_settings
        return s['patch_sizes'][0] - 2 * s['patch_paddings'][0]

    def embed(self, x: torch.Tensor):
        """The stem: images -> stage 0's tokens and their grid."""
        h, w = x.shape[2:]
        if min(h, w) < self.min_input_size:
            raise ValueError(
                f'CvT input {h}x{w} is too small: the stride-'
                f'{self.patch_size} stem (kernel '
                f"{self.stage_settings['patch_sizes'][0]}, padding "
                f"{self.stage_settings['patch_paddings'][0]}) needs at "
                f'least {self.min_input_size} pixels per side')
        return self.patch_embed(x)

    def forward_stage(self, index: int, x: torch.Tensor, hw):
        """Stage ``index``: its token embedding (stages > 0; the last one
        prepends the class token), then its blocks."""
        layers = self.layers[index]
        if index:
            x, hw = self.run_layer(layers[0], tokens_to_featmap(x, hw))
            layers = layers[1:]
        num_extra = int(index == self.num_stages - 1)
        for layer in layers:
            x = self.run_layer(layer, x, hw, num_extra)
        return x, hw

    def format_output(self, x: torch.Tensor, index: int, hw):
        """Stage tokens as ``out_type`` says, or the normalised class
        token."""
        num_extra = int(index == self.num_stages - 1)
        if self.out_type == 'cls_token':
            return self.norm(x[:, 0])
        if self.out_type == 'raw':
            return x
        patches = x[:, num_extra:]
        if self.out_type == 'avg_featmap':
            return patches.mean(dim=1)
        return tokens_to_featmap(patches, hw)


def _drop_path_rates(rate: Union[float, Sequence[float]],
                     depths: Sequence[int]):
    """Stochastic-depth rate of each block of each stage: a float rises
    linearly from 0 over all the blocks, a sequence over each stage's."""
    n = len(depths)
    if isinstance(rate, (int, float)):
        total = torch.linspace(0, rate, sum(depths), device='cpu').tolist()
        return [
            total[sum(depths[:i]):sum(depths[:i + 1])] for i in range(n)
        ]
    if len(rate) != n:
        raise ValueError(
            f'drop_path_rate must be a float or one rate per stage ({n} '
            f'stages), got {list(rate)}')
    return [
        torch.linspace(0, r, d, device='cpu').tolist()
        for r, d in zip(rate, depths)
    ]
