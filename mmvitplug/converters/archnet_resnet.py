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
_ADAPTER = r'(feature_adaptation_[1-4]_[123]\.weight|fc[1-4]_[12]\.' \
    r'(weight|bias))'

#: The value of the 3x3 downsampling weights off the centre (officially
#: 1e-10, not 0).
OFF_CENTRE = 1e-10


def archnet_init_from_resnet(state_dict: Dict[str, torch.Tensor],
                             max_conv_in: int = 512
                             ) -> Dict[str, torch.Tensor]:
    """The initialisation of an Arch-Net ResNet student from its teacher
    ResNet (basic blocks or bottlenecks), as the official
    ``train_archnet_resnet{18,34,50}.py`` do before the first period. Not
    an official layout of the student, so not a registered converter:
    :class:`mmvitplug.ArchNetClassifier` applies it to its teacher.

    Accepts a torchvision ResNet state dict (the official teacher) or an
    mmpretrain ``ImageClassifier`` with a ``ResNet`` backbone, optionally
    wrapped as ``{'state_dict': ...}`` / ``{'model': ...}`` and with DDP's
    ``module.`` prefix. Every block's convolutions and BNs have a student
    counterpart (keys ``backbone.stages.{i}.{j}.*``):

    - ``layer{i}.{j}.conv{k}`` -> ``stages.{i-1}.{j}.conv{k}.conv``: a 3x3
      kernel as it is (the student quantises it in its forward), a 1x1 (a
      bottleneck's first and last) as the centre of a 3x3 kernel with
      :data:`OFF_CENTRE` elsewhere;
    - ``bn{k}`` -> ``conv{k}.bn``, running statistics included;
    - ``downsample.0`` (1x1) -> ``downsample.conv``, centred likewise;
      ``downsample.1`` -> ``downsample.bn``.

    A convolution of more than ``max_conv_in`` input channels is split in
    the student (:class:`~mmvitplug.models.backbones.archnet_resnet.
    SplitUnit`) and, as officially, not initialised from the teacher
    (ResNet-50: the first unit of the blocks of 1024 and 2048 input
    channels, the last stage's downsampling): it and its BN are left out.
    So are the teacher's stem (7x7 convolution and its BN) and classifier,
    which have no counterpart in the student (officially they stay
    randomly initialised, like the student's merge convolutions): the
    result initialises only part of the student, and
    :func:`~mmvitplug.models.utils.load_pretrained` logs the rest as
    missing.

    Args:
        state_dict (dict): The teacher's state dict.
        max_conv_in (int): The student's ``max_conv_in``. Defaults to 512.

    Returns:
        dict: Student keys (``backbone.*``) -> tensors (new tensors for the
        centred convolutions, the others shared).

    Raises:
        KeyError: The state dict is not a ResNet's, a key is not part of a
            ResNet's blocks, or a convolution is neither 1x1 nor 3x3 (a
            downsampling one not 1x1).
    """
    state_dict = prepare_state_dict(state_dict)
    if not (TORCHVISION | MMPRETRAIN)(state_dict):
        raise KeyError(
            'archnet_init_from_resnet: the teacher is not a ResNet in the '
            "torchvision or mmpretrain layout (keys like "
            "'layer1.0.conv1.weight' / 'layer1.0.bn1.weight', optionally "
            "under 'backbone.')")
    converted = map_keys(
        state_dict, _convert_key, 'archnet_init_from_resnet',
        'conv1.*, bn1.*, layer{i}.{j}.{conv1-3,bn1-3,downsample}.*, '
        'fc.* (or backbone.* and head.fc.*)',
        layout='a ResNet (torchvision or mmpretrain)')
    split = [
        key[:-len('conv.weight')] for key, value in converted.items()
        if key.endswith('.conv.weight') and value.size(1) > max_conv_in
    ]
    for key in list(converted):
        if any(key.startswith(unit) for unit in split):
            del converted[key]
        elif key.endswith('.conv.weight'):
            converted[key] = _to_3x3(key, converted[key])
    return converted


def _to_3x3(key: str, weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 kernel as it is; a 1x1 at the centre of a 3x3."""
    if weight.dim() == 4 and weight.shape[2:] == (3, 3) and \
            'downsample' not in key:
        return weight
    if weight.dim() != 4 or weight.shape[2:] != (1, 1):
        raise KeyError(
            f'archnet_init_from_resnet: {key} is not a 1x1 '
            + ('' if 'downsample' in key else 'or 3x3 ')
            + f'convolution (shape {tuple(weight.shape)})')
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
    inner = re.fullmatch(r'conv([123])\.weight', rest)
    if inner:
        return f'{prefix}conv{inner.group(1)}.conv.weight'
    inner = re.fullmatch(r'bn([123])\.' + _BN, rest)
    if inner:
        return f'{prefix}conv{inner.group(1)}.bn.{inner.group(2)}'
    if rest == 'downsample.0.weight':
        return f'{prefix}downsample.conv.weight'
    inner = re.fullmatch(r'downsample\.1\.' + _BN, rest)
    if inner:
        return f'{prefix}downsample.bn.{inner.group(1)}'
    return None


#: A bottleneck's last unit: the official ResNet-50 student (resnet50.py).
_BOTTLENECK = re.compile(r'layer\d+\.\d+\.conv3\.conv_Q\.weight')


@register_converter('ArchNetResNet', recognise=OFFICIAL)
def convert_archnet_resnet(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official Arch-Net ResNet student checkpoint to mmvitplug
    classifier keys.

    Accepts the state dicts of the official students (megvii-research/
    Arch-Net ``models/students/resnet18.py`` / ``resnet34.py``, basic
    blocks; ``resnet50.py``, bottlenecks, told apart by their ``conv3``),
    wrapped or not, with or without DDP's ``module.`` prefix (recogniser
    :data:`OFFICIAL`):

    - ``conv{k}.conv_Q.weight``, ``bn{k}.*`` (the stem, k = 1..3) ->
      ``backbone.stem.{k - 1}.conv.weight`` / ``.bn.*``;
    - in ``layer{i}.{j}`` -> ``backbone.stages.{i - 1}.{j}``:
      ``conv{k}.conv_Q`` / ``bn{k}`` (basic blocks k = 1, 2; bottlenecks
      k = 1..3) -> ``conv{k}.conv`` / ``.bn``; a bottleneck's split first
      unit ``conv1_{g}`` / ``bn1_{g}`` -> ``conv1.{g - 1}``;
    - the merge: ``concat_conv.conv_Q`` and its BN (a basic block's
      ``bn3``, a bottleneck's ``concat_bn``) -> ``merge.0``; the split
      merges ``concat_conv{g}`` / ``concat_bn{g}`` (basic blocks) and
      ``concat_conv_{g}`` / ``concat_bn_{g}`` (bottlenecks) ->
      ``merge.{g - 1}``;
    - ``downsample.0.conv_Q`` / ``downsample.1`` -> ``downsample.conv`` /
      ``.bn``; the split ``SplitDownsample``'s ``downsample.conv{g}`` /
      ``bn{g}`` -> ``downsample.{g - 1}``;
    - ``fc.linear_Q.*`` -> ``head.fc.*``
      (:class:`mmvitplug.QuantLinearClsHead`).

    The training-only adapter heads (``feature_adaptation_*``, ``fc{i}_*``
    of each block) are dropped: they are not part of the deployed student
    (:class:`mmvitplug.ArchNetAdapterConnector` s of the distiller).

    A checkpoint trained by the official ``resnet50.py`` converts, but its
    second stage is not the network it trained: there the merge of each
    block is discarded (see :class:`mmvitplug.ArchNetResNet`), so its
    merge and downsampling weights of that stage never trained.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors shared).

    Raises:
        KeyError: If a key is not part of the official layout.
    """
    bottleneck = any(_BOTTLENECK.fullmatch(k) for k in state_dict)
    units = _BOTTLENECK_UNITS if bottleneck else _BASIC_UNITS
    return map_keys(
        state_dict, lambda key: _convert_block_key(key, units),
        'convert_archnet_resnet',
        ('conv{1-3}.conv_Q.weight, bn{1-3}.*, layer{i}.{j}.{conv1{,_g},'
         'conv2,conv3,concat_conv{,_g},downsample.{0,conv1,conv2}}.conv_Q.'
         'weight, layer{i}.{j}.{bn1{,_g},bn2,bn3,concat_bn{,_g},downsample.'
         '{1,bn1,bn2}}.*' if bottleneck else
         'conv{1-3}.conv_Q.weight, bn{1-3}.*, layer{i}.{j}.{conv1,conv2,'
         'concat_conv{,1,2},downsample.0}.conv_Q.weight, '
         'layer{i}.{j}.{bn1-3,concat_bn{1,2},downsample.1}.*') +
        ', the adapter heads, fc.linear_Q.*',
        layout='the official Arch-Net ResNet student layout' +
        (' (bottlenecks)' if bottleneck else ''))


def _convert_stem_or_head(key: str) -> Optional[str]:
    found = re.fullmatch(r'(conv([123])\.conv_Q\.weight|bn([123])\.' + _BN +
                         ')', key)
    if found:
        if found.group(2):
            return f'backbone.stem.{int(found.group(2)) - 1}.conv.weight'
        return f'backbone.stem.{int(found.group(3)) - 1}.bn.{found.group(4)}'
    found = re.fullmatch(r'fc\.linear_Q\.(weight|bias)', key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None


#: Official unit names of a block -> ours, per layout: ``(pattern of the
#: key after 'layer{i}.{j}.', our name)``; ``{g}`` is the pattern's first
#: group minus one (a split group), ``{}`` the other groups in order.
_CONV = r'\.conv_Q\.weight'
_BASIC_UNITS = (
    (r'conv([12])' + _CONV, 'conv{}.conv.weight'),
    (r'bn([12])\.' + _BN, 'conv{}.bn.{}'),
    (r'concat_conv()' + _CONV, 'merge.0.conv.weight'),
    (r'bn3()\.' + _BN, 'merge.0.bn.{}'),
    (r'concat_conv([12])' + _CONV, 'merge.{g}.conv.weight'),
    (r'concat_bn([12])\.' + _BN, 'merge.{g}.bn.{}'),
    (r'downsample\.0()' + _CONV, 'downsample.conv.weight'),
    (r'downsample\.1()\.' + _BN, 'downsample.bn.{}'))
_BOTTLENECK_UNITS = (
    (r'conv([123])' + _CONV, 'conv{}.conv.weight'),
    (r'bn([123])\.' + _BN, 'conv{}.bn.{}'),
    (r'conv1_([1-9])' + _CONV, 'conv1.{g}.conv.weight'),
    (r'bn1_([1-9])\.' + _BN, 'conv1.{g}.bn.{}'),
    (r'concat_conv()' + _CONV, 'merge.0.conv.weight'),
    (r'concat_bn()\.' + _BN, 'merge.0.bn.{}'),
    (r'concat_conv_([1-9])' + _CONV, 'merge.{g}.conv.weight'),
    (r'concat_bn_([1-9])\.' + _BN, 'merge.{g}.bn.{}'),
    (r'downsample\.0()' + _CONV, 'downsample.conv.weight'),
    (r'downsample\.1()\.' + _BN, 'downsample.bn.{}'),
    (r'downsample\.conv([1-9])' + _CONV, 'downsample.{g}.conv.weight'),
    (r'downsample\.bn([1-9])\.' + _BN, 'downsample.{g}.bn.{}'))


def _convert_block_key(key: str, units: tuple) -> Optional[str]:
    """The mmvitplug key of an official student key (blocks named by
    ``units``), DROP, or None."""
    new = _convert_stem_or_head(key)
    if new is not None:
        return new
    found = re.fullmatch(r'layer([1-9])\.(\d+)\.(.+)', key)
    if not found:
        return None
    prefix = (f'backbone.stages.{int(found.group(1)) - 1}.'
              f'{found.group(2)}.')
    rest = found.group(3)
    if re.fullmatch(_ADAPTER, rest):
        return DROP
    for pattern, unit in units:
        inner = re.fullmatch(pattern, rest)
        if inner:
            first, *others = inner.groups()
            if '{g}' in unit:
                return prefix + unit.format(*others, g=int(first) - 1)
            return prefix + unit.format(*([first] if first else []),
                                        *others)
    return None
