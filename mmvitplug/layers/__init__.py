# Copyright (c) mmvitplug contributors.
"""Layers shared by every mmvitplug architecture."""
from .affine import Affine
from .attention import Attention
from .attention_pool import AttentionPool
from .block import Block
from .class_attention import ClassAttention, ClassAttentionBlock
from .conv_stem import ConvStem
from .drop import DropPath, drop_path
from .format import tokens_to_featmap
from .layer_scale import LayerScale
from .mlp import Mlp
from .norm import LayerNorm2d
from .patch_embed import PatchEmbed
from .pos_embed import resize_pos_embed
from .squeeze_excite import SqueezeExcite
from .talking_heads import TalkingHeadsAttention

__all__ = [
    'Affine', 'Attention', 'AttentionPool', 'Block', 'ClassAttention',
    'ClassAttentionBlock', 'ConvStem', 'DropPath', 'LayerNorm2d',
    'LayerScale', 'Mlp', 'PatchEmbed', 'SqueezeExcite',
    'TalkingHeadsAttention', 'drop_path', 'resize_pos_embed',
    'tokens_to_featmap'
]
