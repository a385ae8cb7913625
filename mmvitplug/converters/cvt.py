# Copyright (c) mmvitplug contributors.
"""Official CvT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BLOCK = (r'(norm1|norm2|mlp\.fc1|mlp\.fc2|attn\.proj|attn\.proj_[qkv])'
          r'\.(weight|bias)'
          r'|attn\.conv_proj_[qkv]\.conv\.weight'
          r'|attn\.conv_proj_[qkv]\.bn\.(weight|bias|running_mean|'
          r'running_var|num_batches_tracked)')
_EMBED = r'patch_embed\.(proj|norm)\.(weight|bias)'
#: Official CvT (microsoft/CvT ``lib/models/cls_cvt.py``): one
#: ``stage{i}`` module per stage, each with its ``patch_embed`` and
#: ``blocks`` whose attention has convolutional projections.
LAYOUT = KeyLayout(
    r'stage0\.patch_embed\.proj\.weight$',
    r'stage\d+\.blocks\.\d+\.attn\.conv_proj_q\.',
)


@register_converter('CvT', recognise=LAYOUT)
def convert_cvt(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CvT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of microsoft/CvT (``ConvolutionalVisionTransformer``
    of ``lib/models/cls_cvt.py``; the released checkpoints are bare state
    dicts), optionally wrapped as ``{'model': state_dict, ...}`` and with
    DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Renames:

    - ``stage0.patch_embed.*`` -> ``backbone.patch_embed.*`` (the stem);
    - ``stage{i}.patch_embed.*`` (i > 0) -> ``backbone.stages.{i}.0.*``;
    - ``stage0.blocks.{j}.*`` -> ``backbone.stages.0.{j}.*`` and
      ``stage{i}.blocks.{j}.*`` (i > 0) -> ``backbone.stages.{i}.{j+1}.*``
      (block names inside are unchanged);
    - ``stage{i}.cls_token`` (the last stage's) ->
      ``backbone.stages.{i}.0.cls_token`` (it belongs to the stage's
      embedding; ``backbone.patch_embed.cls_token`` when ``i == 0``);
    - ``norm.*`` -> ``backbone.norm.*``, ``head.*`` -> ``head.fc.*``
      (mmpretrain ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official CvT layout (no
            weight is dropped silently), e.g. a position embedding
            (``POS_EMBED: True``) or the 'avg' / 'linear' projections, or
            if class tokens of several stages are found.
    """
    converted = map_keys(
        state_dict, _convert_key, 'convert_cvt',
        'stage{i}.patch_embed.{proj,norm}.*, stage{i}.blocks.{j}.{norm1,'
        'norm2,attn.{conv_proj_{q,k,v}.{conv,bn},proj_{q,k,v},proj},mlp.'
        '{fc1,fc2}}.*, stage{i}.cls_token, norm.*, head.*',
        layout='the official CvT layout')
    cls_tokens = [
        key for key in state_dict if re.fullmatch(r'stage\d+\.cls_token', key)
    ]
    if len(cls_tokens) > 1:
        raise KeyError(f'convert_cvt: class tokens in several stages '
                       f'{cls_tokens}; mmvitplug.CvT has one, in the last '
                       'stage')
    return converted


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    stage = re.fullmatch(r'stage(\d+)\.(.*)', key)
    if stage:
        i, rest = int(stage.group(1)), stage.group(2)
        if re.fullmatch(_EMBED, rest):
            name = rest if i == 0 else f'stages.{i}.0.{rest[12:]}'
            return f'backbone.{name}'
        block = re.fullmatch(r'blocks\.(\d+)\.(.*)', rest)
        if block and re.fullmatch(_BLOCK, block.group(2)):
            j = int(block.group(1)) + (1 if i else 0)
            return f'backbone.stages.{i}.{j}.{block.group(2)}'
        if rest == 'cls_token':
            name = 'patch_embed' if i == 0 else f'stages.{i}.0'
            return f'backbone.{name}.cls_token'
        return None
    if re.fullmatch(r'norm\.(weight|bias)', key):
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.fc.{key[5:]}'
    return None
