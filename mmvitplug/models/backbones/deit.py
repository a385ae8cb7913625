# Copyright (c) mmvitplug contributors.
"""DeiT backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2012.12877>`_.
"""
from functools import partial
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.converters import convert_deit
from mmvitplug.layers import (Block, PatchEmbed, resize_pos_embed,
                              tokens_to_featmap)
from mmvitplug.registry import MODELS
from ..utils import (FrozenStagesMixin, block_layer_depth,
                     check_frozen_stages, check_out_type, init_linear_norm,
                     load_pretrained_init_cfg, parse_arch, parse_out_indices,
                     pretrained_init_cfg)


@MODELS.register_module()
class DeiT(FrozenStagesMixin, BaseBackbone):
    """Data-efficient image Transformer backbone.

    A plain ViT with a class token and, when ``distilled``, a distillation
    token (`DeiT <https://arxiv.org/abs/2012.12877>`_). Parameter names
    follow the official repository / timm (``patch_embed.proj``,
    ``cls_token``, ``dist_token``, ``pos_embed``, ``blocks.{i}.*``, ``norm``),
    so official checkpoints load after the small key mapping of
    :func:`mmvitplug.converters.convert_deit`.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` (and optionally ``img_size``).
            Defaults to 'deit-base'.
        img_size (int | tuple[int, int], optional): Size the position
            embedding is made for. Defaults to the arch's (224, or 384 for
            the ``-384`` archs).
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        distilled (bool): Add the distillation token. Defaults to False.
        out_indices (int | Sequence[int]): Blocks whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' (B, C) — a (cls, dist) pair when
            distilled —, 'featmap' (B, C, H/p, W/p), 'avg_featmap' (B, C)
            mean of the patch tokens, or 'raw' (B, N + extra, C).
            Defaults to 'cls_token'.
        final_norm (bool): Norm after the last block. Defaults to True.
        qkv_bias (bool): Bias in the qkv projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding, the
            attention projection and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth of the last block; block
            ``i`` uses ``drop_path_rate * i / (num_layers - 1)``.
            Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            embedding, tokens and position embedding; k > 0 also the first k
            blocks (and the final norm when k == num_layers). Frozen parts
            stay in eval mode. Defaults to -1.
        interpolate_mode (str): Mode used to resize the position embedding
            to other input or checkpoint grids. Defaults to 'bicubic'.
        fused_attn (bool): Fused attention kernels. Defaults to True.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official DeiT checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        'deit-tiny':
        dict(embed_dims=192, num_layers=12, num_heads=3,
             feedforward_channels=768, img_size=224),
        'deit-small':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, img_size=224),
        'deit-base':
        dict(embed_dims=768, num_layers=12, num_heads=12,
             feedforward_channels=3072, img_size=224),
        'deit-tiny-384':
        dict(embed_dims=192, num_layers=12, num_heads=3,
             feedforward_channels=768, img_size=384),
        'deit-small-384':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, img_size=384),
        'deit-base-384':
        dict(embed_dims=768, num_layers=12, num_heads=12,
             feedforward_channels=3072, img_size=384),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')

    def __init__(self,
                 arch: Union[str, dict] = 'deit-base',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 distilled: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 final_norm: bool = True,
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
        super().__init__(init_cfg)
        self.arch_settings = parse_arch(arch, self.arch_zoo, self.arch_keys,
                                        ('img_size', ), 'DeiT')
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        self.distilled = distilled
        self.num_extra_tokens = 2 if distilled else 1
        self.patch_size = patch_size
        if img_size is None:
            img_size = self.arch_settings.get('img_size', 224)
        check_out_type(out_type, self.out_types)
        self.out_type = out_type
        self.out_indices = parse_out_indices(out_indices, self.num_layers)
        check_frozen_stages(frozen_stages, self.num_layers)
        self.frozen_stages = frozen_stages
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.with_cp = with_cp

        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels,
                                      self.embed_dims)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        self.dist_token = nn.Parameter(torch.zeros(
            1, 1, self.embed_dims)) if distilled else None
        self.pos_embed = nn.Parameter(
            torch.zeros(1,
                        self.patch_embed.num_patches + self.num_extra_tokens,
                        self.embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)

        norm_layer = partial(self._build_norm, norm_cfg)
        num_layers = self.num_layers
        dpr = [
            drop_path_rate * i / max(num_layers - 1, 1)
            for i in range(num_layers)
        ]
        self.blocks = nn.ModuleList([
            Block(
                self.embed_dims,
                self.arch_settings['num_heads'],
                mlp_ratio=self.arch_settings['feedforward_channels'] /
                self.embed_dims,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=dpr[i],
                norm_layer=norm_layer,
                fused_attn=fused_attn) for i in range(num_layers)
        ])
        self.norm = norm_layer(self.embed_dims) if final_norm else \
            nn.Identity()
        self._freeze_stages()

    # ------------------------------------------------------------ settings
    @staticmethod
    def _build_norm(norm_cfg: dict, dims: int) -> nn.Module:
        return build_norm_layer(norm_cfg, dims)[1]

    # -------------------------------------------------------------- weights
    def init_weights(self):
        """Initialise like DeiT, then load the ``Pretrained`` init_cfg.

        Parameters get DeiT's initialisation (truncated normal, std 0.02,
        for tokens, position embedding and linear layers; LayerNorm ones
        and zeros). With ``init_cfg=dict(type='Pretrained', checkpoint=...,
        prefix=...)`` the checkpoint (mmvitplug layout, or the official /
        timm layout, which is converted) is then loaded by
        :func:`mmvitplug.models.utils.load_pretrained`, which resizes the
        position embedding and logs loaded / missing / unexpected keys; keys
        the checkpoint lacks keep the default initialisation. The module is
        then marked initialised, so later ``init_weights`` calls (e.g. by a
        detector) leave the weights alone. Other init_cfg types are applied
        on top of the default initialisation.
        """
        if self.is_init:
            return super().init_weights()  # only logs the repeated call
        cfg = pretrained_init_cfg(self.init_cfg, 'DeiT')
        trunc_normal_(self.pos_embed, std=.02)
        trunc_normal_(self.cls_token, std=.02)
        if self.dist_token is not None:
            trunc_normal_(self.dist_token, std=.02)
        self.apply(init_linear_norm)
        if cfg is not None:
            load_pretrained_init_cfg(self, cfg, convert_deit)
            return
        super().init_weights()  # user init_cfg (e.g. Kaiming) on top

    # ------------------------------------------------------------- freezing
    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        mods = [self.patch_embed, self.pos_drop]
        mods += list(self.blocks[:self.frozen_stages])
        if self.frozen_stages == self.num_layers:
            mods.append(self.norm)
        return mods

    def _frozen_params(self):
        return [self.cls_token, self.dist_token, self.pos_embed]

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay.

        Tokens, position and patch embeddings are depth 0, ``blocks.i`` is
        ``i + 1`` and everything else (final norm, parameters outside the
        backbone such as the head) is ``num_layers + 1``.

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of the backbone parameters in
                ``param_name``. Defaults to ''.

        Returns:
            tuple[int, int]: The layer depth and the number of depths
            (``num_layers + 2``).
        """
        return block_layer_depth(
            param_name, prefix, self.num_layers,
            stem_names=('cls_token', 'dist_token', 'pos_embed'))

    # -------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor) -> tuple:
        """Extract features.

        Args:
            x (torch.Tensor): Images (B, C, H, W); H and W must be multiples
                of ``patch_size``.

        Returns:
            tuple: One output per ``out_indices`` entry, formatted as
            ``out_type`` says.
        """
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        tokens = [self.cls_token.expand(B, -1, -1)]
        if self.dist_token is not None:
            tokens.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat((*tokens, x), dim=1)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_embed.grid_size,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_extra_tokens)
        x = self.pos_drop(x)

        outs = []
        for i, block in enumerate(self.blocks):
            if self.with_cp and self.training:
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i == self.num_layers - 1:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, hw))
        return tuple(outs)

    def _format_output(self, x: torch.Tensor, hw: Tuple[int, int]):
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return (x[:, 0], x[:, 1]) if self.distilled else x[:, 0]
        patches = x[:, self.num_extra_tokens:]
        if self.out_type == 'avg_featmap':
            return patches.mean(dim=1)
        return tokens_to_featmap(patches, hw)
