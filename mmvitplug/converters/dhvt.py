# Copyright (c) mmvitplug contributors.
"""Official DHVT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Names inside an official block: norms, HI-MHSA, DAFF.
_BLOCK = (r'(norm1|norm2|attn\.(qkv|proj|ht_proj|ht_norm)|'
          r'mlp\.(conv[123]|compress|excitation))\.' + _PARAMS +
          r'|mlp\.bn[123]\.' + _BN + r'|attn\.pos_embed')
#: Names inside the official SOPE: conv + BN pairs at even indices of
#: ``proj`` (GELUs between them), the affines.
_STEM = (r'proj\.[0246]\.0\.weight|proj\.[0246]\.1\.' + _BN +
         r'|(pre|post)_affine\.(alpha|beta)')
#: Official DHVT (ArieSeirack/DHVT ``vision_transformer.py`` with
#: ``apply_dhvt=True``): ``patch_embed.proj.{2k}.{0,1}`` and head tokens
#: (``attn.ht_proj``) in the blocks.
LAYOUT = KeyLayout(r'patch_embed\.proj\.0\.0\.', r'patch_embed\.pre_affine\.',
                   r'blocks\.\d+\.attn\.ht_proj\.')


@register_converter('DHVT', recognise=LAYOUT)
def convert_dhvt(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official DHVT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of the official repository (ArieSeirack/DHVT,
    ImageNet or small-dataset models), optionally wrapped as
    ``{'model': state_dict, ...}`` and with DDP's ``module.`` prefix (both
    removed by :func:`~mmvitplug.converters.registry.prepare_state_dict`
    first; the registered recogniser is :data:`LAYOUT`). Backbone keys get
    the ``backbone.`` prefix and keep their names (``patch_embed.*``,
    ``cls_token``, ``blocks.{i}.*``, ``norm.*``); the classifier
    ``head.*`` -> ``head.fc.*`` (mmpretrain ``LinearClsHead``).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official DHVT layout, so no
            weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_dhvt',
        'patch_embed.{proj.{2k}.{0,1},pre_affine,post_affine}.*, '
        'cls_token, blocks.{i}.{norm1,norm2,attn.{qkv,proj,ht_proj,ht_norm,'
        'pos_embed},mlp.{conv1-3,bn1-3,compress,excitation}}.*, norm.* '
        'or head.*',
        layout='the official DHVT layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    found = re.fullmatch(r'patch_embed\.(.+)', key)
    if (found and re.fullmatch(_STEM, found.group(1))) or \
            key == 'cls_token' or re.fullmatch(r'norm\.' + _PARAMS, key):
        return f'backbone.{key}'
    found = re.fullmatch(r'blocks\.\d+\.(.+)', key)
    if found and re.fullmatch(_BLOCK, found.group(1)):
        return f'backbone.{key}'
    found = re.fullmatch(r'head\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None
