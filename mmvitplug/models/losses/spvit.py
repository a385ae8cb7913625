# Copyright (c) mmvitplug contributors.
"""The complexity loss of SPViT (`He et al. 2021
<https://arxiv.org/abs/2111.11802>`_, official ``models_pruning.py``,
``SPVisionTransformer.flops`` / ``calculate_bops_loss``): the FLOPs of the
architecture the gates select, pulled to a target. The label
cross-entropy is the shared loss, wired with it by the distiller (see
``configs/spvit``)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn

from mmvitplug.registry import MODELS
from .kd import _check_loss_weight, _check_tensor


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
    return value


def spvit_flops(msa_gates: torch.Tensor,
                ffn_gates: torch.Tensor,
                embed_dims: int,
                num_heads: int,
                num_patches: int,
                num_extra_tokens: int = 1,
                in_channels: int = 3,
                patch_size: int = 16,
                num_classes: int = 1000
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""FLOPs (multiply-adds) of a DeiT with SPViT gates, by the official
    formula (``SPVisionTransformer.flops``).

    With C the token dims, d = C / heads, HW patches and
    :math:`N = HW + E` tokens (the official code: E = 1), per block:

    * attention: :math:`g_0 F_{1\times1} + g_1 (F_{3\times3} - F_{1\times1})
      + g_2 (F_{MSA} - F_{3\times3})` with the cumulated gates
      :math:`g` (``msa_gates``), :math:`F_{1\times1} = 2 C d \, HW`,
      :math:`F_{3\times3} = (9 C d + d C) HW`,
      :math:`F_{MSA} = 4 N C^2 + 2 C N^2`;
    * FFN: :math:`2 \, HW \, C \sum_j f_j` over the hidden-unit gates
      :math:`f` (``ffn_gates``; HW, not N, as officially);
    * the two LayerNorms: :math:`2 C N`;

    plus the patch embedding :math:`HW \, C \, c_{in} p^2` and the linear
    classifier :math:`C \cdot \text{classes}`.

    Args:
        msa_gates (Tensor): (L, 3) cumulated gates of the L blocks.
        ffn_gates (Tensor): (L, hidden) FFN gates.
        embed_dims (int): C.
        num_heads (int): Heads.
        num_patches (int): HW.
        num_extra_tokens (int): E (class / distillation tokens).
            Defaults to 1.
        in_channels (int): Image channels. Defaults to 3.
        patch_size (int): Patch size p. Defaults to 16.
        num_classes (int): Classes of the linear head. Defaults to 1000.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Total, attention and FFN FLOPs.
    """
    C, n, hw = embed_dims, num_patches + num_extra_tokens, num_patches
    d = C // num_heads
    _check_tensor(msa_gates, 'msa_gates', dim=2, layout='(L, 3)')
    _check_tensor(ffn_gates, 'ffn_gates', dim=2, layout='(L, hidden)')
    if msa_gates.size(1) != 3 or ffn_gates.size(0) != msa_gates.size(0):
        raise ValueError(
            f'msa_gates must be (L, 3) and ffn_gates (L, hidden) for the '
            f'same L blocks, got {tuple(msa_gates.shape)} and '
            f'{tuple(ffn_gates.shape)}')
    f1 = (C * d + d * C) * hw
    f3 = (9 * C * d + d * C) * hw
    fmsa = 4 * n * C**2 + 2 * C * n**2
    g = msa_gates.double()
    att = (g[:, 0] * f1 + g[:, 1] * (f3 - f1) + g[:, 2] * (fmsa - f3)).sum()
    ffn = 2 * hw * C * ffn_gates.double().sum()
    depth = msa_gates.size(0)
    const = hw * C * in_channels * patch_size**2 + C * num_classes + \
        depth * 2 * C * n
    return att + ffn + const, att, ffn


def arch_gates(msa_choices: Sequence[str], ffn_hidden: Sequence[int],
               hidden_features: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The 0/1 gates of a fixed architecture (the arguments of
    :class:`mmvitplug.SPViT`), for :func:`spvit_flops`: (L, 3) cumulated
    attention gates (``'skip'`` 000, ``'conv1x1'`` 100, ``'conv3x3'`` 110,
    ``'msa'`` 111) and (L, ``hidden_features``) FFN gates, the first
    ``ffn_hidden[i]`` open."""
    from mmvitplug.layers import MSA_CHOICES, check_msa_choices
    check_msa_choices(msa_choices, len(msa_choices))
    if len(ffn_hidden) != len(msa_choices) or any(
            not 0 <= h <= hidden_features for h in ffn_hidden):
        raise ValueError(
            f'ffn_hidden must give one count in [0, {hidden_features}] per '
            f'block ({len(msa_choices)}), got {list(ffn_hidden)!r}')
    msa = torch.tensor([[1. if j < MSA_CHOICES.index(c) else 0.
                         for j in range(3)] for c in msa_choices])
    ffn = (torch.arange(hidden_features)[None] <
           torch.tensor(list(ffn_hidden))[:, None]).float()
    return msa, ffn


@MODELS.register_module()
class SPViTFLOPsLoss(nn.Module):
    r"""FLOPs-target loss of SPViT:
    :math:`\lambda \, (T - \mathrm{FLOPs}(g, f) / 10^9)^2` with the FLOPs
    of :func:`spvit_flops` of the gate indicators (the official
    ``calculate_bops_loss``), T the target GFLOPs.

    The indicators are those :class:`mmvitplug.SPViTSupernet` sends through
    its recording points ``backbone.msa_gates`` / ``backbone.ffn_gates``:
    :math:`[\sigma(\theta) > 0.5]` with the gradient of
    :math:`\sigma(\sigma(\theta) - 0.5)`, so the loss moves the thresholds
    only.

    Args:
        target_gflops (float): T (official ``target_flops``: 1.0 DeiT-Ti,
            3.2 DeiT-S).
        embed_dims (int): Token dims of the DeiT.
        num_heads (int): Its heads.
        num_patches (int): Its patch tokens (196 at 224 px, patch 16).
        num_extra_tokens (int): Its class / distillation tokens.
            Defaults to 1.
        in_channels (int): Image channels. Defaults to 3.
        patch_size (int): Patch size. Defaults to 16.
        num_classes (int): Classes of the head. Defaults to 1000.
        loss_weight (float): :math:`\lambda` (official ``loss_lambda``: 20
            DeiT-Ti, 3 DeiT-S). Defaults to 20.0.
    """

    def __init__(self,
                 target_gflops: float,
                 embed_dims: int,
                 num_heads: int,
                 num_patches: int,
                 num_extra_tokens: int = 1,
                 in_channels: int = 3,
                 patch_size: int = 16,
                 num_classes: int = 1000,
                 loss_weight: float = 20.0):
        super().__init__()
        if isinstance(target_gflops, bool) or not isinstance(
                target_gflops, (int, float)) or not target_gflops > 0:
            raise ValueError(
                f'target_gflops must be a number > 0, got {target_gflops!r}')
        self.target_gflops = float(target_gflops)
        self.embed_dims = _check_int(embed_dims, 'embed_dims', 1)
        self.num_heads = _check_int(num_heads, 'num_heads', 1)
        if embed_dims % num_heads:
            raise ValueError(f'num_heads ({num_heads}) must divide '
                             f'embed_dims ({embed_dims})')
        self.num_patches = _check_int(num_patches, 'num_patches', 1)
        self.num_extra_tokens = _check_int(num_extra_tokens,
                                           'num_extra_tokens', 0)
        self.in_channels = _check_int(in_channels, 'in_channels', 1)
        self.patch_size = _check_int(patch_size, 'patch_size', 1)
        self.num_classes = _check_int(num_classes, 'num_classes', 0)
        self.loss_weight = _check_loss_weight(loss_weight)

    def flops(self, msa_gates: torch.Tensor,
              ffn_gates: torch.Tensor) -> torch.Tensor:
        """Total FLOPs of the gates (:func:`spvit_flops`)."""
        return spvit_flops(
            msa_gates, ffn_gates, self.embed_dims, self.num_heads,
            self.num_patches, self.num_extra_tokens, self.in_channels,
            self.patch_size, self.num_classes)[0]

    def forward(self, msa_gates: torch.Tensor,
                ffn_gates: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            msa_gates (Tensor): (L, 3) cumulated attention indicators.
            ffn_gates (Tensor): (L, hidden) FFN indicators.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        gflops = self.flops(msa_gates, ffn_gates) / 1e9
        return (self.loss_weight *
                (self.target_gflops - gflops)**2).float()
