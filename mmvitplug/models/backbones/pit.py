# Copyright (c) mmvitplug contributors.
"""PiT backbone.

`Heo et al. 2021 <https://arxiv.org/abs/2103.16302>`_.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_

from mmvitplug.layers import Block
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_tokens,
                   norm_factory)


class ConvPatchEmbed(nn.Module):
    """PiT's overlapping patch embedding: one convolution, no padding.

    Args:
        in_channels (int): Image channels.
        embed_dims (int): Output channels.
        kernel_size (int): Convolution kernel (the paper's patch size).
        stride (int): Convolution stride.
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int,
                 stride: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.conv = nn.Conv2d(
            in_channels, embed_dims, kernel_size=kernel_size, stride=stride)

    def grid(self, size: Tuple[int, int]) -> Tuple[int, int]:
        """The map size of an image size."""
        return tuple((s - self.kernel_size) // self.stride + 1 for s in size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) -> maps (B, D, H', W')."""
        H, W = x.shape[-2:]
        if H < self.kernel_size or W < self.kernel_size:
            raise ValueError(
                f'PiT needs images of at least {self.kernel_size}x'
                f'{self.kernel_size} pixels (the kernel of its patch '
                f'embedding); got {H}x{W}')
        return self.conv(x)


class ConvPooling(nn.Module):
    """PiT's pooling layer between stages.

    The patch tokens, as a map, go through a depth-wise convolution
    (kernel 3, stride 2, padding 1, ``out_dims / in_dims`` filters per
    channel), which halves the map ((H - 1) // 2 + 1) and widens the
    channels; the class (and distillation) tokens go through a linear layer
    ``fc`` to the new width. Names follow the official code (``conv``,
    ``fc``).

    Args:
        in_dims (int): Channels in.
        out_dims (int): Channels out, a multiple of ``in_dims``.
        num_extra_tokens (int): Tokens before the patches (class,
            distillation).
        stride (int): Pooling stride. Defaults to 2.
    """

    def __init__(self,
                 in_dims: int,
                 out_dims: int,
                 num_extra_tokens: int,
                 stride: int = 2):
        super().__init__()
        if out_dims % in_dims:
            raise ValueError(
                f'PiT pools a stage of {in_dims} channels into one of '
                f'{out_dims} with a depth-wise convolution, so {out_dims} '
                f'must be a multiple of {in_dims}; fix embed_dims')
        self.num_extra_tokens = num_extra_tokens
        self.conv = nn.Conv2d(
            in_dims,
            out_dims,
            kernel_size=stride + 1,
            stride=stride,
            padding=stride // 2,
            groups=in_dims)
        self.fc = nn.Linear(in_dims, out_dims)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]
                ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Pool tokens (B, T + H * W, C) on the grid ``hw``.

        Returns:
            tuple: Tokens (B, T + H' * W', C') and the grid (H', W').
        """
        T = self.num_extra_tokens
        B, _, C = x.shape
        maps = x[:, T:].transpose(1, 2).reshape(B, C, *hw)
        maps = self.conv(maps)
        hw = tuple(maps.shape[-2:])
        x = torch.cat((self.fc(x[:, :T]), maps.flatten(2).transpose(1, 2)),
                      dim=1)
        return x, hw


@MODELS.register_module()
class PiT(VisionBackbone):
    """Pooling-based Vision Transformer backbone.

    `PiT <https://arxiv.org/abs/2103.16302>`_ embeds the image with an
    overlapping convolution (kernel ``patch_kernel``, stride
    ``patch_stride``, no padding: 27 x 27 patches at 224), adds a spatial
    position embedding (1, C, H, W), prepends the class token (and the
    distillation token when ``distilled``) and runs three stages of
    transformer blocks. Between stages a pooling layer
    (:class:`ConvPooling`) halves the patch map with a depth-wise
    convolution and doubles the channels, and maps the class tokens with a
    linear layer. The final norm acts on the class tokens only.

    Stage ``i`` is an ``nn.ModuleList``: the pooling layer (for ``i > 0``)
    then the blocks, so layer-wise lr decay and ``frozen_stages`` count the
    pooling layers as trunk layers. Parameter names differ from the
    official / timm ones (``stages.{i}.{j}`` for ``transformers.{i}.blocks``
    and ``pools``); :func:`mmvitplug.converters.convert_pit` maps both
    layouts.

    Dense outputs are the patch tokens of each stage, at strides
    ``patch_stride`` x (1, 2, 4) (8 / 16 / 32 for 224 x 224 inputs: maps of
    27, 14 and 7), without a norm: the pre-norm residual stream, as timm's
    ``forward_intermediates`` gives (the official model normalises only the
    class tokens, so there is no trained norm for the patches); the
    detection and segmentation configs normalise in the neck / head. Any
    input of at least ``patch_kernel`` pixels a side works: the position
    embedding is resized bicubically on the fly, and on load by
    :meth:`resize_pretrained_state_dict`.

    Weights are initialised as in the official code: truncated normal (std
    0.02) position embedding and class tokens, LayerNorms to ones / zeros,
    linear and convolution layers PyTorch's default.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``depths`` and ``num_heads`` (one entry per
            stage) and optionally ``patch_kernel`` (16), ``patch_stride``
            (8) and ``mlp_ratio`` (4). Defaults to 'pit-s'.
        img_size (int | tuple[int, int]): Size the position embedding is
            made for. Defaults to 224.
        in_channels (int): Image channels. Defaults to 3.
        distilled (bool): Add the distillation token (the official
            ``*_distilled`` models; 'cls_token' outputs are then a
            ``(cls, dist)`` pair for ``mmvitplug.DeiTDistillHead``).
            Defaults to False.
        out_indices (int | Sequence[int]): Stages whose output is
            returned; negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' (B, C) after the final norm (a pair when
            distilled; last stage only), 'featmap' (B, C, H, W) patch maps,
            'avg_featmap' (B, C) mean of the patch tokens, or 'raw'
            (B, T + H * W, C) tokens, class tokens first.
            Defaults to 'cls_token'.
        qkv_bias (bool): Bias in the qkv projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding, the
            attention projections and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of the blocks, increasing
            linearly from 0 (first block) to ``drop_path_rate`` (last) over
            all stages, as in the official code. Defaults to 0.
        norm_cfg (dict): Norm of the blocks and of the final norm. Defaults
            to ``dict(type='LN', eps=1e-6)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch and
            position embeddings and the class tokens; k > 0 also the first
            k stages (pooling layers included), and k == the number of
            stages (3 for the zoo) also the final norm. Frozen parts stay
            in eval mode. Defaults to -1.
        interpolate_mode (str): Mode used to resize the position embedding
            to other grids. Defaults to 'bicubic'.
        fused_attn (bool): Fused attention kernels. Defaults to True.
        with_cp (bool): Gradient checkpointing of every trunk layer (blocks
            and pooling layers) in training. Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm PiT checkpoints.
            Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'pit-ti':
        dict(embed_dims=[64, 128, 256], depths=[2, 6, 4],
             num_heads=[2, 4, 8]),
        'pit-xs':
        dict(embed_dims=[96, 192, 384], depths=[2, 6, 4],
             num_heads=[2, 4, 8]),
        'pit-s':
        dict(embed_dims=[144, 288, 576], depths=[2, 6, 4],
             num_heads=[3, 6, 12]),
        'pit-b':
        dict(embed_dims=[256, 512, 1024], depths=[3, 6, 4],
             num_heads=[4, 8, 16], patch_kernel=14, patch_stride=7),
    }
    arch_keys = ('embed_dims', 'depths', 'num_heads')
    optional_arch_keys = ('patch_kernel', 'patch_stride', 'mlp_ratio')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    final_only_out_types = {
        'cls_token': 'the final norm acts on the class tokens after the '
        'last stage'
    }
    stage_unit = 'stages'
    num_stages_key = 'depths'
    parts = Parts(
        stem=('patch_embed', 'pos_embed', 'cls_token', 'pos_drop'),
        stages='stages',
        top=('norm', ))
    trunc_normal_params = ('pos_embed', 'cls_token')

    def __init__(self,
                 arch: Union[str, dict] = 'pit-s',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 in_channels: int = 3,
                 distilled: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        dims = list(settings['embed_dims'])
        depths = list(settings['depths'])
        heads = list(settings['num_heads'])
        if not len(dims) == len(depths) == len(heads):
            raise ValueError(
                'arch embed_dims, depths and num_heads need one entry per '
                f'stage; got {len(dims)}, {len(depths)} and {len(heads)}')
        self.embed_dims = dims
        self.depths = depths
        self.num_layers = sum(depths)  # transformer blocks
        self.patch_kernel = settings.get('patch_kernel', 16)
        # stride of the first stage's maps
        self.patch_size = self.patch_stride = settings.get('patch_stride', 8)
        mlp_ratio = settings.get('mlp_ratio', 4.)
        self.distilled = distilled
        self.num_extra_tokens = 2 if distilled else 1
        self.interpolate_mode = interpolate_mode
        if isinstance(img_size, int):
            img_size = (img_size, img_size)

        self.patch_embed = ConvPatchEmbed(in_channels, dims[0],
                                          self.patch_kernel, self.patch_size)
        self.grid_size = self.patch_embed.grid(img_size)
        if min(self.grid_size) < 1:
            raise ValueError(
                f'img_size {img_size} is smaller than the patch embedding '
                f'kernel {self.patch_kernel}')
        self.pos_embed = nn.Parameter(torch.zeros(1, dims[0],
                                                  *self.grid_size))
        self.cls_token = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens, dims[0]))
        self.pos_drop = nn.Dropout(drop_rate)

        norm_layer = norm_factory(norm_cfg)
        dpr = drop_path_rates(drop_path_rate, self.num_layers, 'linear')
        self.stages = nn.ModuleList()
        for i, (depth, dim, num_heads) in enumerate(zip(depths, dims, heads)):
            layers = [ConvPooling(dims[i - 1], dim, self.num_extra_tokens)
                      ] if i else []
            first = sum(depths[:i])
            layers += [
                Block(
                    dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[first + j],
                    norm_layer=norm_layer,
                    fused_attn=fused_attn) for j in range(depth)
            ]
            self.stages.append(nn.ModuleList(layers))
        # only the class tokens are normalised (official / timm); dense
        # outputs never use it, so it is built for 'cls_token' only
        self.norm = norm_layer(dims[-1]) if out_type == 'cls_token' \
            else None

    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02)
        position embedding and class tokens, LayerNorms ones / zeros;
        linear and convolution layers keep PyTorch's default."""
        for p in self._parts(self.trunc_normal_params):
            trunc_normal_(p, std=.02)
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def resized_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The position embedding (1, C, H, W) on the grid ``hw``."""
        if tuple(hw) == tuple(self.pos_embed.shape[-2:]):
            return self.pos_embed
        return _resize_map(self.pos_embed, hw, self.interpolate_mode)

    def embed(self, x: torch.Tensor):
        """Patch maps plus the position embedding, flattened, after the
        class tokens."""
        x = self.patch_embed(x)
        hw = tuple(x.shape[-2:])
        x = self.pos_drop(x + self.resized_pos_embed(hw))
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1),
                       x.flatten(2).transpose(1, 2)),
                      dim=1)
        return x, hw

    def forward_stage(self, index: int, x: torch.Tensor,
                      hw: Tuple[int, int]):
        """Pool (stages > 0), then the blocks of stage ``index``."""
        for layer in self._stage_layers[index]:
            if isinstance(layer, ConvPooling):
                x, hw = self.run_layer(layer, x, hw)
            else:
                x = self.run_layer(layer, x)
        return x, hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """Normalised class token(s) after the last stage, or the patch
        tokens as ``out_type`` says."""
        if self.out_type == 'cls_token':
            cls = self.norm(x[:, :self.num_extra_tokens])
            return (cls[:, 0], cls[:, 1]) if self.distilled else cls[:, 0]
        return format_tokens(x, self.out_type, hw, self.num_extra_tokens)

    def resize_pretrained_state_dict(self, state_dict: dict) -> dict:
        """Resize a checkpoint's spatial position embedding (1, C, H, W) to
        this model's grid (bicubic, or ``interpolate_mode``); called by
        :func:`mmvitplug.models.utils.load_pretrained`."""
        value = state_dict.get('pos_embed')
        target = self.pos_embed.shape
        if value is not None and value.ndim == 4 and \
                value.shape[:2] == target[:2] and \
                value.shape[2:] != target[2:]:
            state_dict = dict(state_dict)
            state_dict['pos_embed'] = _resize_map(value, target[2:],
                                                  self.interpolate_mode)
            print_log(
                f'Resized pos_embed from {tuple(value.shape)} to '
                f'{tuple(target)}',
                logger='current')
        return state_dict


def _resize_map(pos_embed: torch.Tensor, hw: Sequence[int],
                mode: str) -> torch.Tensor:
    """Interpolate a (1, C, H, W) embedding to ``hw`` in float32."""
    resized = F.interpolate(
        pos_embed.float(),
        size=tuple(hw),
        mode=mode,
        align_corners=False if mode in ('bilinear', 'bicubic') else None)
    return resized.to(pos_embed.dtype)
