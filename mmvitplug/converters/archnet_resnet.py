# Copyright (c) mmvitplug contributors.
"""Arch-Net's ResNet student: official checkpoints, and its initialisation
from a teacher ResNet."""
import re
from typing import Dict, Optional

import torch

from .registry import (DROP, KeyLayout, map_keys, prepare_state_dict,
                       register_converter)

#: A BN's tensors.
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: A torchvision ResNet (``conv1``, ``bn1``, ``layer{i}.{j}.bn1``, ``fc``),
#: e.g. the official Arch-Net teacher ``resnet18-5c106cde.pth``.
TORCHVISION = KeyLayout(r'layer1\.0\.conv1\.weight$', r'layer1\.0\.bn1\.',
                        r'fc\.weight$')
#: An mmpretrain ``ImageClassifier`` with a ``ResNet`` backbone: the same
#: names under ``backbone.`` (and ``head.fc``), e.g. an mmvitplug teacher.
MMPRETRAIN = KeyLayout(r'backbone\.layer1\.0\.conv1\.weight$',
                       r'backbone\.layer1\.0\.bn1\.')

#: The official student (megvii-research/Arch-Net
#: ``models/students/resnet18.py``): ``conv_Q`` / ``linear_Q`` wrapped
#: quantised layers, ``concat_conv``, training-only adapters.
OFFICIAL = KeyLayout(r'conv1\.conv_Q\.weight$',
                     r'layer1\.0\.conv1\.conv_Q\.weight$')
#: Official names of the training-only adapter heads of a block.
_ADAPTER = r'(feature_adaptation_[123]_[123]\.weight|fc[123]_[12]\.' \
    r'(weight|bias))'

#: The value of the 3x3 downsampling weights off the centre (officially
#: 1e-10, not 0).
OFF_CENTRE = 1e-10


def archnet_init_from_resnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The initialisation of an Arch-Net ResNet student from its teacher
    ResNet (basic blocks), as the official ``train_archnet_resnet18.py``
    does before the first period. Not an official layout of the student,
    so not a registered converter: :class:`mmvitplug.ArchNetClassifier`
    applies it to its teacher.

    Accepts a torchvision ResNet state dict (the official teacher) or an
    mmpretrain ``ImageClassifier`` with a ``ResNet`` backbone, optionally
    wrapped as ``{'state_dict': ...}`` / ``{'model': ...}`` and with DDP's
    ``module.`` prefix. Every block's convolutions and BNs have a student
    counterpart (keys ``backbone.stages.{i}.{j}.*``):

    - ``layer{i}.{j}.conv1`` / ``conv2`` -> ``stages.{i-1}.{j}.conv1.conv``
      / ``conv2.conv`` (3x3 to 3x3; the student quantises them in its
      forward);
    - ``bn1`` / ``bn2`` ->
      ``conv1.bn`` / ``conv2.bn``, running statistics included;
    - ``downsample.0`` (1x1) -> ``downsample.conv``, a 3x3 kernel with the
      1x1 weights at its centre and :data:`OFF_CENTRE` elsewhere;
      ``downsample.1`` -> ``downsample.bn``.

    The teacher's stem (7x7 convolution and its BN) and classifier have no
    counterpart in the student and are dropped (as officially, where they
    stay randomly initialised, like the student's merge convolutions): the
    result initialises only part of the student, and
    :func:`~mmvitplug.models.utils.load_pretrained` logs the rest as
    missing.

    Args:
        state_dict (dict): The teacher's state dict.

    Returns:
        dict: Student keys (``backbone.*``) -> tensors (new tensors for the
        downsampling convolutions, the others shared).

    Raises:
        KeyError: The state dict is not a ResNet's, a key is not part of a
            basic-block ResNet (e.g. a
            bottleneck's ``conv3``: only basic-block students exist), or
            a downsampling convolution is not 1x1.
    """
    state_dict = prepare_state_dict(state_dict)
    if not (TORCHVISION | MMPRETRAIN)(state_dict):
        raise KeyError(
            'archnet_init_from_resnet: the teacher is not a basic-block '
            'ResNet in the torchvision or mmpretrain layout (keys like '
            "'layer1.0.conv1.weight' / 'layer1.0.bn1.weight', optionally "
            "under 'backbone.')")
    converted = map_keys(
        state_dict, _convert_key, 'archnet_init_from_resnet',
        'conv1.*, bn1.*, layer{i}.{j}.{conv1,conv2,bn1,bn2,downsample}.*, '
        'fc.* (or backbone.* and head.fc.*)',
        layout='a basic-block ResNet (torchvision or mmpretrain)')
    for key, value in converted.items():
        if key.endswith('downsample.conv.weight'):
            converted[key] = _centre_3x3(key, value)
    return converted


def _centre_3x3(key: str, weight: torch.Tensor) -> torch.Tensor:
    if weight.dim() != 4 or weight.shape[2:] != (1, 1):
        raise KeyError(f'archnet_init_from_resnet: {key} is not a 1x1 '
                       f'convolution (shape {tuple(weight.shape)})')
    out = weight.new_full((*weight.shape[:2], 3, 3), OFF_CENTRE)
    out[:, :, 1, 1] = weight[:, :, 0, 0]
    return out


def _convert_key(key: str) -> Optional[str]:
    """The student key of a teacher key, DROP, or None if unknown."""
    key = key[len('backbone.'):] if key.startswith('backbone.') else key
    if re.fullmatch(r'conv1\.weight|bn1\.' + _BN +
                    r'|(head\.)?fc\.(weight|bias)', key):
        return DROP
    found = re.fullmatch(r'layer([1-9])\.(\d+)\.(.+)', key)
    if not found:
        return None
    stage, block, rest = int(found.group(1)) - 1, found.group(2), \
        found.group(3)
    prefix = f'backbone.stages.{stage}.{block}.'
    inner = re.fullmatch(r'conv([12])\.weight', rest)
    if inner:
        return f'{prefix}conv{inner.group(1)}.conv.weight'
    inner = re.fullmatch(r'bn([12])\.' + _BN, rest)
    if inner:
        return f'{prefix}conv{inner.group(1)}.bn.{inner.group(2)}'
    if rest == 'downsample.0.weight':
        return f'{prefix}downsample.conv.weight'
    inner = re.fullmatch(r'downsample\.1\.' + _BN, rest)
    if inner:
        return f'{prefix}downsample.bn.{inner.group(1)}'
    return None


@register_converter('ArchNetResNet', recognise=OFFICIAL)
def convert_archnet_resnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official Arch-Net ResNet student checkpoint to mmvitplug
    classifier keys.

    Accepts the state dicts of the official students (megvii-research/
    Arch-Net ``models/students/resnet18.py`` / ``resnet34.py``), wrapped or
    not, with or without DDP's ``module.`` prefix (recogniser
    :data:`OFFICIAL`):

    - ``conv{k}.conv_Q.weight``, ``bn{k}.*`` (the stem, k = 1..3) ->
      ``backbone.stem.{k - 1}.conv.weight`` / ``.bn.*``;
    - in ``layer{i}.{j}``: ``conv{k}.conv_Q`` / ``bn{k}`` (k = 1, 2) ->
      ``backbone.stages.{i - 1}.{j}.conv{k}.conv`` / ``.bn``;
      ``concat_conv.conv_Q`` / ``bn3`` -> ``merge.0.conv`` / ``.bn``; the
      split blocks' ``concat_conv{g}`` / ``concat_bn{g}`` ->
      ``merge.{g - 1}``; ``downsample.0.conv_Q`` / ``downsample.1`` ->
      ``downsample.conv`` / ``.bn``;
    - ``fc.linear_Q.*`` -> ``head.fc.*``
      (:class:`mmvitplug.QuantLinearClsHead`).

    The training-only adapter heads (``feature_adaptation_*``, ``fc{i}_*``
    of each block) are dropped: they are not part of the deployed student
    (:class:`mmvitplug.ArchNetAdapterConnector` s of the distiller).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors shared).

    Raises:
        KeyError: If a key is not part of the official layout.
    """
    return map_keys(
        state_dict, _convert_official_key, 'convert_archnet_resnet',
        'conv{1-3}.conv_Q.weight, bn{1-3}.*, layer{i}.{j}.{conv1,conv2,'
        'concat_conv{,1,2},downsample.0}.conv_Q.weight, '
        'layer{i}.{j}.{bn1-3,concat_bn{1,2},downsample.1}.*, the adapter '
        'heads, fc.linear_Q.*',
        layout='the official Arch-Net ResNet student layout')


def _convert_official_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official student key, DROP, or None."""
    found = re.fullmatch(r'(conv([123])\.conv_Q\.weight|bn([123])\.' + _BN +
                         ')', key)
    if found:
        if found.group(2):
            return f'backbone.stem.{int(found.group(2)) - 1}.conv.weight'
        return f'backbone.stem.{int(found.group(3)) - 1}.bn.{found.group(4)}'
    found = re.fullmatch(r'fc\.linear_Q\.(weight|bias)', key)
    if found:
        return f'head.fc.{found.group(1)}'
    found = re.fullmatch(r'layer([1-9])\.(\d+)\.(.+)', key)
    if not found:
        return None
    prefix = (f'backbone.stages.{int(found.group(1)) - 1}.'
              f'{found.group(2)}.')
    rest = found.group(3)
    if re.fullmatch(_ADAPTER, rest):
        return DROP
    for pattern, unit in (
            (r'conv([12])\.conv_Q\.weight', 'conv{}.conv.weight'),
            (r'bn([12])\.' + _BN, 'conv{}.bn.{}'),
            (r'concat_conv\.conv_Q\.weight()', 'merge.0.conv.weight'),
            (r'bn3\.' + _BN, 'merge.0.bn.{}'),
            (r'concat_conv([12])\.conv_Q\.weight', 'merge.{}.conv.weight'),
            (r'concat_bn([12])\.' + _BN, 'merge.{}.bn.{}'),
            (r'downsample\.0\.conv_Q\.weight()', 'downsample.conv.weight'),
            (r'downsample\.1\.' + _BN, 'downsample.bn.{}')):
        inner = re.fullmatch(pattern, rest)
        if inner:
            groups = [g for g in inner.groups() if g]
            if unit.startswith('merge.{}'):
                groups[0] = str(int(groups[0]) - 1)
            return prefix + unit.format(*groups)
    return None
