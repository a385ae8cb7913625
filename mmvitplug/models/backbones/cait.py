# Copyright (c) mmvitplug contributors.
"""CaiT backbone.

`Touvron et al. 2021 <https://arxiv.org/abs/2103.17239>`_.
"""
from functools import partial
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.converters import convert_cait
from mmvitplug.layers import (ClassAttentionBlock, DropPath, Mlp, PatchEmbed,
                              TalkingHeadsAttention, resize_pos_embed,
                              tokens_to_featmap)
from mmvitplug.registry import MODELS
from ..utils import (BackboneContractMixin, block_layer_depth,
                     check_frozen_stages, check_out_type, parse_arch,
                     parse_out_indices)


class CaiTBlock(nn.Module):
    """Self-attention block of CaiT: talking heads and LayerScale.

    Parameter names follow timm / official CaiT (``norm1``, ``attn.qkv``,
    ``attn.proj_l``, ``attn.proj_w``, ``attn.proj``, ``gamma_1``,
    ``norm2``, ``mlp.fc1``, ``mlp.fc2``, ``gamma_2``).

    Args:
        dim (int): Token dimension.
        num_heads (int): Number of attention heads.
        mlp_ratio (float): MLP hidden size as a multiple of ``dim``.
        qkv_bias (bool): Bias in the qkv projection.
        drop (float): Dropout after the attention projection and in the MLP.
        attn_drop (float): Dropout on attention weights.
        drop_path (float): Stochastic-depth rate of both branches.
        init_values (float): Initial value of ``gamma_1`` and ``gamma_2``.
        norm_layer (Callable[[int], nn.Module]): Norm constructor.
        fused_attn (bool): Efficient talking-heads path.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 qkv_bias: bool, drop: float, attn_drop: float,
                 drop_path: float, init_values: float,
                 norm_layer: Callable[[int], nn.Module], fused_attn: bool):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = TalkingHeadsAttention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=fused_attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else \
            nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, hidden_features=round(dim * mlp_ratio), drop=drop)
        self.gamma_1 = nn.Parameter(torch.full((dim, ), float(init_values)))
        self.gamma_2 = nn.Parameter(torch.full((dim, ), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform tokens of shape (B, N, C)."""
        x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
        x = x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))
        return x


@MODELS.register_module()
class CaiT(BackboneContractMixin, BaseBackbone):
    """Class-Attention in Image Transformers backbone.

    `CaiT <https://arxiv.org/abs/2103.17239>`_ processes the patch tokens
    (no class token) with ``num_layers`` self-attention blocks that use
    talking-heads attention and LayerScale, then inserts the class token
    late: ``num_ca_layers`` class-attention blocks update the class token
    only, reading the final patch tokens. Parameter names follow the
    official repository / timm (``patch_embed.proj``, ``cls_token``,
    ``pos_embed``, ``blocks.{i}.*``, ``blocks_token_only.{j}.*``, ``norm``),
    so official checkpoints load after the key mapping of
    :func:`mmvitplug.converters.cait.convert_cait`.

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
            embedding, class token and position embedding; k > 0 also the
            first k self-attention blocks, and k == num_layers also the
            class-attention blocks and the final norm. Frozen parts stay in
            eval mode. Defaults to -1.
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
    converter = staticmethod(convert_cait)
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
        super().__init__(init_cfg)
        self.arch_settings = parse_arch(arch, self.arch_zoo, self.arch_keys,
                                        self.optional_arch_keys, 'CaiT')
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        self.num_ca_layers = self.arch_settings.get('num_ca_layers', 2)
        self.patch_size = patch_size
        if img_size is None:
            img_size = self.arch_settings.get('img_size', 224)
        check_out_type(out_type, self.out_types)
        self.out_type = out_type
        self.out_indices = parse_out_indices(
            out_indices, self.num_layers, 'self-attention blocks')
        if out_type == 'cls_token' and \
                self.out_indices != (self.num_layers - 1, ):
            raise ValueError(
                "out_type='cls_token' needs out_indices=-1 (the last block, "
                f'{self.num_layers - 1}): the class token exists only after '
                'the class-attention blocks; got out_indices '
                f'{list(self.out_indices)}. Use featmap, avg_featmap or raw '
                'for intermediate blocks')
        check_frozen_stages(frozen_stages, self.num_layers)
        self.frozen_stages = frozen_stages
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.with_cp = with_cp

        dims = self.embed_dims
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, dims)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.patch_embed.num_patches, dims))
        self.pos_drop = nn.Dropout(drop_rate)

        norm_layer = partial(self._build_norm, norm_cfg)
        mlp_ratio = self.arch_settings['feedforward_channels'] / dims
        init_values = self.arch_settings['init_values']
        self.blocks = nn.ModuleList([
            CaiTBlock(
                dims,
                self.arch_settings['num_heads'],
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=drop_path_rate,
                init_values=init_values,
                norm_layer=norm_layer,
                fused_attn=fused_attn) for _ in range(self.num_layers)
        ])
        with_cls = out_type == 'cls_token'
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims)) \
            if with_cls else None
        self.blocks_token_only = nn.ModuleList([
            ClassAttentionBlock(
                dims,
                self.arch_settings['num_heads'],
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                init_values=init_values,
                norm_layer=norm_layer,
                fused_attn=fused_attn)
            for _ in range(self.num_ca_layers if with_cls else 0)
        ])
        self.norm = norm_layer(dims) if final_norm else nn.Identity()
        self._freeze_stages()

    # ------------------------------------------------------------ settings
    @staticmethod
    def _build_norm(norm_cfg: dict, dims: int) -> nn.Module:
        return build_norm_layer(norm_cfg, dims)[1]

    # -------------------------------------------------------------- weights
    def _init_default_weights(self):
        """CaiT's initialisation: truncated normal (std 0.02) for the class
        token, position embedding and linear layers, LayerNorm ones and
        zeros; LayerScale vectors keep their init value."""
        trunc_normal_(self.pos_embed, std=.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=.02)
        super()._init_default_weights()

    # ------------------------------------------------------------- freezing
    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        mods = [self.patch_embed, self.pos_drop]
        mods += list(self.blocks[:self.frozen_stages])
        if self.frozen_stages == self.num_layers:
            mods += [*self.blocks_token_only, self.norm]
        return mods

    def _frozen_params(self):
        return [self.cls_token, self.pos_embed]

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay.

        The class token, position and patch embeddings are depth 0,
        ``blocks.i`` is ``i + 1`` and everything else (class-attention
        blocks, final norm, parameters outside the backbone such as the
        head) is ``num_layers + 1``.

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
            stem_names=('cls_token', 'pos_embed'))

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
        x, hw = self.patch_embed(x)
        x = x + resize_pos_embed(
            self.pos_embed,
            self.patch_embed.grid_size,
            hw,
            mode=self.interpolate_mode,
            num_extra_tokens=0)
        x = self.pos_drop(x)

        outs = []
        for i, block in enumerate(self.blocks):
            x = self._run_block(block, x)
            if i not in self.out_indices:
                continue
            if i < self.num_layers - 1:
                outs.append(self._format_patches(x, hw))
            elif self.out_type == 'cls_token':
                outs.append(self.norm(self._class_attention(x))[:, 0])
            else:
                outs.append(self._format_patches(self.norm(x), hw))
        return tuple(outs)

    def _class_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Class token (B, 1, C) after the class-attention blocks."""
        x_cls = self.cls_token.expand(x.shape[0], -1, -1)
        for block in self.blocks_token_only:
            x_cls = self._run_block(block, x, x_cls)
        return x_cls

    def _format_patches(self, x: torch.Tensor, hw: Tuple[int, int]):
        if self.out_type == 'raw':
            return x
        if self.out_type == 'avg_featmap':
            return x.mean(dim=1)
        return tokens_to_featmap(x, hw)
