# Copyright (c) mmvitplug contributors.
"""Official / timm LeViT checkpoints -> mmvitplug classifier state dicts."""
import re
from typing import Callable, Dict, Optional, Union

import torch

from .registry import DROP, KeyLayout, map_keys, register_converter

_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: Official LeViT (facebookresearch/LeViT ``levit.py``): flat ``blocks.k``.
OFFICIAL_LAYOUT = KeyLayout(r'patch_embed\.0\.c\.weight$',
                            r'blocks\.\d+\.m\.qkv\.c\.weight$')
#: timm ``levit_*`` (nn.Linear mode): ``stem.conv*`` and ``stages.s``.
TIMM_LAYOUT = KeyLayout(r'stem\.conv1\.linear\.weight$',
                        r'stages\.\d+\.blocks\.\d+\.attn\.qkv\.linear\.'
                        r'weight$')
LAYOUT = OFFICIAL_LAYOUT | TIMM_LAYOUT


def _linear_bn(suffix: str) -> str:
    """Official ``c.*`` / ``bn.*`` -> ours (``linear.*`` / ``bn.*``)."""
    return re.sub(r'^c\.', 'linear.', suffix)


def _head(key: str) -> Optional[str]:
    m = re.fullmatch(r'(head|head_dist)\.(bn|l|linear)\.(\w+)', key)
    if not m:
        return None
    name, layer, param = m.groups()
    return f'head.{name}.{"bn" if layer == "bn" else "linear"}.{param}'


#: What a key function returns: a key, DROP or None (unknown).
_Key = Union[str, object, None]


def _official_key_function(state_dict) -> Callable[[str], _Key]:
    """The key function of an official checkpoint: its flat blocks are
    placed in stages from the kinds of all of them."""
    # classify each flat block: attention residual, MLP residual or
    # subsampling attention, then walk them in order
    kinds: Dict[int, str] = {}
    for key in state_dict:
        m = re.match(r'blocks\.(\d+)\.(m\.qkv|m\.0|kv|q\.1)\.', key)
        if m:
            kinds[int(m.group(1))] = {
                'm.qkv': 'attn', 'm.0': 'mlp', 'kv': 'sub', 'q.1': 'sub'
            }[m.group(2)]
    where: Dict[int, str] = {}
    stage, layer = 0, -1
    for k in sorted(kinds):
        if kinds[k] == 'sub':
            stage, layer = stage + 1, 0
            where[k] = f'stages.{stage}.0.attn'
        elif kinds[k] == 'attn':
            layer += 1
            where[k] = f'stages.{stage}.{layer}.attn'
        else:
            where[k] = f'stages.{stage}.{layer}.mlp'

    def convert_key(key: str) -> _Key:
        m = re.fullmatch(r'patch_embed\.([0246])\.(c|bn)\.(\w+)', key)
        if m:
            i, part, param = m.groups()
            part = 'conv' if part == 'c' else 'bn'
            return f'backbone.patch_embed.convs.{int(i) // 2}.{part}.{param}'
        if _head(key):
            return _head(key)
        b = re.fullmatch(r'blocks\.(\d+)\.(.+)', key)
        if not (b and int(b.group(1)) in where):
            return None
        k, rest = int(b.group(1)), b.group(2)
        base = where[k]
        if rest.endswith('attention_bias_idxs'):
            return DROP  # derived indices, recomputed for any grid
        if kinds[k] == 'sub':
            if rest == 'attention_biases':
                return f'backbone.{base}.attention_biases'
            sub = re.fullmatch(r'(kv|q\.1|proj\.1)\.(c|bn)\.' + _BN, rest)
            if not sub:
                return None
            name = {'kv': 'kv', 'q.1': 'q', 'proj.1': 'proj'}[sub[1]]
            return f'backbone.{base}.{name}.' \
                f'{_linear_bn(f"{sub[2]}.{sub[3]}")}'
        if rest == 'm.attention_biases' and kinds[k] == 'attn':
            return f'backbone.{base}.attention_biases'
        mm = re.fullmatch(r'm\.(qkv|proj\.1|0|2)\.(c|bn)\.' + _BN, rest)
        if mm:
            name = {'qkv': 'qkv', 'proj.1': 'proj', '0': 'fc1',
                    '2': 'fc2'}[mm[1]]
            return f'backbone.{base}.{name}.' \
                f'{_linear_bn(f"{mm[2]}.{mm[3]}")}'
        return None

    return convert_key


_TIMM_RULES = (
    (r'stem\.conv([1-4])\.(linear|bn)\.' + _BN,
     lambda m: f'patch_embed.convs.{int(m[1]) - 1}.'
     f'{"conv" if m[2] == "linear" else "bn"}.{m[3]}'),
    (r'stages\.(\d+)\.blocks\.(\d+)\.attn\.(qkv|proj\.ln)\.(linear|bn)\.' +
     _BN, lambda m: f'stages.{m[1]}.{int(m[2]) + (m[1] != "0")}.attn.'
     f'{m[3][:4]}.{m[4]}.{m[5]}'),
    (r'stages\.(\d+)\.blocks\.(\d+)\.attn\.attention_biases',
     lambda m: f'stages.{m[1]}.{int(m[2]) + (m[1] != "0")}.attn.'
     'attention_biases'),
    (r'stages\.(\d+)\.blocks\.(\d+)\.mlp\.ln([12])\.(linear|bn)\.' + _BN,
     lambda m: f'stages.{m[1]}.{int(m[2]) + (m[1] != "0")}.mlp.fc{m[3]}.'
     f'{m[4]}.{m[5]}'),
    (r'stages\.(\d+)\.downsample\.attn_downsample\.(kv|q\.ln|proj\.ln)\.'
     r'(linear|bn)\.' + _BN,
     lambda m: f'stages.{m[1]}.0.attn.{m[2].split(".")[0]}.{m[3]}.{m[4]}'),
    (r'stages\.(\d+)\.downsample\.attn_downsample\.attention_biases',
     lambda m: f'stages.{m[1]}.0.attn.attention_biases'),
    (r'stages\.(\d+)\.downsample\.mlp\.ln([12])\.(linear|bn)\.' + _BN,
     lambda m: f'stages.{m[1]}.0.mlp.fc{m[2]}.{m[3]}.{m[4]}'),
)


def _timm_key(key: str) -> _Key:
    """The mmvitplug key of a timm key, DROP or None if it is unknown."""
    if key.endswith('attention_bias_idxs'):
        return DROP  # derived indices, recomputed for any grid
    if _head(key):
        return _head(key)
    for pattern, rename in _TIMM_RULES:
        m = re.fullmatch(pattern, key)
        if m:
            return 'backbone.' + rename(m)
    return None


@register_converter('LeViT', recognise=LAYOUT)
def convert_levit(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map an official or timm LeViT checkpoint to mmvitplug keys.

    Accepts the state dict of the official repository
    (`facebookresearch/LeViT <https://github.com/facebookresearch/LeViT>`_
    ``levit.py``: ``patch_embed.{0,2,4,6}.{c,bn}``, flat ``blocks.k`` of
    attention residuals ``m.{qkv,proj.1}``, MLP residuals ``m.{0,2}`` and
    subsampling attentions ``{kv,q.1,proj.1}``, heads ``head{,_dist}.{bn,l}``)
    or of timm ``levit_*`` (``stem.conv{1..4}``,
    ``stages.s.{downsample,blocks.j}``, heads ``head{,_dist}.{bn,linear}``),
    optionally wrapped in ``{'model': ...}`` / with DDP's ``module.`` prefix
    (removed first). Backbone keys get ``backbone.``
    (:class:`mmvitplug.LeViT` layout; the subsampling layer is layer 0 of
    stages 1 and 2), heads become ``head.head.{bn,linear}`` /
    ``head.head_dist.{bn,linear}`` (:class:`mmvitplug.LeViTClsHead`). The
    official persistent ``attention_bias_idxs`` buffers are derived indices
    (recomputed for any grid by the backbone) and are not carried over.

    Args:
        state_dict (dict): The official or timm checkpoint.

    Returns:
        dict: A new state dict with mmvitplug keys (tensors are shared).

    Raises:
        KeyError: If a key belongs to neither layout, so no weight is
            dropped silently.
    """
    if OFFICIAL_LAYOUT(state_dict.keys()):
        convert_key, layout = _official_key_function(state_dict), 'official'
    else:
        convert_key, layout = _timm_key, 'timm'
    return map_keys(
        state_dict, convert_key, 'convert_levit',
        '(official) patch_embed.{0,2,4,6}.{c,bn}.*, blocks.{k}.m.{qkv,'
        'proj.1,0,2}.{c,bn}.*, blocks.{k}.{kv,q.1,proj.1}.{c,bn}.*, '
        '[...]attention_biases, head{,_dist}.{bn,l}.* or (timm) '
        'stem.conv{1-4}.*, stages.{s}.blocks.{j}.{attn,mlp}.*, '
        'stages.{s}.downsample.{attn_downsample,mlp}.*, '
        'head{,_dist}.{bn,linear}.*',
        layout=f'the {layout} LeViT layout')
