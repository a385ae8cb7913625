# Copyright (c) mmvitplug contributors.
"""Official PatchConvNet checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_BACKBONE_PATTERNS = (
    r'cls_token',
    r'blocks\.\d+\.(norm1\.(weight|bias)|gamma_1)',
    r'blocks\.\d+\.attn\.qkv_pos\.(0|2|5)\.(weight|bias)',
    r'blocks\.\d+\.attn\.qkv_pos\.4\.(conv_reduce|conv_expand)'
    r'\.(weight|bias)',
    r'blocks_token_only\.\d+\.(gamma_1|gamma_2)',
    r'blocks_token_only\.\d+\.(norm1|norm2|attn\.q|attn\.k|attn\.v|'
    r'attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)',
    r'norm\.(weight|bias)',
)
_STEM = r'patch_embed\.proj\.(\d+)\.0\.weight'
_MULTI_HEAD = r'head\.(\d+)\.(weight|bias)'
#: Official PatchConvNet: the convolutional stem's layers each sit in an
#: ``nn.Sequential`` (``patch_embed.proj.{i}.0``; ours have no ``.0``) and
#: the trunk blocks have ``attn.qkv_pos``.
LAYOUT = KeyLayout(
    r'patch_embed\.proj\.\d+\.0\.weight$',
    r'blocks\.\d+\.attn\.qkv_pos\.',
)


@register_converter('PatchConvNet', recognise=LAYOUT)
def convert_patchconvnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official PatchConvNet checkpoint to mmvitplug classifier keys.
     Accepts the state dict of the official repository (facebookresearch/deit
    ``patchconvnet_models.py``), optionally wrapped as ``{'model': state_dict,
    ...}`` and with DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix; the stem's ``patch_embed.proj.{i}.0.weight`` (each
    official convolution sits in its own ``nn.Sequential``) becomes
    ``backbone.patch_embed.proj.{i}.weight``; the classifier ``head.*`` becomes
    ``head.fc.*`` (mmpretrain ``LinearClsHead``). The multi-class-token model's
    per-class heads ``head.{i}.weight`` (1, C) /
    ``head.{i}.bias`` (1,) are stacked in class order into ``head.fc.weight``
    (K, C) / ``head.fc.bias`` (K,): class ``i``'s logit is
    ``head.fc.weight[i] @ token_i + head.fc.bias[i]``.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared,
        except the stacked multi-class heads).

    Raises:
        KeyError: If a key is not part of the official PatchConvNet layout,
            so no weight is dropped silently, or the per-class heads are
            incomplete.
    """
    converted = map_keys(
        state_dict, _convert_key, 'convert_patchconvnet',
        'cls_token, patch_embed.proj.{i}.0.weight, blocks.{i}.{norm1,'
        'gamma_1,attn.qkv_pos.{0,2,4.conv_reduce,4.conv_expand,5}}.*, '
        'blocks_token_only.{i}.{norm1,attn.{q,k,v,proj},gamma_1,norm2,'
        'mlp.{fc1,fc2},gamma_2}.*, norm.*, head.* or head.{i}.*',
        layout='the official PatchConvNet layout')
    multi = {}
    for key, value in state_dict.items():
        head = re.fullmatch(_MULTI_HEAD, key)
        if head:
            multi.setdefault(head.group(2), {})[int(head.group(1))] = value
    for name, parts in sorted(multi.items()):
        if sorted(parts) != list(range(len(parts))):
            raise KeyError(
                f'convert_patchconvnet: per-class heads head.{{i}}.{name} '
                f'are not numbered 0..K-1: {sorted(parts)[:10]}...')
        converted[f'head.fc.{name}'] = torch.cat(
            [parts[i] for i in range(len(parts))])
    return converted


def _convert_key(key: str) -> Union[str, object, None]:
    """The mmvitplug key of an official key, DROP for a per-class head
    (stacked by the caller), or None if it is unknown."""
    stem = re.fullmatch(_STEM, key)
    if stem:
        return f'backbone.patch_embed.proj.{stem.group(1)}.weight'
    if any(re.fullmatch(p, key) for p in _BACKBONE_PATTERNS):
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.fc.{key[5:]}'
    if re.fullmatch(_MULTI_HEAD, key):
        return DROP
    return None
