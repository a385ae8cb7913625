# Copyright (c) mmvitplug contributors.
"""Linear classification heads with quantised weights (Arch-Net's
classifiers)."""
from typing import Optional, Tuple

import torch
from mmpretrain.models.heads import LinearClsHead

from mmvitplug.layers import LSQLinear, QuantLinear
from mmvitplug.registry import MODELS


@MODELS.register_module()
class QuantLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` whose ``fc`` is a
    :class:`mmvitplug.layers.QuantLinear`, with its logits clipped, as the
    classifier of `Arch-Net <https://arxiv.org/abs/2111.01135>`_ students
    (8-bit per-row weights, full-precision bias, logits clipped to ±16:
    the official "int16" output). Same keys (``fc.*``) as
    ``LinearClsHead``.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Input feature channels.
        w_bits (int, optional): Weight bits; None: full precision.
            Defaults to 8.
        rowwise (bool): Per-row (True, Arch-Net's) or tensor-wise weight
            quantiser. Defaults to True.
        logit_clip (float, optional): Logits are clipped to ``[-logit_clip,
            logit_clip]``; None: not clipped. Defaults to 16.
        init_cfg (dict, optional): Initialisation. Defaults to None:
            PyTorch's ``nn.Linear`` default, as officially.
        **kwargs: The other ``LinearClsHead`` arguments (``loss``,
            ``topk``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 w_bits: Optional[int] = 8,
                 rowwise: bool = True,
                 logit_clip: Optional[float] = 16.,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        if logit_clip is not None and not logit_clip > 0:
            raise ValueError(
                f'logit_clip must be > 0 or None, got {logit_clip!r}')
        self.logit_clip = logit_clip
        self.fc = QuantLinear(in_channels, num_classes, w_bits=w_bits,
                              rowwise=rowwise)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Clipped logits (B, num_classes)."""
        logits = super().forward(feats)
        if self.logit_clip is None:
            return logits
        return logits.clamp(-self.logit_clip, self.logit_clip)


@MODELS.register_module()
class LSQLinearClsHead(LinearClsHead):
    """mmpretrain's ``LinearClsHead`` whose ``fc`` is a
    :class:`mmvitplug.layers.LSQLinear` (one learned step for the weights,
    full-precision bias and logits): the output projection of `Arch-Net
    <https://arxiv.org/abs/2111.01135>`_'s Transformer student (8 bits).
    Keys ``fc.weight``, ``fc.bias`` as ``LinearClsHead`` (plus
    ``fc.weight_quant.*``).

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Input feature channels.
        w_bits (int, optional): Weight bits; None: full precision.
            Defaults to 8.
        init_cfg (dict, optional): Initialisation. Defaults to None:
            PyTorch's ``nn.Linear`` default.
        **kwargs: The other ``LinearClsHead`` arguments (``loss``,
            ``topk``...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 w_bits: Optional[int] = 8,
                 init_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        self.fc = LSQLinear(in_channels, num_classes, w_bits=w_bits)
