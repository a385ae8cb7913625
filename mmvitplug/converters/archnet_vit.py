# Copyright (c) mmvitplug contributors.
"""Arch-Net's ViT student: its initialisation from a teacher DeiT."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, prepare_state_dict

#: An mmvitplug ``ImageClassifier`` with a :class:`mmvitplug.DeiT`
#: backbone (the keys of the official DeiT under ``backbone.``).
DEIT_CLASSIFIER = KeyLayout(r'backbone\.blocks\.0\.attn\.qkv\.weight$',
                            r'backbone\.blocks\.0\.norm1\.weight$',
                            r'backbone\.patch_embed\.proj\.weight$')

#: Teacher keys of a block carried over as they are (LayerNorm affine
#: parameters into the student's BatchNorms).
_BLOCK = (r'norm[12]\.(weight|bias)|attn\.(qkv|proj)\.(weight|bias)'
          r'|mlp\.fc[12]\.(weight|bias)')


def _convert_key(key: str) -> Optional[str]:
    """The student key of a teacher key, or None if unknown."""
    if re.fullmatch(r'head\.fc\.(weight|bias)', key):
        return key  # the LSQ head's latent weights
    if not key.startswith('backbone.'):
        return None
    rest = key[len('backbone.'):]
    if re.fullmatch(r'patch_embed\.proj\.(weight|bias)|cls_token|pos_embed'
                    r'|norm\.(weight|bias)', rest) or re.fullmatch(
                        r'blocks\.\d+\.(' + _BLOCK + ')', rest):
        return key
    return None


def archnet_init_from_deit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The initialisation of an Arch-Net ViT student
    (:class:`mmvitplug.ArchNetViT`) from its teacher DeiT, as the official
    ``train_archnet_transformer.py`` initialises its student: every
    teacher tensor whose name the student has is copied. Not an official
    layout of the student, so not a registered converter:
    :class:`mmvitplug.ArchNetClassifier` applies it to its teacher.

    Accepts an mmvitplug ``ImageClassifier`` with a
    :class:`mmvitplug.DeiT` backbone (optionally wrapped as ``{'state_dict':
    ...}`` and with DDP's ``module.`` prefix): the patch embedding, class
    token, position embedding, the blocks' linear layers and the final norm
    keep their names; each LayerNorm's weight and bias become the
    BatchNorm's of the same name (the running statistics keep their
    initial 0 / 1, as officially); the linear classifier ``head.fc``
    becomes the LSQ head's latent weights (officially the output
    projection, of the same name, is copied too). The quantisers' steps
    are set from the first training batch.

    Args:
        state_dict (dict): The teacher's state dict.

    Returns:
        dict: Student keys (``backbone.*``, ``head.fc.*``) -> tensors
        (shared).

    Raises:
        KeyError: The state dict is not a DeiT classifier's, or it has
            tensors the student has no place for (a distillation token,
            DeiT III's LayerScale).
    """
    state_dict = prepare_state_dict(state_dict)
    if not DEIT_CLASSIFIER(state_dict):
        raise KeyError(
            'archnet_init_from_deit: the teacher is not an ImageClassifier '
            "with an mmvitplug DeiT backbone (keys like 'backbone.blocks.0."
            "attn.qkv.weight', 'backbone.patch_embed.proj.weight')")
    return map_keys(
        state_dict, _convert_key, 'archnet_init_from_deit',
        'backbone.{patch_embed.proj,cls_token,pos_embed,norm}, '
        'backbone.blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,'
        'mlp.fc2}.*, head.fc.*',
        layout='a DeiT without distillation token or LayerScale')
