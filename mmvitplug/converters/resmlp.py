# Copyright (c) mmvitplug contributors.
"""Official / timm ResMLP checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

# (pattern of a checkpoint key, mmvitplug backbone key template). Official
# (facebookresearch/deit resmlp_models.py) names first, then timm
# (mlp_mixer.py ResBlock), then mmvitplug's own backbone names, so a bare
# mmvitplug backbone state dict passes through unchanged.
_RULES = (
    (r'(?:patch_embed|stem)\.proj\.(weight|bias)', r'patch_embed.proj.\1'),
    (r'blocks\.(\d+)\.(norm1|norm2)\.(alpha|beta)', r'blocks.\1.\2.\3'),
    (r'blocks\.(\d+)\.(?:attn|linear_tokens)\.(weight|bias)',
     r'blocks.\1.linear_tokens.\2'),
    (r'blocks\.(\d+)\.(?:mlp|mlp_channels)\.(fc1|fc2)\.(weight|bias)',
     r'blocks.\1.mlp_channels.\2.\3'),
    (r'blocks\.(\d+)\.(?:gamma_|ls)(1|2)(?:\.gamma)?',
     r'blocks.\1.ls\2.gamma'),
    (r'norm\.(alpha|beta)', r'norm.\1'),
)
#: The official layout (``blocks.{i}.attn``, ``gamma_{1,2}``) or timm's
#: (``stem.proj``, ``blocks.{i}.linear_tokens``, ``ls{1,2}``); mmvitplug's
#: own backbone names (``linear_tokens`` with ``patch_embed``,
#: ``ls{1,2}.gamma``) are neither.
LAYOUT = KeyLayout(
    r'blocks\.\d+\.attn\.weight$',
    r'blocks\.\d+\.norm1\.alpha$',
) | KeyLayout(
    r'stem\.proj\.weight$',
    r'blocks\.\d+\.linear_tokens\.weight$',
)


@register_converter('ResMLP', recognise=LAYOUT)
def convert_resmlp(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or timm ResMLP checkpoint to mmvitplug classifier keys.
     Accepts the state dicts of the official repository (``patch_embed.proj``,
    ``blocks.{i}.attn``, ``blocks.{i}.mlp.fc1``, ``blocks.{i}.gamma_1``, Affine
    ``alpha`` / ``beta`` of shape (C, )) and of timm (``stem.proj``,
    ``blocks.{i}.linear_tokens``, ``blocks.{i}.mlp_channels.fc1``,
    ``blocks.{i}.ls1``, Affine of shape (1, 1, C)), optionally wrapped as
    ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix (both
    removed by :func:`~mmvitplug.converters.registry.prepare_state_dict` first;
    the registered recogniser is :data:`LAYOUT`). The distilled and DINO
    checkpoints share the layout (one head, or none). Backbone keys get the
    ``backbone.`` prefix and mmvitplug names, Affine parameters become (C, )
    vectors, and the classifier ``head.*`` becomes ``head.fc.*`` (mmpretrain
    ``LinearClsHead``).

    Args:
        state_dict (dict): The official or timm checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared or
        reshaped views).

    Raises:
        KeyError: If a key is not part of the ResMLP layout, so no weight is
            dropped silently.
    """
    converted = map_keys(
        state_dict, _convert_key, 'convert_resmlp',
        'patch_embed.proj.* (timm: stem.proj.*), blocks.{i}.{norm1,norm2}.'
        '{alpha,beta}, blocks.{i}.attn.* (timm: linear_tokens.*), '
        'blocks.{i}.mlp.{fc1,fc2}.* (timm: mlp_channels.*), '
        'blocks.{i}.gamma_{1,2} (timm: ls{1,2}), norm.{alpha,beta}, head.*',
        layout='the official or timm ResMLP layout')
    for name, value in converted.items():
        if name.endswith(('.alpha', '.beta', '.gamma')):  # Affine, LayerScale
            converted[name] = value.reshape(-1)
    return converted


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official / timm key, or None if it is
    unknown."""
    for pattern, template in _RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return f'backbone.{match.expand(template)}'
    match = re.fullmatch(r'head\.(weight|bias)', key)
    if match:
        return f'head.fc.{match.group(1)}'
    return None
