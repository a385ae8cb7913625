# Copyright (c) mmvitplug contributors.
"""Official / timm XCiT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict

import torch

from .registry import KeyLayout, register_converter

_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_BACKBONE_PATTERNS = (
    r'cls_token',
    r'patch_embed\.proj\.\d+\.0\.weight',
    r'patch_embed\.proj\.\d+\.1\.' + _BN,
    r'pos_embed\.token_projection\.(weight|bias)',
    r'blocks\.\d+\.(norm1|norm2|norm3|attn\.qkv|attn\.proj|mlp\.fc1|'
    r'mlp\.fc2|local_mp\.conv1|local_mp\.conv2)\.(weight|bias)',
    r'blocks\.\d+\.local_mp\.bn\.' + _BN,
    r'blocks\.\d+\.(gamma1|gamma2|gamma3)',
    r'cls_attn_blocks\.\d+\.(norm1|norm2|attn\.q|attn\.k|attn\.v|'
    r'attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)',
    r'cls_attn_blocks\.\d+\.gamma[12]',
    r'norm\.(weight|bias)',
)
#: Official (facebookresearch/xcit) or timm XCiT: XCA layers with LPI.
LAYOUT = KeyLayout(
    r'blocks\.\d+\.attn\.temperature$',
    r'blocks\.\d+\.local_mp\.conv1\.weight$',
)


@register_converter('XCiT', recognise=LAYOUT)
def convert_xcit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or timm XCiT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository
    (`facebookresearch/xcit <https://github.com/facebookresearch/xcit>`_,
    `XCiT <https://arxiv.org/abs/2106.09681>`_) or of timm, optionally
    wrapped as ``{'model': state_dict, ...}`` and with DDP's ``module.``
    prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). ``mmvitplug.XCiT`` uses
    timm's names but for the temperatures, so:

    - ``pos_embeder.*`` (official) becomes ``pos_embed.*``;
    - the class-attention layers' fused ``attn.qkv`` (official) is split
      into ``attn.q``, ``attn.k``, ``attn.v`` (its rows are q, k, v);
    - both: the XCA temperatures ``blocks.{i}.attn.temperature``
      (heads, 1, 1) become ``blocks.{i}.attn.head_temperature`` (heads, ).

    Backbone keys get the ``backbone.`` prefix, the classifier ``head.*``
    becomes ``head.fc.*`` (mmpretrain ``LinearClsHead``).

    Args:
        state_dict (dict): The official or timm checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors shared, split
        class-attention projections are views).

    Raises:
        KeyError: If a key is not part of the official / timm XCiT layout,
            so no weight is dropped silently.
    """
    converted, unknown = {}, []
    for key, value in state_dict.items():
        key = re.sub(r'^pos_embeder\.', 'pos_embed.', key)
        fused = re.fullmatch(r'(cls_attn_blocks\.\d+\.attn)\.qkv\.'
                             r'(weight|bias)', key)
        temperature = re.fullmatch(r'(blocks\.\d+\.attn)\.temperature', key)
        if temperature:
            converted[f'backbone.{temperature.group(1)}.head_temperature'] = \
                value.flatten()
        elif fused:
            module, kind = fused.groups()
            for name, part in zip('qkv', value.chunk(3, dim=0)):
                converted[f'backbone.{module}.{name}.{kind}'] = part
        elif any(re.fullmatch(p, key) for p in _BACKBONE_PATTERNS):
            converted[f'backbone.{key}'] = value
        elif re.fullmatch(r'head\.(weight|bias)', key):
            converted[f'head.fc.{key[5:]}'] = value
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(
            f'convert_xcit: {len(unknown)} key(s) are not in the official '
            f'or timm XCiT layout: {unknown[:10]}; expected cls_token, '
            'patch_embed.proj.*, pos_embeder.* / pos_embed.*, '
            'blocks.{i}.{norm1,attn.qkv,attn.temperature,attn.proj,norm3,'
            'local_mp.{conv1,bn,conv2},norm2,mlp.fc1,mlp.fc2,gamma1,gamma3,'
            'gamma2}, cls_attn_blocks.{j}.{norm1,attn.qkv or attn.q/k/v,'
            'attn.proj,norm2,mlp.fc1,mlp.fc2,gamma1,gamma2}, norm.*, head.*')
    return converted
