# Copyright (c) mmvitplug contributors.
"""Official InternImage checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

_PARAMS = r'(weight|bias)'
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Official names inside a DCNv3 (``dcn.``) -> ours.
_DCN = {
    'dw_conv.0': 'dw_conv',
    'dw_conv.1.1': 'dw_norm',
    'offset': 'offset',
    'mask': 'mask',
    'input_proj': 'input_proj',
    'output_proj': 'output_proj',
}
#: Official names inside a block (but the DCNv3 and the layer scales).
_BLOCK = {
    'norm1.0': 'norm1',
    'norm2.0': 'norm2',
    'mlp.fc1': 'mlp.fc1',
    'mlp.fc2': 'mlp.fc2',
}
#: Official InternImage (OpenGVLab/InternImage ``classification/models/
#: intern_image.py``, or its detection / segmentation backbone):
#: ``levels.{s}.blocks.{i}.dcn.*`` with DCNv3's ``dw_conv`` and ``mask``.
LAYOUT = KeyLayout(r'patch_embed\.conv1\.',
                   r'levels\.\d+\.blocks\.\d+\.dcn\.dw_conv\.0\.',
                   r'levels\.\d+\.blocks\.\d+\.dcn\.mask\.')


@register_converter('InternImage', recognise=LAYOUT)
def convert_internimage(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official InternImage-T/S/B/L/XL checkpoint to mmvitplug
    classifier keys.

    Accepts the state dict of the official repository (OpenGVLab/InternImage
    classification models, or the backbone of its detection / segmentation
    code), optionally wrapped as ``{'model': state_dict, ...}`` and with
    DDP's ``module.`` prefix (both removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). Backbone keys get the
    ``backbone.`` prefix:

    - ``patch_embed.{conv1,conv2}.*`` kept, ``patch_embed.norm{1,2}.1.*``
      -> ``patch_embed.norm{1,2}.*``;
    - ``levels.{s}.blocks.{i}.*`` -> ``stages.{s}.{i}.*``, with
      ``norm{1,2}.0`` -> ``norm{1,2}``, ``gamma{1,2}`` -> ``ls{1,2}.gamma``,
      ``dcn.dw_conv.0`` -> ``dcn.dw_conv`` and ``dcn.dw_conv.1.1`` ->
      ``dcn.dw_norm``;
    - ``levels.{s}.norm.0.*`` (pre-norm models) -> ``norm{s}.*``;
    - ``levels.{s}.downsample.{conv,norm.1}.*`` (after level ``s``) ->
      ``downsample{s + 1}.{conv,norm}.*``;
    - the classifier ``conv_head.{0,1.0}.*`` -> ``head.conv_head.{0,1}.*``
      and ``head.*`` -> ``head.fc.*``
      (:class:`mmvitplug.InternImageClsHead`).

    The InternImage-H/G extras (``res_post_norm``, ``post_norms``,
    ``center_feature_scale_proj``, the CLIP projector) are not part of
    this layout and are refused.

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official InternImage-T/S/B/L/
            XL layout, so no weight is dropped silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_internimage',
        'patch_embed.{conv1,norm1.1,conv2,norm2.1}.*, levels.{s}.blocks.{i}.'
        '{norm1.0,norm2.0,dcn.{dw_conv.0,dw_conv.1.1,offset,mask,input_proj,'
        'output_proj},mlp.{fc1,fc2},gamma1,gamma2}, levels.{s}.norm.0.*, '
        'levels.{s}.downsample.{conv,norm.1}.*, conv_head.{0,1.0}.* or '
        'head.*',
        layout='the official InternImage-T/S/B/L/XL layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    found = re.fullmatch(r'patch_embed\.(conv1|conv2)\.' + _PARAMS, key)
    if found:
        return f'backbone.{key}'
    found = re.fullmatch(r'patch_embed\.(norm[12])\.1\.' + _PARAMS, key)
    if found:
        return f'backbone.patch_embed.{found.group(1)}.{found.group(2)}'
    found = re.fullmatch(r'levels\.(\d+)\.blocks\.(\d+)\.(.+)', key)
    if found:
        name = _block_key(found.group(3))
        return name and f'backbone.stages.{found.group(1)}.' \
            f'{found.group(2)}.{name}'
    found = re.fullmatch(r'levels\.(\d+)\.norm\.0\.' + _PARAMS, key)
    if found:
        return f'backbone.norm{found.group(1)}.{found.group(2)}'
    found = re.fullmatch(
        r'levels\.(\d+)\.downsample\.(conv\.weight|norm\.1\.' + _PARAMS + ')',
        key)
    if found:
        name = found.group(2).replace('norm.1.', 'norm.')
        return f'backbone.downsample{int(found.group(1)) + 1}.{name}'
    found = re.fullmatch(r'conv_head\.(0\.weight|1\.0\.' + _BN + ')', key)
    if found:
        return 'head.conv_head.' + found.group(1).replace('1.0.', '1.')
    found = re.fullmatch(r'head\.' + _PARAMS, key)
    if found:
        return f'head.fc.{found.group(1)}'
    return None


def _block_key(name: str) -> Optional[str]:
    """Our name of an official name inside a block, or None."""
    found = re.fullmatch(r'gamma([12])', name)
    if found:
        return f'ls{found.group(1)}.gamma'
    found = re.fullmatch(r'(dcn\.)?(.+)\.' + _PARAMS, name)
    if not found:
        return None
    table = _DCN if found.group(1) else _BLOCK
    ours = table.get(found.group(2))
    return ours and f'{found.group(1) or ""}{ours}.{found.group(3)}'
