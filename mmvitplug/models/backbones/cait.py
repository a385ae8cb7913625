# Copyright (c) mmvitplug contributors.
"""CaiT backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2103.17239>`_.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import (Block, ClassAttentionBlock, PatchEmbed,
                              TalkingHeadsAttention, resize_pos_embed)
from mmvitplug.registry import MODELS
from .base import Parts, VisionBackbone, format_tokens, norm_factory


@MODELS.register_module()
class CaiT(VisionBackbone):
    """Class-Attention in Image Transformers backbone.

    `CaiT <https://arxiv.org/abs/2103.17239>`_ processes the patch tokens
    (no class token) with ``num_layers`` self-attention blocks that use
    talking-heads attention and LayerScale, then inserts the class token
    late: ``num_ca_layers`` class-attention blocks update the class token
    only, reading the final patch tokens. Parameter names follow the
    official repository / timm (``patch_embed.proj``, ``cls_token``,
    ``pos_embed``, ``blocks.{i}.*``, ``blocks_token_only.{j}.*``, ``norm``)
    except the LayerScale of the self-attention blocks, ``ls1.gamma`` /
    ``ls2.gamma`` of the shared :class:`~mmvitplug.layers.Block` (official
    ``gamma_1`` / ``gamma_2``), so official checkpoints load after the key
    mapping of :func:`mmvitplug.converters.cait.convert_cait`.

    ``out_indices`` index the self-attention blocks. Patch outputs
    ('featmap', 'avg_featmap', 'raw') of the last block go through the
    final norm, as in the official model (whose final norm acts on
    ``[cls, patches]`` after the class-attention blocks, which leave the
    patches unchanged). 'cls_token' is the class token after the
    class-attention blocks and the final norm, which exists only after the
    last block. The class token and the class-attention blocks are built
    only for ``out_type='cls_token'``: dense outputs never use them (so no
    parameter is left without gradient under DDP, and loading a
    classification checkpoint reports their keys as unexpected).

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and ``init_values`` (optionally
            ``num_ca_layers``, default 2, and ``img_size``).
            Defaults to 'cait-s24'.
        img_size (int | tuple[int, int], optional): Size the position
            embedding is made for. Defaults to the arch's (224, 384 for the
            ``-384`` archs, 448 for 'cait-m48-448').
        patch_size (int): Patch size. Defaults to 16.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Self-attention blocks whose
            output is returned; negative values count from the end.
            Defaults to -1.
        out_type (str): 'cls_token' (B, C), only with ``out_indices`` the
            last block; 'featmap' (B, C, H/p, W/p); 'avg_featmap' (B, C)
            mean of the patch tokens; or 'raw' (B, N, C) patch tokens.
            Defaults to 'cls_token'.
        final_norm (bool): Norm after the last block. Defaults to True.
        qkv_bias (bool): Bias in the q/k/v projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding and, in the
            self-attention blocks, after the attention projection and in the
            MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on the attention weights of the
            self-attention blocks. Defaults to 0.
        drop_path_rate (float): Stochastic depth of every self-attention
            block (a uniform rate, as in official CaiT; the class-attention
            blocks use none). Defaults to 0.
        norm_cfg (dict): Norm config. Defaults to
            ``dict(type='LN', eps=1e-6)``.
        frozen_stages (int): -1 freezes nothing; 0 freezes the patch
            and position embeddings; k > 0 also the first k self-attention
            blocks, and k == num_layers also the class token, the
            class-attention blocks and the final norm (the class token
            enters the computation after the last self-attention block, so
            its layer depth is that of the top, ``num_layers + 1``). Frozen
            parts stay in eval mode. Defaults to -1.
        interpolate_mode (str): Mode used to resize the position embedding
            to other input or checkpoint grids. Defaults to 'bicubic'.
        fused_attn (bool): Efficient talking-heads path and fused
            class-attention kernel. Defaults to True.
        with_cp (bool): Gradient checkpointing of the blocks in training.
            Defaults to False.
        init_cfg (dict, optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug or official CaiT checkpoints. Defaults to None.
    """
    arch_zoo: Dict[str, dict] = {
        **{
            f'cait-{name}{suffix}': dict(
                embed_dims=dims,
                num_layers=depth,
                num_heads=heads,
                feedforward_channels=dims * 4,
                init_values=eps,
                img_size=size)
            for name, dims, depth, heads, eps in (
                ('xxs24', 192, 24, 4, 1e-5),
                ('xxs36', 192, 36, 4, 1e-5),
                ('xs24', 288, 24, 6, 1e-5),
                ('s24', 384, 24, 8, 1e-5),
                ('s36', 384, 36, 8, 1e-6),
                ('m36', 768, 36, 16, 1e-6),
                ('m48', 768, 48, 16, 1e-6),
            ) for suffix, size in (('', 224), ('-384', 384))
        },
        'cait-m48-448':
        dict(embed_dims=768, num_layers=48, num_heads=16,
             feedforward_channels=3072, init_values=1e-6, img_size=448),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels', 'init_values')
    optional_arch_keys = ('num_ca_layers', 'img_size')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    final_only_out_types = {
        'cls_token':
        'the class token exists only after the class-attention blocks'
    }
    # talking-heads and class attention honour a keep policy
    prunable_out_types = ('cls_token', )
    stage_unit = 'self-attention blocks'
    # the class token enters after the last self-attention block
    parts = Parts(
        stem=('patch_embed', 'pos_embed', 'pos_drop'),
        stages='blocks',
        top=('cls_token', 'blocks_token_only', 'norm'))
    trunc_normal_params = ('pos_embed', 'cls_token')
    #: Tokens besides the patches in ``pos_embed`` and the block outputs.
    num_extra_tokens = 0

    def __init__(self,
                 arch: Union[str, dict] = 'cait-s24',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 patch_size: int = 16,
                 in_channels: int = 3,
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
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        self.embed_dims = dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        self.num_ca_layers = settings.get('num_ca_layers', 2)
        self.patch_size = patch_size
        if img_size is None:
            img_size = settings.get('img_size', 224)
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode

        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, dims)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.patch_embed.num_patches, dims))
        self.pos_drop = nn.Dropout(drop_rate)
        norm_layer = norm_factory(norm_cfg)
        mlp_ratio = settings['feedforward_channels'] / dims
        init_values = settings['init_values']
        # talking-heads self-attention with LayerScale
        self.blocks = nn.ModuleList([
            Block(
                dims,
                settings['num_heads'],
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=drop_path_rate,
                init_values=init_values,
                norm_layer=norm_layer,
                fused_attn=fused_attn,
                attn_layer=TalkingHeadsAttention)
            for _ in range(self.num_layers)
        ])
        with_cls = out_type == 'cls_token'
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims)) \
            if with_cls else None
        self.blocks_token_only = nn.ModuleList([
            ClassAttentionBlock(
                dims,
                settings['num_heads'],
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                init_values=init_values,
                norm_layer=norm_layer,
                fused_attn=fused_attn)
            for _ in range(self.num_ca_layers if with_cls else 0)
        ])
        self.norm = norm_layer(dims) if final_norm else nn.Identity()

    def embed(self, x: torch.Tensor):
        """Patch tokens plus the position embedding."""
        x, hw = self.patch_embed(x)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_embed.grid_size,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        return self.pos_drop(x), hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """Patch outputs, normalised after the last block, or the class
        token after the class-attention blocks and the final norm."""
        if index < self.num_stages - 1:
            return format_tokens(x, self.out_type, hw)
        if self.out_type == 'cls_token':
            if self.cls_token is None:
                raise ValueError(
                    'this CaiT was built without a class token and '
                    "class-attention blocks (out_type='featmap' / 'raw' / "
                    "...): build it with out_type='cls_token' to get them")
            return self.norm(self._class_attention(x))[:, 0]
        return format_tokens(self.norm(x), self.out_type, hw)

    def _class_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Class token (B, 1, C) after the class-attention blocks."""
        x_cls = self.cls_token.expand(x.shape[0], -1, -1)
        for block in self.blocks_token_only:
            x_cls = self.run_layer(block, x, x_cls)
        return x_cls
