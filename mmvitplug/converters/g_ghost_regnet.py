# Copyright (c) mmvitplug contributors.
"""Official G-Ghost RegNet checkpoints -> mmvitplug classifier state
dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BN = r'bn[123]?\.(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside a RegNetX block (``conv{1,2,3}``, ``bn{1,2,3}``, the
#: ``downsample`` convolution + BN).
_BLOCK = (r'conv[123]\.weight|' + _BN +
          r'|downsample\.(0\.weight|1\.(weight|bias|running_mean|'
          r'running_var|num_batches_tracked))')
_SEQ_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside a G-Ghost stage: blocks ``base``, ``layers.{i}``, ``end``;
#: ``merge`` (convolutions at 1, 4, BNs at 2, 5), ``cheap`` (0, 1).
_STAGE = (r'(base|end|layers\.\d+)\.(' + _BLOCK + r')|merge\.([14]\.weight|'
          r'[25]\.' + _SEQ_BN + r')|cheap\.(0\.weight|1\.' + _SEQ_BN + ')')
#: Official G-Ghost RegNet (huawei-noah/Efficient-AI-Backbones
#: ``g_ghost_pytorch/g_ghost_regnet.py``): torchvision-style ``layer{i}``
#: with G-Ghost stages (``layer3.merge``, ``layer3.cheap``).
LAYOUT = KeyLayout(r'conv1\.weight', r'layer3\.merge\.1\.weight',
                   r'layer3\.cheap\.0\.weight')


@register_converter('GGhostRegNet', recognise=LAYOUT)
def convert_g_ghost_regnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official G-Ghost RegNet checkpoint to mmvitplug classifier
    keys.

    Accepts the state dicts of the official code (huawei-noah/Efficient-
    AI-Backbones ``g_ghost_pytorch/g_ghost_regnet.py``, weights of its
    ``g_ghost_regnet`` release), optionally wrapped as
    ``{'model': state_dict, ...}`` or ``{'state_dict': ...}`` and with
    DDP's ``module.`` prefix (removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`):

    - ``conv1.*``, ``bn1.*`` (the stem) -> ``backbone.conv1.*``,
      ``backbone.bn1.*``;
    - ``layer{i}.*`` -> ``backbone.stages.{i - 1}.*`` (names inside kept);
    - ``fc.*`` -> ``head.fc.*`` (:class:`mmvitplug.DropoutLinearClsHead`).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official layout, so no weight
            is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_g_ghost_regnet',
        'conv1.weight, bn1.*, layer{i}.{j}.{conv1-3,bn1-3,downsample}.*, '
        'layer{i}.{base,layers.{j},end,merge,cheap}.*, fc.*',
        layout='the official G-Ghost RegNet layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    if key == 'conv1.weight' or re.fullmatch(r'bn1\.' + _SEQ_BN, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'layer([1-4])\.(.+)', key)
    if found:
        rest = found.group(2)
        plain = re.fullmatch(r'\d+\.(.+)', rest)
        if (plain and re.fullmatch(_BLOCK, plain.group(1))) or \
                re.fullmatch(_STAGE, rest):
            return f'backbone.stages.{int(found.group(1)) - 1}.{rest}'
        return None
    found = re.fullmatch(r'fc\.(weight|bias)', key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
