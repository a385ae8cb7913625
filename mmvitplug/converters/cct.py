# Copyright (c) mmvitplug contributors.
"""Official CCT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Dict, Optional

import torch

from .registry import KeyLayout, map_keys, register_converter

#: official ``classifier.blocks.{i}.<name>`` -> ours ``blocks.{i}.<name>``
_BLOCK_NAMES = {
    'pre_norm': 'norm1',
    'self_attn.qkv': 'attn.qkv',
    'self_attn.proj': 'attn.proj',
    'norm1': 'norm2',
    'linear1': 'mlp.fc1',
    'linear2': 'mlp.fc2',
}
_BLOCK = re.compile(r'classifier\.blocks\.(\d+)\.(' +
                    '|'.join(re.escape(n) for n in _BLOCK_NAMES) +
                    r')\.(weight|bias)')
_DIRECT = {
    'classifier.positional_emb': 'backbone.pos_embed',
    'classifier.attention_pool.weight': 'backbone.attention_pool.weight',
    'classifier.attention_pool.bias': 'backbone.attention_pool.bias',
    'classifier.norm.weight': 'backbone.norm.weight',
    'classifier.norm.bias': 'backbone.norm.bias',
    'classifier.fc.weight': 'head.fc.weight',
    'classifier.fc.bias': 'head.fc.bias',
}
_TOKENIZER = re.compile(r'tokenizer\.conv_layers\.\d+\.0\.weight')
#: Official CCT (``src/cct.py``): a ``tokenizer`` and a ``classifier``
#: (``TransformerClassifier``) whose blocks have ``pre_norm``.
LAYOUT = KeyLayout(r'tokenizer\.conv_layers\.',
                   r'classifier\.blocks\.\d+\.pre_norm\.')


@register_converter('CCT', recognise=LAYOUT)
def convert_cct(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official CCT checkpoint to mmvitplug classifier keys.

    Accepts the state dict of SHI-Labs/Compact-Transformers ``src/cct.py``
    (the released ``.pth`` files are bare state dicts; ``{'model': ...}``
    wrappers and DDP's ``module.`` prefix are removed by
    :func:`~mmvitplug.converters.registry.prepare_state_dict` first; the
    registered recogniser is :data:`LAYOUT`). ``tokenizer.*`` keeps its
    names under ``backbone.``; ``classifier.`` is removed from the trunk
    keys, ``positional_emb`` becomes ``pos_embed``, and in the blocks
    ``pre_norm`` -> ``norm1``, ``self_attn`` -> ``attn``, ``norm1`` ->
    ``norm2``, ``linear1`` / ``linear2`` -> ``mlp.fc1`` / ``mlp.fc2``
    (:class:`~mmvitplug.models.backbones.cct.CCTBlock`); the classifier
    ``classifier.fc.*`` becomes ``head.fc.*`` (mmpretrain
    ``LinearClsHead``). A sine model's fixed ``positional_emb`` maps to
    ``pos_embed`` too (a ``pos_embed='sine'`` backbone recomputes it and
    reports the key as unexpected).

    Args:
        state_dict (dict): The official checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key is not part of the official CCT layout (e.g. the
            class token ``classifier.class_emb`` of a ``seq_pool=False``
            model, which CCT never builds), so no weight is dropped
            silently.
    """
    return map_keys(
        state_dict, _convert_key, 'convert_cct',
        'tokenizer.conv_layers.{i}.0.weight, classifier.{positional_emb,'
        'attention_pool.*,norm.*,fc.*} and classifier.blocks.{i}.'
        '{pre_norm,self_attn.qkv,self_attn.proj,norm1,linear1,linear2}.*',
        layout='the official CCT layout')


def _convert_key(key: str) -> Optional[str]:
    """The mmvitplug key of an official key, or None if it is unknown."""
    block = _BLOCK.fullmatch(key)
    if block:
        i, name, kind = block.groups()
        return f'backbone.blocks.{i}.{_BLOCK_NAMES[name]}.{kind}'
    if key in _DIRECT:
        return _DIRECT[key]
    if _TOKENIZER.fullmatch(key):
        return f'backbone.{key}'
    return None
