# Copyright (c) mmvitplug contributors.
"""Official SReT checkpoints -> mmvitplug classifier state dicts."""
import functools
import re
from typing import Dict, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside an official shared block.
_BLOCK = (r'(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.' +
          _PARAMS + r'|coefficient[1-4]\.bias')
#: Names inside an official non-linear projection (``Non_proj``).
_PROJ = r'(norm1|mlp\.fc1|mlp\.fc2)\.' + _PARAMS + r'|coefficient[12]\.bias'
#: Official SReT (szq0214/SReT ``SReT.py`` / ``SReT_wo_slice.py``, on PiT's
#: layout): ``transformers.{s}.blocks.{k}``, ``pools.{s}.conv``, a
#: convolutional ``patch_embed.conv{1,2,3}``.
LAYOUT = KeyLayout(r'patch_embed\.conv3\.', r'transformers\.\d+\.blocks\.',
                   r'transformers\.\d+\.blocks\.\d+\.coefficient1\.bias')


@register_converter('SReT', recognise=LAYOUT)
def convert_sret(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official SReT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository (szq0214/SReT, with
    or without slices, distilled or not), optionally wrapped as
    ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix (both
    removed by :func:`~mmvitplug.converters.registry.prepare_state_dict`
    first; the registered recogniser is :data:`LAYOUT`). The official
    ``transformers.{s}.blocks`` list holds, per recursive unit u,
    ``[block u, projection 2u, block u, projection 2u + 1]``, the block
    twice (the same module). Backbone keys get the ``backbone.`` prefix:

    - ``patch_embed.{conv,bn}{1,2,3}.*`` and ``pos_embed`` kept;
    - ``transformers.{s}.blocks.{4u}.*`` -> ``stages.{s}.{j}.block.*``
      with j = u in the first stage and u + 1 in the others (their pooling
      comes first); ``blocks.{4u + 2}.*`` must be the same tensors
      (the shared block) and is dropped;
    - ``transformers.{s}.blocks.{4u + 1}.*`` / ``{4u + 3}.*`` ->
      ``stages.{s}.{j}.projs.{0,1}.*``;
    - ``pools.{s}.conv.*`` -> ``stages.{s + 1}.0.conv.*``;
    - ``norm.*`` kept; the classifier ``head.*`` -> ``head.fc.*``.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official SReT layout, so no
            weight is dropped silently.
        ValueError: If the two entries of a shared block differ.
    """
    return map_keys(
        state_dict, functools.partial(_convert_key, state_dict=state_dict),
        'convert_sret',
        'patch_embed.{conv,bn}{1,2,3}.*, pos_embed, transformers.{s}.blocks.'
        '{k}.* (blocks: norm1, norm2, attn.{qkv,proj}, mlp.{fc1,fc2}, '
        'coefficient1-4; projections: norm1, mlp.{fc1,fc2}, '
        'coefficient1-2), pools.{s}.conv.*, norm.* or head.*',
        layout='the official SReT layout')


def _convert_key(key: str, state_dict: dict) -> Union[str, object, None]:
    """The mmvitplug key of an official key, DROP for the second entry of a
    shared block (once checked against the first), or None if it is
    unknown.

    Raises:
        ValueError: If the second entry of a shared block differs from
            the first.
    """
    if re.fullmatch(r'patch_embed\.(conv[123]\.' + _PARAMS + r'|bn[123]\.' +
                    _BN + r')|pos_embed|norm\.' + _PARAMS, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'transformers\.(\d+)\.blocks\.(\d+)\.(.+)', key)
    if found:
        stage, k, name = int(found.group(1)), int(found.group(2)), \
            found.group(3)
        unit = f'backbone.stages.{stage}.{k // 4 + (stage > 0)}'
        if k % 4 == 0 and re.fullmatch(_BLOCK, name):
            return f'{unit}.block.{name}'
        if k % 4 == 2 and re.fullmatch(_BLOCK, name):
            first = key.replace(f'.blocks.{found.group(2)}.',
                                f'.blocks.{k - 2}.')
            if first not in state_dict or \
                    not torch.equal(state_dict[first], state_dict[key]):
                raise ValueError(
                    f'convert_sret: {key} must repeat {first} (a block '
                    'applied twice shares its weights)')
            return DROP
        if k % 2 == 1 and re.fullmatch(_PROJ, name):
            return f'{unit}.projs.{k % 4 // 2}.{name}'
        return None
    found = re.fullmatch(r'pools\.(\d+)\.conv\.' + _PARAMS, key)
    if found:
        return f'backbone.stages.{int(found.group(1)) + 1}.0.conv.' \
            f'{found.group(2)}'
    found = re.fullmatch(r'head\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
