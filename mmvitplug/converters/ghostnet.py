# Copyright (c) mmvitplug contributors.
"""Official / timm GhostNet and GhostNetV2 checkpoints -> mmvitplug
classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside a block: Ghost modules (convolutions at 0, BNs at 1; DFC's
#: ``short_conv`` convolutions at 0, 2, 4, BNs at 1, 3, 5), the strided
#: depth-wise convolution, the SE, the shortcut, the last stage's
#: ``ConvBnAct``.
_BLOCK = (r'ghost[12]\.(primary_conv|cheap_operation)\.(0\.weight|1\.' +
          _BN + r')|ghost1\.short_conv\.([024]\.weight|[135]\.' + _BN +
          r')|conv_dw\.weight|bn_dw\.' + _BN + r'|se\.conv_(reduce|expand)\.' +
          _PARAMS + r'|shortcut\.([02]\.weight|[13]\.' + _BN + r')|'
          r'conv\.weight|bn1\.' + _BN)
#: Official GhostNet / GhostNetV2 (huawei-noah/Efficient-AI-Backbones
#: ``ghostnet_pytorch``, ``ghostnetv2_pytorch``) = timm ``ghostnet_*`` /
#: ``ghostnetv2_*``: ``blocks.{i}.{j}.ghost1.primary_conv``.
LAYOUT = KeyLayout(r'conv_stem\.weight',
                   r'blocks\.\d+\.\d+\.ghost1\.primary_conv\.0\.')


@register_converter('GhostNet', recognise=LAYOUT)
def convert_ghostnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or timm GhostNet / GhostNetV2 checkpoint to
    mmvitplug classifier keys.

    Accepts the state dicts of the official code (huawei-noah/Efficient-
    AI-Backbones ``ghostnet_pytorch/ghostnet.py``, e.g. its
    ``state_dict_73.98.pth``, and ``ghostnetv2_pytorch``) and of timm
    (``ghostnet_*``, ``ghostnetv2_*``: the same names), optionally wrapped
    as ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix
    (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys (``conv_stem``,
    ``bn1``, ``blocks.{i}.{j}.*``) get the ``backbone.`` prefix; the
    classifier ``conv_head.*`` -> ``head.conv_head.*`` and ``classifier.*``
    -> ``head.fc.*`` (:class:`mmvitplug.GhostNetClsHead`); the FLOP
    counters some checkpoints carry (``total_ops``, ``total_params``, from
    thop) are dropped.

    Args:
        state_dict (dict): The official or timm checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the GhostNet layout, so no weight
            is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_ghostnet',
        'conv_stem.weight, bn1.*, blocks.{i}.{j}.{ghost1,ghost2,conv_dw,'
        'bn_dw,se,shortcut,conv,bn1}.*, conv_head.*, classifier.* (and '
        'thop total_ops / total_params)',
        layout='the official / timm GhostNet layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, DROP, or None if unknown."""
    if key.rsplit('.', 1)[-1] in ('total_ops', 'total_params'):
        return DROP
    if key == 'conv_stem.weight' or re.fullmatch(r'bn1\.' + _BN, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'blocks\.\d+\.\d+\.(.+)', key)
    if found and re.fullmatch(_BLOCK, found.group(1)):
        return f'backbone.{key}'
    found = re.fullmatch(r'(conv_head|classifier)\.' + _PARAMS, key)
    if found:
        head = 'conv_head' if found.group(1) == 'conv_head' else 'fc'
        return f'head.{head}.{found.group(2)}'
    return None
