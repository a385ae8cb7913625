# Copyright (c) mmvitplug contributors.
"""Official RevCol checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
#: Names inside an official ConvNeXt block.
_BLOCK = r'(dwconv|norm|pwconv1|pwconv2)\.' + _PARAMS + r'|gamma'
#: Official RevCol (megvii-research/RevCol ``models/revcol.py`` and the
#: detection / segmentation backbones): ``subnet{i}.level{l}``.
LAYOUT = KeyLayout(r'stem\.0\.', r'subnet\d+\.level\d\.blocks\.')


@register_converter('RevCol', recognise=LAYOUT)
def convert_revcol(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official RevCol checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository (megvii-research/
    RevCol: classification or the backbones of its detection and
    segmentation code), optionally wrapped as ``{'model': state_dict, ...}``
    and with DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Keys get the ``backbone.``
    prefix:

    - ``stem.{0,1}.*`` kept;
    - ``subnet{i}.alpha{l}`` -> ``levels.{l}.{i}.alpha``; those of the
      first column (``subnet0``) are dropped: they scale its zero initial
      state, so the model builds none;
    - ``subnet{i}.level{l}.fusion.down.*`` -> ``levels.{l}.{i}.down.*``,
      ``...fusion.up.channel_reschedule.*`` -> ``levels.{l}.{i}.up.*``;
    - ``subnet{i}.level{l}.blocks.{j}.*`` -> ``levels.{l}.{i}.blocks.{j}.*``;
    - the classifier ``cls.classifier.{0,1}.*`` (fine-tuned models) ->
      ``head.classifiers.0.{norm,fc}.*``, the intermediate supervision's
      ``cls_blocks.{k}.classifier.{0,1}.*`` ->
      ``head.classifiers.{k}.{norm,fc}.*`` and its image decoders
      ``decoder_blocks.{k}.*`` -> ``head.decoders.{k}.*`` (same inner
      names; :class:`~mmvitplug.models.heads.RevColClsHead`). The
      ImageNet-22k pretraining's one-convolution decoders (``SimDecoder``)
      are not supported.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official RevCol layout, so
            no weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_revcol',
        'stem.{0,1}.*, subnet{i}.alpha{l}, subnet{i}.level{l}.{fusion.'
        '{down.{0,1},up.channel_reschedule.{0,1}},blocks.{j}.{dwconv,norm,'
        'pwconv1,pwconv2,gamma}}, cls.classifier.{0,1}.*, cls_blocks.{k}.'
        'classifier.{0,1}.*, decoder_blocks.{k}.{proj_layers.{s}.{0,1},'
        'normal_layers.{s}.{j}.*,projback.0}.*',
        layout='the official RevCol layout')


def _convert_key(key: str) -> Union[str, object, None]:
    """The mmvitplug key of an official key, DROP for the first column's
    shortcuts, or None if it is unknown."""
    if re.fullmatch(r'stem\.[01]\.' + _PARAMS, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'subnet(\d+)\.alpha([0-3])', key)
    if found:
        column, level = found.groups()
        return DROP if column == '0' else \
            f'backbone.levels.{level}.{column}.alpha'
    found = re.fullmatch(r'(cls|cls_blocks\.(\d+))\.classifier\.([01])\.' +
                         _PARAMS, key)
    if found:
        head, index, layer, param = found.groups()
        name = 'norm' if layer == '0' else 'fc'
        return f'head.classifiers.{index or 0}.{name}.{param}'
    found = re.fullmatch(r'decoder_blocks\.(\d+)\.(.+)', key)
    if found and re.fullmatch(
            r'proj_layers\.[0-2]\.[01]\.' + _PARAMS + r'|projback\.0\.' +
            _PARAMS + r'|normal_layers\.[0-2]\.\d+\.(' + _BLOCK + ')',
            found.group(2)):
        return f'head.decoders.{found.group(1)}.{found.group(2)}'
    found = re.fullmatch(r'subnet(\d+)\.level([0-3])\.(.+)', key)
    if not found:
        return None
    column, level, rest = found.groups()
    prefix = f'backbone.levels.{level}.{column}.'
    inner = re.fullmatch(r'fusion\.(down|up\.channel_reschedule)\.([01])\.' +
                         _PARAMS, rest)
    if inner:
        branch = 'down' if inner.group(1) == 'down' else 'up'
        return f'{prefix}{branch}.{inner.group(2)}.{inner.group(3)}'
    inner = re.fullmatch(r'blocks\.(\d+)\.(.+)', rest)
    if inner and re.fullmatch(_BLOCK, inner.group(2)):
        return prefix + rest
    return None
