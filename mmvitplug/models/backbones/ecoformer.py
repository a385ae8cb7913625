# Copyright (c) mmvitplug contributors.
"""EcoFormer: a plugin backbone whose attention runs on binary hash codes.

`Liu et al. 2022, "EcoFormer: Energy-Saving Attention with Linear
Complexity" <https://arxiv.org/abs/2209.09004>`_; official code:
ziplab/EcoFormer (``pvt/pvt_v2.py``, ``pvt/performer.py``).
"""
from typing import Sequence, Union

import torch.nn as nn
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.layers import convert_to_ecoformer
from mmvitplug.layers.ecoformer import ECOFORMER_DEFAULTS
from mmvitplug.registry import MODELS


@MODELS.register_module()
class EcoFormer(BaseBackbone):
    """A plugin backbone with `EcoFormer <https://arxiv.org/abs/2209.09004>`_
    attention.

    Builds the backbone ``vit`` from ``backbone`` and replaces each of its
    :class:`~mmvitplug.layers.Attention` modules, except those matching
    ``skip``, by :class:`~mmvitplug.layers.EcoFormerAttention`
    (:func:`~mmvitplug.layers.convert_to_ecoformer`): shared queries / keys
    hashed to ``nbits``-bit codes by kernelised supervised hashing, linear
    attention on the codes. That covers the plain ViTs (``mmvitplug.DeiT``,
    ``mmvitplug.CCT``: every block) and the pyramids with plain attention:
    LIT with absolute positions (LIT-Ti: the attention of stages 3 and 4;
    the official PVTv2-EcoFormer models keep softmax attention in the last
    stage, ``skip=('stages.3.*', )``) and PiT (every pooled stage).
    Backbones without plain attention (LITv2's HiLo, LIT-S's
    relative-position attention, ...) raise an error.

    The hash functions are fit on the first forward (any mode) and
    whenever ``mmvitplug.EcoFormerHook`` asks (every k epochs, the official
    schedule); their buffers (``A``, ``mvec``, ``anchor``, ``fitted``) are
    in the state dict, so a checkpoint evaluates with the codes it was
    trained with.

    Design: a wrapper, as ``mmvitplug.DynamicViT``, so that one class
    switches every plugin backbone with plain attention by config and the
    wrapped backbone keeps its own arguments, forward and outputs
    (classification, detection and segmentation necks see the plain
    backbone's outputs). Parameters are ``vit.*``. ``load_state_dict`` also
    accepts the plain backbone's keys (``blocks.*``, a softmax-attention
    checkpoint: its ``qkv`` rows of q and v load into ``to_qk`` / ``to_v``,
    as the official fine-tuning does); to initialise from a checkpoint give
    the plain backbone its ``Pretrained`` ``init_cfg``.

    Args:
        backbone (dict | nn.Module): The plugin backbone, e.g.
            ``dict(type='mmvitplug.DeiT', arch='deit-small')``.
        nbits (int): Code length b. Defaults to 16 (official).
        num_anchors (int): KSH anchors m. Defaults to 25 (official).
        topk (int): Similar / dissimilar tokens per row of the fitting
            targets. Defaults to 10 (official).
        skip (Sequence[str]): ``fnmatch`` patterns of the wrapped
            backbone's module names (e.g. ``'blocks.11.attn'``,
            ``'stages.3.*'``) whose attention stays softmax attention.
            Defaults to ().
        fit_iters (int): SGD steps per bit of a fit. Defaults to 100.
        fit_lr (float): Their learning rate. Defaults to 5e-4.
        fit_momentum (float): Their Nesterov momentum. Defaults to 0.9.
    """

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 nbits: int = ECOFORMER_DEFAULTS['nbits'],
                 num_anchors: int = ECOFORMER_DEFAULTS['num_anchors'],
                 topk: int = ECOFORMER_DEFAULTS['topk'],
                 skip: Sequence[str] = (),
                 fit_iters: int = ECOFORMER_DEFAULTS['fit_iters'],
                 fit_lr: float = ECOFORMER_DEFAULTS['fit_lr'],
                 fit_momentum: float = ECOFORMER_DEFAULTS['fit_momentum']):
        super().__init__(init_cfg=None)
        vit = MODELS.build(backbone) if isinstance(backbone, dict) \
            else backbone
        if not isinstance(vit, nn.Module):
            raise TypeError('EcoFormer wraps a backbone (a config dict or an '
                            f'nn.Module), got {type(vit).__name__}')
        self.counts = convert_to_ecoformer(
            vit,
            skip=tuple(skip),
            nbits=nbits,
            num_anchors=num_anchors,
            topk=topk,
            fit_iters=fit_iters,
            fit_lr=fit_lr,
            fit_momentum=fit_momentum)
        self.vit = vit
        self._register_load_state_dict_pre_hook(self._plain_keys)

    def _plain_keys(self, state_dict, prefix, *args) -> None:
        """Map a plain backbone's keys ``{prefix}blocks...`` to
        ``{prefix}vit.blocks...``."""
        own = f'{prefix}vit.'
        for key in list(state_dict):
            if key.startswith(prefix) and not key.startswith(own):
                state_dict[own + key[len(prefix):]] = state_dict.pop(key)

    def forward(self, x):
        """The wrapped backbone's outputs."""
        return self.vit(x)
