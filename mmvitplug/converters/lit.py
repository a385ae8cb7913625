# Copyright (c) mmvitplug contributors.
"""Official LIT checkpoints (LIT-Ti and LIT-S/M/B) -> mmvitplug classifier
state dicts."""
import re
from typing import Dict, Optional, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside an official block: norms, attention, MLP.
_BLOCK = (r'(norm1|norm2|attn\.(qkv|proj)|mlp\.fc1|mlp\.fc2)\.' + _PARAMS +
          r'|attn\.relative_position_bias_table')
#: Names inside an official deformable token merging.
_DTM = (r'dconv\.(weight|bias|conv_offset\.weight|conv_offset\.bias)|'
        r'norm_layer\.' + _BN)
#: Official LIT-Ti (``classification/code_for_lit_ti/lit.py``, PVT-like:
#: ``patch_embed{1..4}``, ``block{1..4}``, ``pos_embed{1..4}``).
LAYOUT_TI = KeyLayout(r'patch_embed1\.proj\.', r'patch_embed2\.dconv\.')
#: Official LIT-S/M/B (``classification/code_for_lit_s_m_b/models/lit.py``,
#: Swin-like ``layers.{s}.blocks.{i}``, ``layers.{s}.downsample``; no
#: convolutional FFN, unlike LITv2).
LAYOUT_SMB = KeyLayout(
    r'patch_embed\.proj\.',
    r'layers\.\d+\.downsample\.dconv\.',
    forbidden=(r'layers\.\d+\.blocks\.\d+\.mlp\.dwconv\.', ))


@register_converter('LIT', recognise=LAYOUT_TI | LAYOUT_SMB)
def convert_lit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official LIT checkpoint to mmvitplug classifier keys.

    Accepts the state dicts of the official repository (ziplab/LIT), of
    either model, or of the backbones of its detection code, optionally
    wrapped as ``{'model': state_dict, ...}`` and with DDP's ``module.``
    prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recognisers are :data:`LAYOUT_TI` and :data:`LAYOUT_SMB`).
    Backbone keys get the ``backbone.`` prefix. LIT-Ti:

    - ``patch_embed1.{proj,norm}.*`` -> ``patch_embed.{proj,norm}.*``;
    - ``patch_embed{k}.*`` (k = 2, 3, 4: the deformable token merging
      opening stage k - 1) -> ``stages.{k - 1}.0.*``;
    - ``block{k}.{i}.*`` -> ``stages.{k - 1}.{i}.*`` in the first stage,
      ``stages.{k - 1}.{i + 1}.*`` in the others;
    - ``pos_embed{k}`` and ``cls_token`` kept.

    LIT-S/M/B:

    - ``patch_embed.{proj,norm}.*`` kept;
    - ``layers.{s}.blocks.{i}.*`` -> ``stages.{s}.{i}.*`` in the first
      stage, ``stages.{s}.{i + 1}.*`` in the others;
    - ``layers.{s}.downsample.*`` (the DTM at the end of stage ``s``) ->
      ``stages.{s + 1}.0.*``;
    - ``...attn.relative_position_index`` dropped: a buffer derived from
      the grid, which the model recomputes for every input size;
    - the detection backbone's ``norm{i}.*`` kept.

    Both: the classification model's final ``norm.*`` -> ``norm3.*``; the
    classifier ``head.*`` -> ``head.fc.*`` (mmpretrain ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official LIT layouts, so no
            weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_lit',
        '(LIT-Ti) patch_embed1.{proj,norm}.*, patch_embed{2,3,4}.{dconv,'
        'norm_layer}.*, block{k}.{i}.*, pos_embed{k}, cls_token, or '
        '(LIT-S/M/B) patch_embed.{proj,norm}.*, layers.{s}.blocks.{i}.'
        '{norm1,norm2,attn.{qkv,proj,relative_position_bias_table},mlp.'
        '{fc1,fc2}}, layers.{s}.downsample.{dconv,norm_layer}.*, norm{i}.*, '
        'and norm.* or head.*',
        layout='the official LIT layouts')


def _block_key(stage: int, index: int, name: str) -> Optional[str]:
    if not re.fullmatch(_BLOCK, name):
        return None
    return f'backbone.stages.{stage}.{index + (stage > 0)}.{name}'


def _convert_key(key: str) -> Union[str, object, None]:
    """The mmvitplug key of an official key, DROP for LIT-S/M/B's
    ``relative_position_index`` buffers, or None if it is unknown."""
    if re.fullmatch(
            r'layers\.\d+\.blocks\.\d+\.attn\.relative_position_index', key):
        return DROP
    found = re.fullmatch(r'patch_embed1?\.(proj|norm)\.' + _PARAMS, key)
    if found:
        return f'backbone.patch_embed.{found.group(1)}.{found.group(2)}'
    found = re.fullmatch(r'patch_embed([234])\.(.+)', key)
    if found and re.fullmatch(_DTM, found.group(2)):
        return f'backbone.stages.{int(found.group(1)) - 1}.0.' \
            f'{found.group(2)}'
    found = re.fullmatch(r'block([1-4])\.(\d+)\.(.+)', key)
    if found:
        return _block_key(
            int(found.group(1)) - 1, int(found.group(2)), found.group(3))
    found = re.fullmatch(r'layers\.(\d+)\.blocks\.(\d+)\.(.+)', key)
    if found:
        return _block_key(
            int(found.group(1)), int(found.group(2)), found.group(3))
    found = re.fullmatch(r'layers\.(\d+)\.downsample\.(.+)', key)
    if found and re.fullmatch(_DTM, found.group(2)):
        return f'backbone.stages.{int(found.group(1)) + 1}.0.' \
            f'{found.group(2)}'
    if re.fullmatch(r'pos_embed[1-4]|cls_token', key):
        return f'backbone.{key}'
    found = re.fullmatch(r'norm([123]?)\.' + _PARAMS, key)
    if found:
        return f'backbone.norm{found.group(1) or 3}.{found.group(2)}'
    found = re.fullmatch(r'head\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
