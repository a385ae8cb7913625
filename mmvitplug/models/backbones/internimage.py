# Copyright (c) mmvitplug contributors.
"""InternImage: a four-level pyramid of DCNv3 blocks.

`Wang et al. 2023, "InternImage: Exploring Large-Scale Vision Foundation
Models with Deformable Convolutions" <https://arxiv.org/abs/2211.05778>`_;
official code: OpenGVLab/InternImage (``classification/models/
intern_image.py``, ``ops_dcnv3``).
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn

from mmvitplug.layers import DCNv3, DropPath, LayerNorm2d, LayerScale, Mlp
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, drop_path_rates, format_featmap


def _layer_norm(channels: int) -> nn.LayerNorm:
    # every official LayerNorm has eps 1e-6
    return nn.LayerNorm(channels, eps=1e-6)


class InternImageStem(nn.Module):
    """Two 3x3 stride-2 convolutions (to half the channels, then all),
    each followed by a LayerNorm, with a GELU between: images (B, 3, H, W)
    -> channels-last maps (B, ceil(H / 4), ceil(W / 4), C) (official
    ``StemLayer``)."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels // 2, 3, 2, 1)
        self.norm1 = LayerNorm2d(channels // 2)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(channels // 2, channels, 3, 2, 1)
        self.norm2 = _layer_norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(x).permute(0, 2, 3, 1))


class InternImageDownsample(nn.Module):
    """A 3x3 stride-2 convolution without bias doubling the channels, then
    a LayerNorm, channels last in and out (official ``DownsampleLayer``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, 3, 2, 1, bias=False)
        self.norm = _layer_norm(2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x.permute(0, 3, 1, 2))
        return self.norm(x.permute(0, 2, 3, 1))


class InternImageBlock(nn.Module):
    """A DCNv3 residual branch and an MLP residual branch, channels last.

    Pre-norm (``post_norm=False``)::

        x = x + drop_path(ls1(dcn(norm1(x))))
        x = x + drop_path(ls2(mlp(norm2(x))))

    Post-norm (InternImage-S and larger) normalises the branch outputs
    instead: ``x + drop_path(ls1(norm1(dcn(x))))`` (and the MLP alike).
    ``ls1`` / ``ls2`` are layer scales (official ``gamma1`` / ``gamma2``)
    when ``layer_scale`` is given, identities otherwise.

    Args:
        channels (int): Channels.
        groups (int): DCNv3 groups.
        mlp_ratio (float): MLP hidden channels per channel.
        post_norm (bool): Normalise the branch outputs instead of inputs.
        layer_scale (float, optional): Initial layer scale; None: none.
        offset_scale (float): DCNv3 offset scale.
        drop (float): Dropout in the MLP.
        drop_path (float): Stochastic depth of both branches.
    """

    def __init__(self, channels: int, groups: int, mlp_ratio: float,
                 post_norm: bool, layer_scale: Optional[float],
                 offset_scale: float, drop: float, drop_path: float):
        super().__init__()
        self.post_norm = post_norm
        self.norm1 = _layer_norm(channels)
        self.dcn = DCNv3(channels, groups, offset_scale=offset_scale)
        self.norm2 = _layer_norm(channels)
        self.mlp = Mlp(channels, int(channels * mlp_ratio), drop=drop)
        if layer_scale is None:
            self.ls1 = self.ls2 = nn.Identity()
        else:
            self.ls1 = LayerScale(channels, layer_scale)
            self.ls2 = LayerScale(channels, layer_scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else \
            nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.post_norm:
            x = x + self.drop_path(self.ls1(self.norm1(self.dcn(x))))
            return x + self.drop_path(self.ls2(self.norm2(self.mlp(x))))
        x = x + self.drop_path(self.ls1(self.dcn(self.norm1(x))))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


@MODELS.register_module()
class InternImage(VisionBackbone):
    """InternImage: a convolutional stem, then four levels of DCNv3 blocks
    at strides 4, 8, 16 and 32.

    The stem (two 3x3 stride-2 convolutions with LayerNorms) gives the
    first level's channels C; each later level opens with a 3x3 stride-2
    convolution + LayerNorm doubling the channels (``downsample{i}``). A
    block is a residual DCNv3 (:class:`mmvitplug.layers.DCNv3`: deformable
    sampling of ``groups`` channel groups, softmax masks per group) and a
    residual MLP, with the norm-and-layer-scale setting of each size (see
    :class:`InternImageBlock`). Pre-norm models normalise each level's
    output (``norm{i}``); post-norm models (S and larger) have no level
    norm. The outputs are the levels before the next downsampling, as the
    official detection and segmentation backbones take them. The
    classification model's 1x1 convolution head is
    :class:`mmvitplug.InternImageClsHead`.

    The stride-2 convolutions round odd sides up (padding 1), so any input
    works, with level ``i`` of size ``ceil(H / 2**(i + 2))`` (as
    officially); nothing is padded. DCNv3 runs in pure PyTorch
    (:func:`mmvitplug.layers.dcnv3_sample`, ``F.grid_sample``) on CPU and
    GPU; the official compiled kernel is not needed.

    Layer depths (layer-wise lr decay) are those of the official
    ``CustomLayerDecayOptimizerConstructor``: the stem 0, block ``j``
    (counted over the levels) ``j + 1``, a level's output norm and the
    next downsampling the depth of the next level's first block, the last
    level's norm the top's.

    Parameter names follow the official code inside the blocks; official
    checkpoints load after :func:`mmvitplug.converters.convert_internimage`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``channels`` (first level), ``depths`` and ``groups`` (per level)
            and optionally ``layer_scale`` (initial value; default None:
            none), ``post_norm`` (default False), ``offset_scale`` (default
            1.0) and ``mlp_ratio`` (default 4). Defaults to 'internimage-t'.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Levels whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'featmap' (B, C_i, H_i, W_i) maps or 'avg_featmap'
            (B, C_i) their means. Defaults to 'featmap'.
        drop_rate (float): Dropout in the MLPs. Defaults to 0.
        drop_path_rate (float): Stochastic depth, rising linearly from 0
            over the blocks to this rate. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k levels (with the norms and downsamplings
            entering inside them). Defaults to -1.
        with_cp (bool): Gradient checkpointing of every block in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'internimage-t':
        dict(channels=64, depths=[4, 4, 18, 4], groups=[4, 8, 16, 32]),
        'internimage-s':
        dict(
            channels=80,
            depths=[4, 4, 21, 4],
            groups=[5, 10, 20, 40],
            layer_scale=1e-5,
            post_norm=True),
        'internimage-b':
        dict(
            channels=112,
            depths=[4, 4, 21, 4],
            groups=[7, 14, 28, 56],
            layer_scale=1e-5,
            post_norm=True),
        'internimage-l':
        dict(
            channels=160,
            depths=[5, 5, 22, 5],
            groups=[10, 20, 40, 80],
            layer_scale=1e-5,
            post_norm=True,
            offset_scale=2.0),
        'internimage-xl':
        dict(
            channels=192,
            depths=[5, 5, 24, 5],
            groups=[12, 24, 48, 96],
            layer_scale=1e-5,
            post_norm=True,
            offset_scale=2.0),
    }
    arch_keys = ('channels', 'depths', 'groups')
    optional_arch_keys = ('layer_scale', 'post_norm', 'offset_scale',
                          'mlp_ratio')
    out_types = ('featmap', 'avg_featmap')
    num_stages_key = 'depths'
    stage_unit = 'levels'
    # the output norm of level i < 3 and the downsampling after it enter
    # before level i + 1's first block
    parts = Parts(
        stem=('patch_embed', ),
        stages='stages',
        top=('norm3', ),
        joins=(('norm0', 'stage1_first_layer'),
               ('downsample1', 'stage1_first_layer'),
               ('norm1', 'stage2_first_layer'),
               ('downsample2', 'stage2_first_layer'),
               ('norm2', 'stage3_first_layer'),
               ('downsample3', 'stage3_first_layer')))
    patch_size = 4

    def __init__(self,
                 arch: Union[str, dict] = 'internimage-t',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        per_stage = self.stage_settings('groups', num_stages=4)
        depths = per_stage['depths']
        dims = [settings['channels'] * 2**i for i in range(4)]
        for dim, groups in zip(dims, per_stage['groups']):
            if dim % groups:
                raise ValueError(
                    f'InternImage arch: a level of {dim} channels cannot '
                    f'have {groups} DCNv3 groups (channels {dims}, groups '
                    f"{per_stage['groups']}); groups must divide channels")
        self.embed_dims = dims
        self.depths = depths
        self.post_norm = bool(settings.get('post_norm', False))

        self.patch_embed = InternImageStem(in_channels, dims[0])
        rates = iter(
            drop_path_rates(drop_path_rate, sum(depths), mode='linear'))
        self.stages = nn.ModuleList()
        for dim, depth, groups in zip(dims, depths, per_stage['groups']):
            self.stages.append(
                nn.ModuleList([
                    InternImageBlock(
                        dim,
                        groups,
                        mlp_ratio=settings.get('mlp_ratio', 4.),
                        post_norm=self.post_norm,
                        layer_scale=settings.get('layer_scale'),
                        offset_scale=settings.get('offset_scale', 1.),
                        drop=drop_rate,
                        drop_path=next(rates)) for _ in range(depth)
                ]))
        for i, dim in enumerate(dims):
            self.add_module(f'norm{i}',
                            None if self.post_norm else _layer_norm(dim))
            if i:
                self.add_module(f'downsample{i}',
                                InternImageDownsample(dims[i - 1]))
        first = 0
        for i in range(1, 4):
            first += depths[i - 1]
            setattr(self, f'stage{i}_first_layer', first)

    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02) linear
        layers, then DCNv3's own (zero offset / mask projections, Xavier
        input / output projections); convolutions keep PyTorch's."""
        super().init_default_weights()
        for module in self.modules():
            if isinstance(module, DCNv3):
                module.reset_parameters()

    # -------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        """The stem: channels-last maps (B, ceil(H / 4), ceil(W / 4), C)."""
        return self.patch_embed(x), None

    def forward_stage(self, index: int, x: torch.Tensor, context):
        """The downsampling (levels after the first), the blocks, then the
        level's output norm (pre-norm models)."""
        if index:
            x = getattr(self, f'downsample{index}')(x)
        for block in self._stage_layers[index]:
            x = self.run_layer(block, x)
        norm = getattr(self, f'norm{index}')
        return (x if norm is None else norm(x)), context

    def format_output(self, x: torch.Tensor, index: int, context):
        """The level's (B, H_i, W_i, C_i) map as NCHW, or its mean."""
        return format_featmap(x.permute(0, 3, 1, 2), self.out_type)
