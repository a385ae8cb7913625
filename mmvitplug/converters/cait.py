# Copyright (c) mmvitplug contributors.
"""Official / timm CaiT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BACKBONE_KEYS = ('cls_token', 'pos_embed')
_BACKBONE_PATTERNS = (
    r'patch_embed\.proj\.(weight|bias)',
    r'blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj_l|attn\.proj_w|'
    r'attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)',
    r'blocks_token_only\.\d+\.(norm1|norm2|attn\.q|attn\.k|attn\.v|'
    r'attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)',
    r'blocks_token_only\.\d+\.gamma_[12]',
    r'norm\.(weight|bias)',
)
# LayerScale of the self-attention blocks: official / timm ``gamma_{1,2}``,
# mmvitplug ``ls{1,2}.gamma`` (the shared mmvitplug.layers.Block)
_BLOCK_LAYER_SCALE = r'(blocks\.\d+)\.gamma_([12])'
#: Official / timm CaiT: talking-heads blocks and class-attention blocks.
LAYOUT = KeyLayout(
    r'pos_embed$',
    r'blocks\.\d+\.attn\.proj_l\.weight$',
    r'blocks\.\d+\.gamma_1$',  # mmvitplug: blocks.{i}.ls1.gamma
    r'blocks_token_only\.\d+\.attn\.q\.weight$',
)


@register_converter('CaiT', recognise=LAYOUT)
def convert_cait(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CaiT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository
    (`facebookresearch/deit <https://github.com/facebookresearch/deit>`_,
    `CaiT <https://arxiv.org/abs/2103.17239>`_) or timm, optionally wrapped
    as ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix
    (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`).
    Backbone keys (``mmvitplug.CaiT`` uses the official names) get the
    ``backbone.`` prefix, the LayerScale vectors of the self-attention
    blocks ``blocks.{i}.gamma_1`` / ``gamma_2`` become
    ``blocks.{i}.ls1.gamma`` / ``ls2.gamma`` (those of the class-attention
    blocks keep their names) and the classifier ``head.*`` becomes
    ``head.fc.*`` (mmpretrain ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official CaiT layout, so no
            weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_cait',
        'cls_token, pos_embed, patch_embed.proj.*, blocks.{i}.{norm1,'
        'attn.qkv,attn.proj_l,attn.proj_w,attn.proj,norm2,mlp.fc1,mlp.fc2,'
        'gamma_1,gamma_2}, blocks_token_only.{j}.{norm1,attn.q,attn.k,'
        'attn.v,attn.proj,norm2,mlp.fc1,mlp.fc2,gamma_1,gamma_2}, norm.*, '
        'head.*',
        layout='the official CaiT layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    layer_scale = re.fullmatch(_BLOCK_LAYER_SCALE, key)
    if layer_scale:
        block, branch = layer_scale.groups()
        return f'backbone.{block}.ls{branch}.gamma'
    if key in _BACKBONE_KEYS or any(
            re.fullmatch(p, key) for p in _BACKBONE_PATTERNS):
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.fc.{key[5:]}'
    return None
