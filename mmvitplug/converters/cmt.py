# Copyright (c) mmvitplug contributors.
"""Official CMT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_STAGES = 'abcd'
_PARAMS = r'(weight|bias)'
_NORM_BUFFERS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside an official block: convolutions, linear layers and
#: LayerNorms, then BatchNorms (with their buffers).
_BLOCK = (r'(proj|norm1|norm2|attn\.(q|k|v|proj)|attn\.sr\.0|mlp\.conv1\.0|'
          r'mlp\.proj|mlp\.conv2\.0)\.' + _PARAMS + '|'
          r'(attn\.sr\.1|mlp\.conv1\.2|mlp\.proj_bn|mlp\.conv2\.1)\.' +
          _NORM_BUFFERS)
#: Official CMT (huawei-noah/Efficient-AI-Backbones ``cmt_pytorch/cmt.py``):
#: a stem of ``stem_conv{1,2,3}`` / ``stem_norm{1,2,3}`` and stages named
#: by letters (``patch_embed_a``, ``blocks_a``, ``relative_pos_a``...).
LAYOUT = KeyLayout(r'stem_conv1\.', r'patch_embed_a\.', r'blocks_a\.')


@register_converter('CMT', recognise=LAYOUT)
def convert_cmt(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CMT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository
    (huawei-noah/Efficient-AI-Backbones ``cmt_pytorch/cmt.py``), optionally
    wrapped as ``{'model': state_dict, ...}`` and with DDP's ``module.``
    prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix:

    - ``stem_conv{i}`` / ``stem_norm{i}`` -> ``stem.conv{i}`` /
      ``stem.norm{i}``;
    - stage letter ``a``..``d`` -> stage index 0..3: ``patch_embed_a.*`` ->
      ``stages.0.0.*``, ``relative_pos_a`` -> ``stages.0.0.relative_pos``
      (the patch embedding owns the stage's position bias),
      ``blocks_a.{j}.*`` -> ``stages.0.{j + 1}.*`` (names inside the blocks
      are the official ones);
    - ``_fc`` / ``_bn`` (1x1 conv to 1280 channels and its BN) ->
      ``pre_logits.conv`` / ``pre_logits.norm``;
    - the classifier ``head.*`` -> ``head.fc.*`` (mmpretrain
      ``LinearClsHead``).

    The position biases keep the shape of the checkpoint's training
    resolution; a backbone built for another ``img_size`` resizes them when
    loading (:meth:`mmvitplug.models.backbones.CMT.
    resize_pretrained_state_dict`).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official CMT layout, so no
            weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_cmt',
        'stem_conv{1,2,3}.*, stem_norm{1,2,3}.*, patch_embed_{a,b,c,d}.'
        '{proj,norm}.*, relative_pos_{a,b,c,d}, blocks_{a,b,c,d}.{j}.{proj,'
        'norm1,attn.{q,k,v,proj,sr.0,sr.1},norm2,mlp.{conv1.0,conv1.2,proj,'
        'proj_bn,conv2.0,conv2.1}}.*, _fc.*, _bn.* or head.*',
        layout='the official CMT layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    found = re.fullmatch(r'stem_conv([123])\.' + _PARAMS, key) or \
        re.fullmatch(r'stem_norm([123])\.' + _NORM_BUFFERS, key)
    if found:
        part = 'conv' if key.startswith('stem_conv') else 'norm'
        return f'backbone.stem.{part}{found.group(1)}.{found.group(2)}'
    found = re.fullmatch(r'patch_embed_([abcd])\.(proj|norm)\.(weight|bias)',
                         key)
    if found:
        stage = _STAGES.index(found.group(1))
        return f'backbone.stages.{stage}.0.{found.group(2)}.' \
            f'{found.group(3)}'
    found = re.fullmatch(r'relative_pos_([abcd])', key)
    if found:
        stage = _STAGES.index(found.group(1))
        return f'backbone.stages.{stage}.0.relative_pos'
    found = re.fullmatch(r'blocks_([abcd])\.(\d+)\.(.+)', key)
    if found and re.fullmatch(_BLOCK, found.group(3)):
        stage = _STAGES.index(found.group(1))
        return f'backbone.stages.{stage}.{int(found.group(2)) + 1}.' \
            f'{found.group(3)}'
    found = re.fullmatch(r'_fc\.' + _PARAMS, key) or \
        re.fullmatch(r'_bn\.' + _NORM_BUFFERS, key)
    if found:
        part = 'conv' if key.startswith('_fc') else 'norm'
        return f'backbone.pre_logits.{part}.{found.group(1)}'
    found = re.fullmatch(r'head\.(weight|bias)', key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
