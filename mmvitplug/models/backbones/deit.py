# Copyright (c) mmvitplug contributors.
"""DeiT backbone, including the ViT of DeiT III.

`Touvron et al. 2021 <https://arxiv.org/abs/2012.12877>`_ and
`Touvron et al. 2022 (DeiT III) <https://arxiv.org/abs/2204.07118>`_.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmvitplug.layers import Block, PatchEmbed, resize_pos_embed
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_tokens,
                   norm_factory)

# Settings shared by the DeiT III archs (official models_v2.py: LayerScale
# init_scale=1e-4, a constant drop-path rate, pos_embed of the patches only).
_DEIT3 = dict(
    patch_size=16,
    layer_scale_init_value=1e-4,
    drop_path_mode='uniform',
    pos_embed_extra_tokens=False)


@MODELS.register_module()
class DeiT(VisionBackbone):
    """Data-efficient image Transformer backbone.

    A plain ViT with a class token and, when ``distilled``, a distillation
    token (`DeiT <https://arxiv.org/abs/2012.12877>`_). Parameter names
    follow the official repository / timm (``patch_embed.proj``,
    ``cls_token``, ``dist_token``, ``pos_embed``, ``blocks.{i}.*``, ``norm``),
    so official checkpoints load after the small key mapping of
    :func:`mmvitplug.converters.convert_deit`.

    The ``deit3-*`` archs are the ViTs of `DeiT III
    <https://arxiv.org/abs/2204.07118>`_ (official ``models_v2.py``
    ``deit_*_patch16_LS`` / ``deit_huge_patch14_LS``, timm ``deit3_*``). They
    differ from DeiT by three settings, which are also constructor arguments
    and optional arch-dict keys: LayerScale in every block
    (``layer_scale_init_value``, parameters ``blocks.{i}.ls1.gamma`` /
    ``ls2.gamma``), the same stochastic-depth rate in every block
    (``drop_path_mode='uniform'``) and a position embedding for the patches
    only, added before the class (and distillation) tokens are prepended
    (``pos_embed_extra_tokens=False``, timm's ``no_embed_class=True``). The
    LayerScale init value of the zoo is 1e-4, the value the official
    training code uses for every size (``vit_models(init_scale=1e-4)``);
    timm's ``deit3_*`` models use 1e-6, and timm applies its linear
    stochastic-depth rule to them, whereas the official code uses a uniform
    rate. Neither matters for pretrained weights (the gammas are learned),
    only for training from scratch. ``deit3-huge`` uses 14 x 14 patches.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` (and optionally ``img_size``,
            ``patch_size``, ``layer_scale_init_value``, ``drop_path_mode``,
            ``pos_embed_extra_tokens``, the defaults of the arguments of the
            same names). Defaults to 'deit-base'.
        img_size (int | tuple[int, int], optional): Size the position
            embedding is made for. Defaults to the arch's (224, or 384 for
            the ``-384`` archs).
        patch_size (int, optional): Patch size. Defaults to the arch's (14
            for 'deit3-huge', otherwise 16).
        in_channels (int): Image channels. Defaults to 3.
        distilled (bool): Add the distillation token. Defaults to False.
        out_indices (int | Sequence[int]): Blocks whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str): 'cls_token' (B, C) — a (cls, dist) pair when
            distilled —, 'featmap' (B, C, H/p, W/p), 'avg_featmap' (B, C)
            mean of the patch tokens, or 'raw' (B, N + extra, C).
            Defaults to 'cls_token'.
        final_norm (bool): Norm after the last block. Defaults to True.
        norm_all_outputs (bool): Apply the final norm to the output of
            every ``out_indices`` block, not only the last one's, as DINO's
            ``get_intermediate_layers`` and its linear evaluation on the
            class tokens of the last 4 blocks do. Needs ``final_norm``.
            Defaults to False.
        qkv_bias (bool): Bias in the qkv projections. Defaults to True.
        drop_rate (float): Dropout after the position embedding, the
            attention projection and in the MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic-depth rate, spread over the
            blocks as ``drop_path_mode`` says. Defaults to 0.
        drop_path_mode (str, optional): 'linear' (DeiT, timm): block ``i``
            uses ``drop_path_rate * i / (num_layers - 1)``, so the first
            block has none and the last ``drop_path_rate``; 'uniform'
            (official DeiT III code): every block uses ``drop_path_rate``.
            Defaults to the arch's ('uniform' for the ``deit3-*`` archs,
            otherwise 'linear').
        layer_scale_init_value (float, optional): Initial value of the
            LayerScale vectors ``ls1.gamma`` / ``ls2.gamma`` that scale the
            attention and MLP branches of every block; 0 disables LayerScale
            (no parameters). Defaults to the arch's (1e-4 for the
            ``deit3-*`` archs, as the official DeiT III code, otherwise 0).
        pos_embed_extra_tokens (bool, optional): Whether the position
            embedding has entries for the class / distillation tokens
            (DeiT: shape (1, extra + N, C), added after the tokens are
            prepended) or covers the N patches only (DeiT III, timm's
            ``no_embed_class``: shape (1, N, C), added to the patch tokens
            before the class / distillation tokens are prepended). Defaults
            to the arch's (False for the ``deit3-*`` archs, otherwise True).
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
        # DeiT III (official models_v2.py / timm deit3_*)
        'deit3-small':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, img_size=224, **_DEIT3),
        'deit3-medium':
        dict(embed_dims=512, num_layers=12, num_heads=8,
             feedforward_channels=2048, img_size=224, **_DEIT3),
        'deit3-base':
        dict(embed_dims=768, num_layers=12, num_heads=12,
             feedforward_channels=3072, img_size=224, **_DEIT3),
        'deit3-large':
        dict(embed_dims=1024, num_layers=24, num_heads=16,
             feedforward_channels=4096, img_size=224, **_DEIT3),
        'deit3-huge':
        dict(embed_dims=1280, num_layers=32, num_heads=16,
             feedforward_channels=5120, img_size=224,
             **dict(_DEIT3, patch_size=14)),
        'deit3-small-384':
        dict(embed_dims=384, num_layers=12, num_heads=6,
             feedforward_channels=1536, img_size=384, **_DEIT3),
        'deit3-base-384':
        dict(embed_dims=768, num_layers=12, num_heads=12,
             feedforward_channels=3072, img_size=384, **_DEIT3),
        'deit3-large-384':
        dict(embed_dims=1024, num_layers=24, num_heads=16,
             feedforward_channels=4096, img_size=384, **_DEIT3),
    }
    arch_keys = ('embed_dims', 'num_layers', 'num_heads',
                 'feedforward_channels')
    optional_arch_keys = ('img_size', 'patch_size', 'layer_scale_init_value',
                          'drop_path_mode', 'pos_embed_extra_tokens')
    out_types = ('cls_token', 'featmap', 'avg_featmap', 'raw')
    prunable_out_types = ('cls_token', )
    parts = Parts(
        stem=('patch_embed', 'cls_token', 'dist_token', 'pos_embed',
              'pos_drop'),
        stages='blocks',
        top=('norm', ))
    trunc_normal_params = ('pos_embed', 'cls_token', 'dist_token')

    def __init__(self,
                 arch: Union[str, dict] = 'deit-base',
                 img_size: Optional[Union[int, Tuple[int, int]]] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 distilled: bool = False,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'cls_token',
                 final_norm: bool = True,
                 norm_all_outputs: bool = False,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 drop_path_mode: Optional[str] = None,
                 layer_scale_init_value: Optional[float] = None,
                 pos_embed_extra_tokens: Optional[bool] = None,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic',
                 fused_attn: bool = True,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        settings = self.arch_settings
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        if img_size is None:
            img_size = settings.get('img_size', 224)
        if patch_size is None:
            patch_size = settings.get('patch_size', 16)
        if drop_path_mode is None:
            drop_path_mode = settings.get('drop_path_mode', 'linear')
        if layer_scale_init_value is None:
            layer_scale_init_value = settings.get('layer_scale_init_value',
                                                  0.)
        if pos_embed_extra_tokens is None:
            pos_embed_extra_tokens = settings.get('pos_embed_extra_tokens',
                                                  True)
        if not layer_scale_init_value >= 0:
            raise ValueError('layer_scale_init_value must be >= 0 (0 '
                             'disables LayerScale), got '
                             f'{layer_scale_init_value!r}')
        if not isinstance(pos_embed_extra_tokens, bool):
            raise ValueError('pos_embed_extra_tokens must be True or False, '
                             f'got {pos_embed_extra_tokens!r}')
        dpr = drop_path_rates(drop_path_rate, self.num_layers, drop_path_mode)
        self.distilled = distilled
        # class (+ distillation) tokens in front of the patch tokens
        self.num_extra_tokens = 2 if distilled else 1
        self.pos_embed_extra_tokens = pos_embed_extra_tokens
        # leading non-grid entries of pos_embed (read by load_pretrained)
        self.num_pos_embed_extra_tokens = \
            self.num_extra_tokens if pos_embed_extra_tokens else 0
        self.patch_size = patch_size
        self.drop_path_mode = drop_path_mode
        self.layer_scale_init_value = layer_scale_init_value
        if norm_all_outputs and not final_norm:
            raise ValueError('norm_all_outputs=True applies the final norm '
                             'to every output: it needs final_norm=True')
        self.final_norm = final_norm
        self.norm_all_outputs = norm_all_outputs
        self.interpolate_mode = interpolate_mode

        dims = self.embed_dims
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, dims)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dims)) \
            if distilled else None
        self.pos_embed = nn.Parameter(
            torch.zeros(
                1, self.num_pos_embed_extra_tokens +
                self.patch_embed.num_patches, dims))
        self.pos_drop = nn.Dropout(drop_rate)
        norm_layer = norm_factory(norm_cfg)
        self.blocks = nn.ModuleList([
            Block(
                dims,
                settings['num_heads'],
                mlp_ratio=settings['feedforward_channels'] / dims,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=dpr[i],
                init_values=layer_scale_init_value or None,
                norm_layer=norm_layer,
                fused_attn=fused_attn) for i in range(self.num_layers)
        ])
        self.norm = norm_layer(dims) if final_norm else nn.Identity()

    def embed(self, x: torch.Tensor):
        """Patch tokens, class (and distillation) token, position embedding.
        """
        B = x.shape[0]
        x, hw = self.patch_embed(x)
        pos_embed = resize_pos_embed(
            self.pos_embed,
            self.patch_embed.grid_size,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=self.num_pos_embed_extra_tokens)
        if not self.pos_embed_extra_tokens:
            x = x + pos_embed  # DeiT III: the patches only
        tokens = [self.cls_token.expand(B, -1, -1)]
        if self.dist_token is not None:
            tokens.append(self.dist_token.expand(B, -1, -1))
        x = torch.cat((*tokens, x), dim=1)
        if self.pos_embed_extra_tokens:
            x = x + pos_embed
        return self.pos_drop(x), hw

    def format_output(self, x: torch.Tensor, index: int,
                      hw: Tuple[int, int]):
        """The final norm after the last block (after every output block
        with ``norm_all_outputs``), then ``out_type``."""
        if index == self.num_stages - 1 or self.norm_all_outputs:
            x = self.norm(x)
        if self.out_type == 'cls_token':
            return (x[:, 0], x[:, 1]) if self.distilled else x[:, 0]
        return format_tokens(x, self.out_type, hw, self.num_extra_tokens)
