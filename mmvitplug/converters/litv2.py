# Copyright (c) mmvitplug contributors.
"""Official LITv2 checkpoints -> mmvitplug classifier state dicts."""
import functools
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside an official block: norms, HiLo's linear layers, ConvFFN.
_BLOCK = (r'(norm1|norm2|attn\.(l_q|l_kv|l_proj|h_qkv|h_proj)|mlp\.fc1|'
          r'mlp\.dwconv\.dwconv|mlp\.fc2)\.' + _PARAMS)
#: Names inside an official deformable token merging (``downsample``).
_DTM = (r'dconv\.(weight|bias|conv_offset\.weight|conv_offset\.bias)|'
        r'norm_layer\.' + _BN)
#: Official LITv2 (ziplab/LITv2 ``classification/models/litv2.py``):
#: Swin-like ``layers.{s}.blocks.{i}`` with a ConvFFN (``mlp.dwconv``).
LAYOUT = KeyLayout(r'patch_embed\.proj\.',
                   r'layers\.\d+\.blocks\.\d+\.mlp\.dwconv\.dwconv\.')


@register_converter('LITv2', recognise=LAYOUT)
def convert_litv2(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official LITv2 checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository (ziplab/LITv2
    ``classification/models/litv2.py``, or the backbone of its detection
    code), optionally wrapped as ``{'model': state_dict, ...}`` and with
    DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix:

    - ``patch_embed.{proj,norm}.*`` -> ``patch_embed.{proj,norm}.*``;
    - ``layers.{s}.blocks.{i}.*`` -> ``stages.{s}.{i}.*`` in the first
      stage, ``stages.{s}.{i + 1}.*`` in the others (their token merging
      comes first);
    - ``layers.{s}.downsample.*`` (the DTM at the end of stage ``s``) ->
      ``stages.{s + 1}.0.*``;
    - the classification model's final ``norm.*`` -> ``norm{last}.*``
      (``norm3``), the detection backbone's ``norm{i}.*`` kept;
    - the classifier ``head.*`` -> ``head.fc.*`` (mmpretrain
      ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official LITv2 layout, so no
            weight is dropped silently.
    """
    stages = {int(m.group(1)) for m in (
        re.match(r'layers\.(\d+)\.', key) for key in state_dict) if m}
    last = max(stages, default=0)
    return map_keys(
        state_dict, functools.partial(_convert_key, last=last),
        'convert_litv2',
        'patch_embed.{proj,norm}.*, layers.{s}.blocks.{i}.{norm1,norm2,'
        'attn.{l_q,l_kv,l_proj,h_qkv,h_proj},mlp.{fc1,dwconv.dwconv,fc2}}.*, '
        'layers.{s}.downsample.{dconv,norm_layer}.*, norm.*, norm{i}.* or '
        'head.*',
        layout='the official LITv2 layout')


def _convert_key(key: str, last: int) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    found = re.fullmatch(r'patch_embed\.(proj|norm)\.' + _PARAMS, key)
    if found:
        return f'backbone.{key}'
    found = re.fullmatch(r'layers\.(\d+)\.blocks\.(\d+)\.(.+)', key)
    if found and re.fullmatch(_BLOCK, found.group(3)):
        stage, index = int(found.group(1)), int(found.group(2))
        return f'backbone.stages.{stage}.{index + (stage > 0)}.' \
            f'{found.group(3)}'
    found = re.fullmatch(r'layers\.(\d+)\.downsample\.(.+)', key)
    if found and re.fullmatch(_DTM, found.group(2)):
        return f'backbone.stages.{int(found.group(1)) + 1}.0.' \
            f'{found.group(2)}'
    found = re.fullmatch(r'norm(\d*)\.' + _PARAMS, key)
    if found:
        index = found.group(1) or last
        return f'backbone.norm{index}.{found.group(2)}'
    found = re.fullmatch(r'head\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
