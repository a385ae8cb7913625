# Copyright (c) mmvitplug contributors.
"""Official / timm ConViT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BACKBONE_KEYS = ('cls_token', 'pos_embed')
_BACKBONE_PATTERNS = (
    r'patch_embed\.proj\.(weight|bias)',
    # GPSA blocks
    r'blocks\.\d+\.attn\.(qk|v|pos_proj)\.(weight|bias)',
    r'blocks\.\d+\.attn\.gating_param',
    # self-attention blocks
    r'blocks\.\d+\.attn\.qkv\.(weight|bias)',
    r'blocks\.\d+\.(norm1|norm2|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)',
    r'norm\.(weight|bias)',
)
#: Official (facebookresearch/convit) / timm ConViT: GPSA blocks with
#: positional projections and gates (the same keys in both).
LAYOUT = KeyLayout(
    r'pos_embed$',
    r'blocks\.\d+\.attn\.gating_param$',
    r'blocks\.\d+\.attn\.pos_proj\.weight$',
)


@register_converter('ConViT', recognise=LAYOUT)
def convert_convit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official / timm ConViT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository
    (`facebookresearch/convit <https://github.com/facebookresearch/convit>`_,
    `ConViT <https://arxiv.org/abs/2103.10697>`_; a bare state dict) or of
    timm's ``convit_*`` (the same keys), optionally wrapped as
    ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix (both
    removed by :func:`~mmvitplug.converters.registry.prepare_state_dict`
    first; the registered recogniser is :data:`LAYOUT`). ``mmvitplug.ConViT``
    uses the official names, so backbone keys only get the ``backbone.``
    prefix; the classifier ``head.*`` becomes ``head.fc.*`` (mmpretrain
    ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official ConViT layout, so no
            weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_convit',
        'cls_token, pos_embed, patch_embed.proj.*, blocks.{i}.{norm1,norm2,'
        'mlp.fc1,mlp.fc2,attn.proj}.*, GPSA blocks.{i}.attn.{qk,v,pos_proj,'
        'gating_param}, self-attention blocks.{i}.attn.qkv.*, norm.*, '
        'head.*',
        layout='the official ConViT layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    if key in _BACKBONE_KEYS or any(
            re.fullmatch(p, key) for p in _BACKBONE_PATTERNS):
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.fc.{key[5:]}'
    return None
