# Copyright (c) mmvitplug contributors.
"""Official / timm DeiT checkpoints -> mmvitplug classifier state dicts."""
import functools
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BACKBONE_KEYS = ('cls_token', 'dist_token', 'pos_embed')
_BACKBONE_PATTERNS = (
    r'patch_embed\.proj\.(weight|bias)',
    r'blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)'
    r'\.(weight|bias)',
    r'blocks\.\d+\.ls[12]\.gamma',  # DeiT III LayerScale, timm
    r'norm\.(weight|bias)',
)
# DeiT III LayerScale in the official models_v2.py: blocks.{i}.gamma_{1,2}
_OFFICIAL_LAYER_SCALE = r'(blocks\.\d+)\.gamma_([12])'
#: Official / timm DeiT, distilled DeiT and DeiT III ViTs; CaiT's layout
#: (same trunk keys, plus class-attention blocks) is not DeiT's.
LAYOUT = KeyLayout(
    r'pos_embed$',
    r'patch_embed\.proj\.weight$',
    r'blocks\.\d+\.attn\.qkv\.weight$',
    forbidden=(r'blocks_token_only\.', r'blocks\.\d+\.attn\.proj_l\.',
               r'blocks\.\d+\.attn\.gating_param$'))  # CaiT, ConViT


@register_converter('DeiT', recognise=LAYOUT)
def convert_deit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official DeiT / DeiT III checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository / timm (plain or
    distilled DeiT, and the DeiT III ViTs of the official ``models_v2.py`` /
    timm ``deit3_*``), optionally wrapped as ``{'model': state_dict, ...}`` and
    with DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix, and the official DeiT III LayerScale vectors
    ``blocks.{i}.gamma_1`` / ``gamma_2`` become ``blocks.{i}.ls1.gamma`` /
    ``ls2.gamma`` (timm's names, already ours). DeiT III's position embedding
    of the patches only keeps its shape; it loads into :class:`mmvitplug.DeiT`
    built with ``pos_embed_extra_tokens=False`` (the ``deit3-*`` archs). The
    plain classifier ``head.*`` becomes ``head.fc.*`` (mmpretrain
    ``LinearClsHead``) and the distilled ``head.*`` / ``head_dist.*`` become
    ``head.head.*`` / ``head.head_dist.*`` (``mmvitplug.DeiTDistillHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official DeiT layout, so no
            weight is dropped silently.
    """
    distilled = 'head_dist.weight' in state_dict or 'dist_token' in state_dict
    return map_keys(
        state_dict, functools.partial(_convert_key, distilled=distilled),
        'convert_deit',
        'cls_token, dist_token, pos_embed, patch_embed.proj.*, '
        'blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, '
        'blocks.{i}.{gamma_1,gamma_2,ls1.gamma,ls2.gamma}, norm.*, head.*, '
        'head_dist.*',
        layout='the official DeiT layout')


def _convert_key(key: str, distilled: bool) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    layer_scale = re.fullmatch(_OFFICIAL_LAYER_SCALE, key)
    if layer_scale:
        block, branch = layer_scale.groups()
        return f'backbone.{block}.ls{branch}.gamma'
    if key in _BACKBONE_KEYS or any(
            re.fullmatch(p, key) for p in _BACKBONE_PATTERNS):
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.{"head" if distilled else "fc"}.{key[5:]}'
    if distilled and re.fullmatch(r'head_dist\.(weight|bias)', key):
        return f'head.{key}'
    return None
