# Copyright (c) mmvitplug contributors.
"""Classification head of the multi-class-token PatchConvNet."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead

from mmvitplug.registry import MODELS


@MODELS.register_module()
class MultiTokenClsHead(ClsHead):
    """One linear classifier per class token.

    The multi-class-token variant of `PatchConvNet
    <https://arxiv.org/abs/2112.13692>`_ pools the patches into one token per
    class, (N, K, C); class ``i``'s logit reads only token ``i``:
    ``logit_i = w_i . token_i + b_i``. The weights are stacked as ``fc.weight``
    (K, C) and ``fc.bias`` (K), the layout
    :func:`mmvitplug.converters.convert_patchconvnet` gives the official
    per-class heads. Losses and prediction are those of mmpretrain's
    :class:`ClsHead`.

    Args:
        num_classes (int): Number of classes K (= class tokens).
        in_channels (int): Token dimension C.
        loss (dict): Classification loss. Defaults to cross-entropy.
        init_cfg (dict, optional): Defaults to truncated normal (std 0.02)
            weights and zero biases.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer='_PerTokenLinear', std=0.02,
                     bias=0.),
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        if num_classes <= 0:
            raise ValueError(
                f'num_classes={num_classes} must be a positive integer')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.fc = _PerTokenLinear(num_classes, in_channels)

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """The (N, K, C) class tokens of the last backbone output."""
        tokens = feats[-1]
        if not (isinstance(tokens, torch.Tensor) and tokens.dim() == 3
                and tokens.shape[1:] == (self.num_classes, self.in_channels)):
            got = (tuple(tokens.shape) if isinstance(tokens, torch.Tensor)
                   else type(tokens).__name__)
            raise TypeError(
                'MultiTokenClsHead needs one token per class, '
                f'(N, {self.num_classes}, {self.in_channels}), from a '
                'backbone with num_cls_tokens=num_classes and '
                f"out_type='cls_token'; got {got}")
        return tokens

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits (N, K)."""
        return self.fc(self.pre_logits(feats))


class _PerTokenLinear(nn.Module):
    """``out[:, i] = tokens[:, i] . weight[i] + bias[i]``."""

    def __init__(self, num_tokens: int, dims: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_tokens, dims))
        self.bias = nn.Parameter(torch.zeros(num_tokens))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.einsum('nkc,kc->nk', tokens, self.weight) + self.bias
