# Copyright (c) mmvitplug contributors.
"""Official HAT-Net checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
#: Names inside an official block: H-MHSA and the inverted residual.
_BLOCK = (r'(attn\.(norm|qkv|proj|grid_norm|ds_norm|q|kv)|conv\.conv1\.[01]|'
          r'conv\.conv2\.0|conv\.conv3\.[01])\.' + _PARAMS)
#: Official HAT-Net (yun-liu/HAT-Net ``HAT_Net.py``): ``blocks.{s}.{i}``
#: and the downsampling convolutions ``ds{2,3,4}``.
LAYOUT = KeyLayout(r'patch_embed\.0\.', r'blocks\.\d+\.\d+\.attn\.qkv\.',
                   r'ds2\.conv\.')


@register_converter('HATNet', recognise=LAYOUT)
def convert_hatnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official HAT-Net checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository (yun-liu/HAT-Net
    ``HAT_Net.py``), optionally wrapped as ``{'model': state_dict, ...}``
    and with DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix:

    - ``patch_embed.{0,1,3}.*`` kept;
    - ``blocks.{s}.{i}.*`` -> ``stages.{s}.{i}.*`` in the first stage,
      ``stages.{s}.{i + 1}.*`` in the others (their downsampling comes
      first);
    - ``ds{k}.{conv,norm}.*`` (the downsampling opening stage k - 1) ->
      ``stages.{k - 1}.0.*``;
    - ``blocks.{s}.{i}.attn.proj_norm.*`` dropped: the official model
      creates this GroupNorm but its forward never uses it;
    - the classifier ``classifier.1.*`` -> ``head.fc.*``.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official HAT-Net layout, so
            no weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_hatnet',
        'patch_embed.{0,1,3}.*, blocks.{s}.{i}.{attn.{norm,qkv,proj,'
        'proj_norm,grid_norm,ds_norm,q,kv},conv.{conv1.{0,1},conv2.0,'
        'conv3.{0,1}}}.*, ds{2,3,4}.{conv,norm}.* or classifier.1.*',
        layout='the official HAT-Net layout')


def _convert_key(key: str) -> Union[str, object, None]:
    """The mmvitplug key of an official key, DROP for the unused
    ``attn.proj_norm``, or None if it is unknown."""
    if re.fullmatch(r'blocks\.\d+\.\d+\.attn\.proj_norm\.' + _PARAMS, key):
        return DROP
    if re.fullmatch(r'patch_embed\.[013]\.' + _PARAMS, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'blocks\.(\d+)\.(\d+)\.(.+)', key)
    if found and re.fullmatch(_BLOCK, found.group(3)):
        stage, index = int(found.group(1)), int(found.group(2))
        return f'backbone.stages.{stage}.{index + (stage > 0)}.' \
            f'{found.group(3)}'
    found = re.fullmatch(r'ds([234])\.((conv|norm)\.' + _PARAMS + ')', key)
    if found:
        return f'backbone.stages.{int(found.group(1)) - 1}.0.' \
            f'{found.group(2)}'
    found = re.fullmatch(r'classifier\.1\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
