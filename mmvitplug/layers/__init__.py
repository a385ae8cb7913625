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
from .binary import (BinaryConv2d, LearnableBias, RPReLU, binarize_activation,
                     binarize_weight, count_ops, param_bits, sign_binary,
                     universal_shortcut)
from .block import Block
from .class_attention import ClassAttention, ClassAttentionBlock
from .conv_stem import ConvStem
from .convnext_block import ConvNeXtBlock
from .dcnv3 import DCNv3, dcnv3_sample
from .deform_conv import DeformableTokenMerging, DeformConv2dPack
from .drop import DropPath, drop_path
from .dynamic_resolution import (ResolutionBatchNorm2d,
                                 convert_to_resolution_bn, hard_gumbel_softmax,
                                 resize_to, select_resolution)
from .ecoformer import EcoFormerAttention, convert_to_ecoformer
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
from .pruning import (apply_masks, global_magnitude_masks, kept_fraction,
                      mask_optimizer_state, prunable_weights, random_masks,
                      sparsity_schedule)
from .quant import (ActQuant, QuantConv2d, QuantLinear, quantize_activation,
                    quantize_weight, quantize_weight_rowwise, round_ste)
from .sobel import Sobel
from .spvit import (MSA_CHOICES, ConvAttention, GatedMlp, SPViTAttention,
                    bernoulli_sample, check_msa_choices, derive_conv,
                    threshold_indicators)
from .squeeze_excite import SqueezeExcite
from .svpn import SVPN, cross_covariance, power_iteration, svpn
from .talking_heads import TalkingHeadsAttention
from .token_pruning import (TokenKeep, TokenKeepPredictor, active_keep,
                            batch_index_select, bind_keep, keep_matrix,
                            keep_ratios, keep_tokens, key_policy,
                            softmax_with_policy)

__all__ = [
    'ActQuant', 'Affine', 'Attention', 'BinaryConv2d', 'Block',
    'ClassAttention', 'ClassAttentionBlock', 'ConvAttention', 'ConvNeXtBlock',
    'ConvStem', 'DCNv3', 'DeformConv2dPack', 'DeformableTokenMerging',
    'DropPath', 'EcoFormerAttention', 'GatedMlp', 'HiLoAttention', 'LSQConv2d',
    'LSQLinear', 'LSQQuantizer', 'LayerNorm2d', 'LayerScale', 'LearnableBias',
    'MSA_CHOICES', 'MesaAttend', 'MesaBatchNorm2d', 'MesaConv2d', 'MesaGELU',
    'MesaLayerNorm', 'MesaLinear', 'MesaMatMul', 'MesaQuantizer', 'MesaReLU',
    'MesaSoftmax', 'Mlp', 'PatchEmbed', 'QuantConv2d', 'QuantLinear', 'RPReLU',
    'ResolutionBatchNorm2d', 'SPViTAttention', 'SVPN', 'Sobel',
    'SqueezeExcite', 'TalkingHeadsAttention', 'TokenKeep',
    'TokenKeepPredictor', 'active_keep', 'apply_masks', 'attend',
    'batch_index_select', 'bernoulli_sample', 'binarize_activation',
    'binarize_weight', 'bind_keep', 'check_mask', 'check_msa_choices',
    'convert_to_ecoformer', 'convert_to_mesa', 'convert_to_resolution_bn',
    'count_ops', 'count_saved_bytes', 'cross_covariance', 'dcnv3_sample',
    'derive_conv', 'drop_path', 'global_magnitude_masks', 'grad_reverse',
    'grad_scale', 'hard_gumbel_softmax', 'keep_matrix', 'keep_ratios',
    'keep_tokens', 'kept_fraction', 'key_policy', 'lsq_quantize',
    'mask_optimizer_state', 'masked_softmax', 'param_bits', 'power_iteration',
    'prunable_weights', 'quantize_activation', 'quantize_weight',
    'quantize_weight_rowwise', 'random_masks', 'record_attention',
    'record_weights', 'recording_attention', 'resize_pos_embed', 'resize_to',
    'round_pass', 'round_ste', 'select_resolution', 'sign_binary',
    'softmax_with_policy', 'sparsity_schedule', 'svpn', 'threshold_indicators',
    'tokens_to_featmap', 'universal_shortcut'
]
