# Copyright (c) mmvitplug contributors.
"""Official / timm PiT checkpoints -> mmvitplug classifier state dicts."""
import functools
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_BACKBONE_KEYS = ('cls_token', 'pos_embed', 'patch_embed.conv.weight',
                  'patch_embed.conv.bias', 'norm.weight', 'norm.bias')
_BLOCK = (r'transformers\.(\d+)\.blocks\.(\d+)\.((norm1|norm2|attn\.qkv|'
          r'attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias))')
# pooling layer s (before stage s + 1): official pools.{s}, timm
# transformers.{s + 1}.pool
_OFFICIAL_POOL = r'pools\.(\d+)\.((conv|fc)\.(weight|bias))'
_TIMM_POOL = r'transformers\.(\d+)\.pool\.((conv|fc)\.(weight|bias))'
_QKV = r'transformers\.\d+\.blocks\.\d+\.attn\.qkv\.weight$'
#: Official PiT (naver-ai/pit ``pit.py``): pooling layers ``pools.{s}``; timm
#: (``pit_*``): the same keys with ``pools.{s}`` as
#: ``transformers.{s + 1}.pool``. Both have the spatial ``pos_embed``.
LAYOUT = KeyLayout(r'pos_embed$', r'patch_embed\.conv\.weight$', _QKV,
                   r'pools\.\d+\.conv\.weight$') | \
    KeyLayout(r'pos_embed$', r'patch_embed\.conv\.weight$', _QKV,
              r'transformers\.\d+\.pool\.conv\.weight$')


@register_converter('PiT', recognise=LAYOUT)
def convert_pit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or timm PiT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository
    (`naver-ai/pit <https://github.com/naver-ai/pit>`_, `PiT
    <https://arxiv.org/abs/2103.16302>`_: pooling layers ``pools.{s}``) or
    of timm (``pit_*``: ``transformers.{s + 1}.pool``), plain or distilled,
    optionally wrapped as ``{'model': state_dict, ...}`` and with DDP's
    ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Block ``j`` of stage ``s``
    (``transformers.{s}.blocks.{j}``) becomes trunk layer
    ``backbone.stages.{s}.{j + 1 if s else j}`` and the pooling layer
    before stage ``s`` becomes ``backbone.stages.{s}.0`` (see
    :class:`mmvitplug.PiT`); ``cls_token``, ``pos_embed``,
    ``patch_embed.conv.*`` and ``norm.*`` keep their names under
    ``backbone.``. The plain classifier ``head.*`` becomes ``head.fc.*``
    (mmpretrain ``LinearClsHead``) and the distilled ``head.*`` /
    ``head_dist.*`` become ``head.head.*`` / ``head.head_dist.*``
    (``mmvitplug.DeiTDistillHead``).

    Args:
        state_dict (dict): The official or timm checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official / timm PiT layout,
            so no weight is dropped silently.
    """
    distilled = 'head_dist.weight' in state_dict
    return map_keys(
        state_dict, functools.partial(_convert_key, distilled=distilled),
        'convert_pit',
        'cls_token, pos_embed, patch_embed.conv.*, transformers.{s}.blocks.'
        '{j}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, '
        'pools.{s}.{conv,fc}.* (official) or transformers.{s}.pool.'
        '{conv,fc}.* (timm), norm.*, head.*, head_dist.*',
        layout='the official or timm PiT layout')


def _convert_key(key: str, distilled: bool) -> Optional[str]:
    """The mmvitplug key of an official / timm key, or None if it is
    unknown."""
    block = re.fullmatch(_BLOCK, key)
    if block:
        stage, index, name = int(block[1]), int(block[2]), block[3]
        layer = index + 1 if stage else index
        return f'backbone.stages.{stage}.{layer}.{name}'
    pool = re.fullmatch(_OFFICIAL_POOL, key)
    if pool:
        return f'backbone.stages.{int(pool[1]) + 1}.0.{pool[2]}'
    timm_pool = re.fullmatch(_TIMM_POOL, key)
    if timm_pool and int(timm_pool[1]) > 0:
        return f'backbone.stages.{timm_pool[1]}.0.{timm_pool[2]}'
    if key in _BACKBONE_KEYS:
        return f'backbone.{key}'
    if re.fullmatch(r'head\.(weight|bias)', key):
        return f'head.{"head" if distilled else "fc"}.{key[5:]}'
    if distilled and re.fullmatch(r'head_dist\.(weight|bias)', key):
        return f'head.{key}'
    return None
