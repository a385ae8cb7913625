# Copyright (c) mmvitplug contributors.
"""timm / torchvision / vissl (SEER) RegNetY checkpoints -> mmvitplug state
dicts."""
import functools
import re
from typing import Dict, Optional, Tuple

import torch

from .registry import KeyLayout, map_keys, register_converter

#: Where a block starts, per layout: (pattern, (stage, block) numbering
#: offsets). timm ``s{i}.b{j}`` counts both from 1; torchvision
#: ``trunk_output.block{i}.block{i}-{j}`` and vissl / ClassyVision
#: ``_feature_blocks.res{k}.block{i}-{j}`` count blocks from 0.
_BLOCK_PREFIXES = (
    (r's(\d+)\.b(\d+)\.', 1),
    (r'trunk_output\.block(\d+)\.block\d+-(\d+)\.', 0),
    (r'_feature_blocks\.res\d+\.block(\d+)-(\d+)\.', 0),
)
#: Inside a block: (pattern, mmvitplug name). timm names first, then the
#: pycls-style names of ClassyVision / vissl (``f.a.0``, ``f.c``,
#: ``f.final_bn``, ``f.se.excitation.{0,2}``, ``proj``, ``bn``) and
#: torchvision (``f.c.0``, ``f.c.1``, ``f.se.fc{1,2}``, ``proj.0``,
#: ``proj.1``).
_BLOCK_RULES = (
    (r'conv([123])\.(conv|bn)\.(.+)', r'conv\1.\2.\3'),
    (r'se\.fc1\.(weight|bias)', r'se.conv_reduce.\1'),
    (r'se\.fc2\.(weight|bias)', r'se.conv_expand.\1'),
    (r'downsample\.(conv|bn)\.(.+)', r'downsample.\1.\2'),
    (r'f\.a\.0\.weight', r'conv1.conv.weight'),
    (r'f\.a\.1\.(.+)', r'conv1.bn.\1'),
    (r'f\.b\.0\.weight', r'conv2.conv.weight'),
    (r'f\.b\.1\.(.+)', r'conv2.bn.\1'),
    (r'f\.se\.excitation\.0\.(weight|bias)', r'se.conv_reduce.\1'),
    (r'f\.se\.excitation\.2\.(weight|bias)', r'se.conv_expand.\1'),
    (r'f\.se\.fc1\.(weight|bias)', r'se.conv_reduce.\1'),  # torchvision
    (r'f\.se\.fc2\.(weight|bias)', r'se.conv_expand.\1'),
    (r'f\.c(?:\.0)?\.weight', r'conv3.conv.weight'),
    (r'f\.(?:c\.1|final_bn)\.(.+)', r'conv3.bn.\1'),
    (r'proj(?:\.0)?\.weight', r'downsample.conv.weight'),
    (r'(?:proj\.1|bn)\.(.+)', r'downsample.bn.\1'),
)
#: Outside the blocks: (pattern, mmvitplug classifier key).
_OTHER_RULES = (
    (r'stem\.(conv|bn)\.(.+)', r'backbone.stem.\1.\2'),  # timm
    (r'stem\.0\.weight', r'backbone.stem.conv.weight'),  # torchvision
    (r'stem\.1\.(.+)', r'backbone.stem.bn.\1'),
    (r'_feature_blocks\.conv1\.stem\.0\.weight',
     r'backbone.stem.conv.weight'),  # vissl
    (r'_feature_blocks\.conv1\.stem\.1\.(.+)', r'backbone.stem.bn.\1'),
    (r'(?:head\.)?fc\.(weight|bias)', r'head.fc.\1'),  # timm, torchvision
)
#: Keys of vissl's ``heads`` dict: (pattern, mmvitplug key). A fine-tuned
#: linear classifier (``0.clf.0``) becomes an mmpretrain ``LinearClsHead``;
#: a SwAV head (SEER pretraining: ``0.projection_head.{k}``, ``0.prototypes0``)
#: becomes the neck and the prototypes of an ``mmvitplug.SEER`` model.
_VISSL_HEAD_RULES = (
    (r'0\.clf\.0\.(weight|bias)', r'head.fc.\1'),
    (r'0\.projection_head\.(\d+)\.(.+)', r'neck.projection_head.\1.\2'),
    (r'0\.prototypes0\.weight', r'head.loss_module.prototypes.weight'),
)
#: timm (``s1.b1.conv1.conv``), torchvision (``trunk_output.block1``) or
#: vissl: a whole checkpoint (``classy_state_dict``) or its trunk
#: (``_feature_blocks.conv1.stem``).
LAYOUT = KeyLayout(r's1\.b1\.conv1\.conv\.weight$') | KeyLayout(
    r'trunk_output\.block1\.block1-0\.') | KeyLayout(
        r'classy_state_dict$') | KeyLayout(
            r'_feature_blocks\.conv1\.stem\.0\.weight$')


def _vissl_parts(state_dict: dict) -> Tuple[dict, dict]:
    """The trunk and the heads of a vissl checkpoint; any other state dict
    (a vissl trunk included) is all trunk, without heads."""
    if 'classy_state_dict' not in state_dict:
        return state_dict, {}
    model = state_dict['classy_state_dict']['base_model']['model']
    return model['trunk'], model.get('heads', {})


def _convert_key(key: str, rules) -> Optional[str]:
    for pattern, template in rules:
        match = re.fullmatch(pattern, key)
        if match:
            return match.expand(template)
    return None


def _trunk_key(key: str) -> Optional[str]:
    """The mmvitplug key of a trunk key, or None if it is unknown."""
    for prefix, offset in _BLOCK_PREFIXES:
        match = re.match(prefix, key)
        if match:
            inner = _convert_key(key[match.end():], _BLOCK_RULES)
            if inner is None:
                return None
            stage = int(match.group(1)) - 1
            block = int(match.group(2)) - offset
            return f'backbone.stages.{stage}.{block}.{inner}'
    return _convert_key(key, _OTHER_RULES)


@register_converter('RegNetY', recognise=LAYOUT)
def convert_regnety(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a timm, torchvision or vissl RegNetY checkpoint to mmvitplug keys.

    Accepts timm's ``regnety_*`` state dicts (``stem.conv``,
    ``s{i}.b{j}.conv1.conv``, ``se.fc1``, ``downsample.conv``, ``head.fc``;
    timm's pycls, DeiT teacher and SEER weights), torchvision's
    (``stem.0``, ``trunk_output.block{i}.block{i}-{j}.f.a.0``, ``fc``) and
    vissl's SEER checkpoints (``{'classy_state_dict': {'base_model':
    {'model': {'trunk': ..., 'heads': ...}}}}`` with ClassyVision names
    ``_feature_blocks.res{k}.block{i}-{j}.f.a.0``, ``f.c``, ``f.final_bn``,
    ``proj``, ``bn``; or the trunk dict alone). Backbone keys get the
    ``backbone.`` prefix and mmvitplug names (stage ``i`` block ``j`` ->
    ``stages.{i-1}.{j}`` counting blocks from 0; timm's SE ``fc1`` / ``fc2``
    -> ``conv_reduce`` / ``conv_expand``); a classifier becomes ``head.fc.*``
    (mmpretrain ``LinearClsHead``); vissl's SwAV head becomes
    ``neck.projection_head.*`` and ``head.loss_module.prototypes.weight``
    (an ``mmvitplug.SEER`` model with an ``mmvitplug.SEERNeck``). The SEER
    10B checkpoint (vissl ``regnet_fsdp``, sliced) is not covered.

    Args:
        state_dict (dict): The checkpoint (prepared: unwrapped from
            ``{'model': ...}`` / ``{'state_dict': ...}`` and without DDP's
            ``module.`` prefix).

    Returns:
        dict: A new state dict with mmvitplug keys (tensors shared).

    Raises:
        KeyError: If a key is in none of the layouts, so no weight is
            dropped silently (a vissl checkpoint's trunk is checked before
            its heads).
    """
    trunk, heads = _vissl_parts(state_dict)
    error = dict(
        converter='convert_regnety',
        expected='stem.{conv,bn}.*, s{i}.b{j}.{conv1,conv2,conv3,downsample}'
        '.{conv,bn}.*, s{i}.b{j}.se.{fc1,fc2}.*, head.fc.* (timm), '
        'trunk_output.block{i}.block{i}-{j}.f.* (torchvision) or '
        '_feature_blocks.res{k}.block{i}-{j}.f.* (vissl)',
        layout='the timm, torchvision or vissl RegNetY layout')
    converted = map_keys(trunk, _trunk_key, **error)
    converted.update(
        map_keys(heads,
                 functools.partial(_convert_key, rules=_VISSL_HEAD_RULES),
                 **error))
    return converted
