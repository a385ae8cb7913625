# Copyright (c) mmvitplug contributors.
"""Building blocks shared by mmvitplug architectures.

The rule: ``mmvitplug.layers`` holds generic primitives (attention with its
fused and explicit paths, :func:`attend`, MLP, drop path, layer scale,
patch / position embeddings, norms, token <-> feature-map conversion) and
blocks that at least two architecture families share (the pluggable
:class:`Block`, :class:`ClassAttentionBlock`, :class:`ConvNeXtBlock`:
RevCol's columns and image decoders). A block used by one family
only lives in that family's file under ``mmvitplug/models/backbones/``.

The package is pure torch (and torchvision's ops): no OpenMMLab package
and no registry is imported here. Registry entries for these layers
(``mmvitplug.LN2d``) live in :mod:`mmvitplug.models.norms`.
"""
from .affine import Affine
from .attention import (Attention, attend, check_mask, masked_softmax,
                        record_attention, record_weights, recording_attention)
from .block import Block
from .class_attention import ClassAttention, ClassAttentionBlock
from .conv_stem import ConvStem
from .convnext_block import ConvNeXtBlock
from .dcnv3 import DCNv3, dcnv3_sample
from .deform_conv import DeformableTokenMerging, DeformConv2dPack
from .drop import DropPath, drop_path
from .format import tokens_to_featmap
from .grad_reverse import grad_reverse
from .hilo import HiLoAttention
from .layer_scale import LayerScale
from .lsq import (LSQConv2d, LSQLinear, LSQQuantizer, grad_scale, lsq_quantize,
                  round_pass)
from .mesa import (MesaAttend, MesaBatchNorm2d, MesaConv2d, MesaGELU,
                   MesaLayerNorm, MesaLinear, MesaMatMul, MesaQuantizer,
                   MesaReLU, MesaSoftmax, convert_to_mesa, count_saved_bytes)
from .mlp import Mlp
from .norm import LayerNorm2d
from .patch_embed import PatchEmbed
from .pos_embed import resize_pos_embed
from .quant import (ActQuant, QuantConv2d, QuantLinear, quantize_activation,
                    quantize_weight, quantize_weight_rowwise, round_ste)
from .sobel import Sobel
from .squeeze_excite import SqueezeExcite
from .svpn import SVPN, cross_covariance, power_iteration, svpn
from .talking_heads import TalkingHeadsAttention
from .token_pruning import (TokenKeepPredictor, batch_index_select,
                            block_forward_with_policy, keep_ratios,
                            policy_attention, softmax_with_policy)

__all__ = [
    'ActQuant', 'Affine', 'Attention', 'Block', 'ClassAttention',
    'ClassAttentionBlock', 'ConvNeXtBlock', 'ConvStem', 'DCNv3',
    'DeformConv2dPack', 'DeformableTokenMerging', 'DropPath', 'HiLoAttention',
    'LSQConv2d', 'LSQLinear', 'LSQQuantizer', 'LayerNorm2d', 'LayerScale',
    'MesaAttend', 'MesaBatchNorm2d', 'MesaConv2d', 'MesaGELU', 'MesaLayerNorm',
    'MesaLinear', 'MesaMatMul', 'MesaQuantizer', 'MesaReLU', 'MesaSoftmax',
    'Mlp', 'PatchEmbed', 'QuantConv2d', 'QuantLinear', 'Sobel',
    'SqueezeExcite', 'SVPN', 'TalkingHeadsAttention', 'attend', 'check_mask',
    'convert_to_mesa', 'count_saved_bytes',
    'dcnv3_sample', 'drop_path', 'grad_reverse', 'grad_scale', 'lsq_quantize',
    'masked_softmax', 'quantize_activation', 'quantize_weight',
    'quantize_weight_rowwise', 'record_attention', 'record_weights',
    'recording_attention', 'resize_pos_embed', 'round_pass', 'round_ste',
    'tokens_to_featmap', 'TokenKeepPredictor', 'batch_index_select',
    'block_forward_with_policy', 'keep_ratios', 'policy_attention',
    'softmax_with_policy', 'cross_covariance', 'power_iteration', 'svpn'
]
