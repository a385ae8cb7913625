# Copyright (c) mmvitplug contributors.
"""The DynamicViT-specific loss terms (`Rao et al. 2021
<https://arxiv.org/abs/2106.02034>`_, official ``losses.py``,
``DistillDiffPruningLoss_dynamic``): the keep-ratio loss and the token
distillation on the kept tokens. The label cross-entropy and the logit
distillation are the shared losses (``CrossEntropyLoss`` /
``LabelSmoothLoss``, :class:`~mmvitplug.models.losses.KLDivergenceLoss`),
all wired by the distiller (see ``configs/dynamic_vit``)."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn

from mmvitplug.layers import keep_ratios
from mmvitplug.registry import MODELS
from .kd import _check_loss_weight, _check_same_shape, _check_tensor


@MODELS.register_module()
class DynamicViTRatioLoss(nn.Module):
    r"""Keep-ratio loss of DynamicViT: the kept fraction of each sample at
    each pruning location pulled to its target.

    .. math::
        \mathcal{L} = w \cdot \frac{1}{S} \sum_{l=1}^{S} \frac{1}{B}
        \sum_{b=1}^{B} \Big(\frac{1}{N} \sum_{n=1}^{N} D^l_{b,n}
        - \rho_l\Big)^2

    over the S hard keep decisions :math:`D^l` (B, N) of
    :class:`mmvitplug.DynamicViT` (recorded at
    ``backbone.keep_decisions.{l}``), as the official loss
    (``ratio_weight * pred_loss / len(pruning_loc)``, the per-sample
    ``score.mean(1)``).

    Args:
        keep_ratio (float | Sequence[float]): ``rho`` in (0, 1], the target
            at location ``l`` being ``rho ** (l + 1)``, or the targets
            themselves (non-increasing); as the backbone's ``keep_ratio``.
            Defaults to 0.7.
        num_locations (int): Number S of pruning locations (decisions).
            Defaults to 3.
        loss_weight (float): ``w`` (the official ``ratio_weight``: 2.0, 5.0
            for DeiT-B). Defaults to 2.0.
    """

    def __init__(self,
                 keep_ratio: Union[float, Sequence[float]] = 0.7,
                 num_locations: int = 3,
                 loss_weight: float = 2.0):
        super().__init__()
        if isinstance(num_locations, bool) or not isinstance(
                num_locations, int) or num_locations < 1:
            raise ValueError(
                f'num_locations must be an int >= 1, got {num_locations!r}')
        self.keep_ratios = keep_ratios(keep_ratio, num_locations)
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, decisions: List[torch.Tensor]) -> torch.Tensor:
        """Compute the loss.

        Args:
            decisions (list[Tensor]): The keep decisions (B, N) (or
                (B, N, 1)) of the locations, in order.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        if not isinstance(decisions, (list, tuple)) or \
                len(decisions) != len(self.keep_ratios):
            what = (f'a list of {len(decisions)}' if isinstance(
                decisions, (list, tuple)) else type(decisions).__name__)
            raise ValueError(
                f'DynamicViTRatioLoss takes the {len(self.keep_ratios)} keep '
                f'decisions (one per pruning location), got {what}')
        loss = 0.
        for i, (d, rho) in enumerate(zip(decisions, self.keep_ratios)):
            _check_tensor(d, f'decisions[{i}]', min_dim=2, layout='(B, N)')
            kept = d.float().flatten(1).mean(dim=1)
            loss = loss + ((kept - rho)**2).mean()
        return self.loss_weight * loss / len(self.keep_ratios)


@MODELS.register_module()
class KeptTokenMSELoss(nn.Module):
    r"""Token distillation of DynamicViT: the mean squared error between
    the student's and the teacher's final (normalised) patch tokens, over
    the tokens the student kept.

    .. math::
        \mathcal{L} = w \cdot \frac{1}{C \sum_{b,n} D_{b,n}}
        \sum_{b,n} D_{b,n} \, \lVert t^s_{b,n} - t^t_{b,n} \rVert^2

    with the final keep decision :math:`D` (B, N), thresholded at 0.5 and
    detached (the official ``mask``): the official ``mse_token`` term of
    DeiT students; zero when no token is kept. The patch tokens are the
    *last* N tokens of ``preds`` / ``target`` (B, L, C), L >= N, so the
    class / distillation tokens in front are left out whatever their number
    (e.g. both networks' final-norm outputs: ``backbone.vit.norm``,
    ``teacher.backbone.norm``).

    Args:
        loss_weight (float): ``w`` (the official ``distill_weight`` 0.5).
            Defaults to 1.0.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, preds: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            preds (Tensor): Student tokens (B, L, C).
            target (Tensor): Teacher tokens (B, L, C); detached.
            mask (Tensor): Keep decision of the N patch tokens (B, N) or
                (B, N, 1); detached.

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        _check_tensor(preds, 'preds', dim=3, layout='(B, L, C)')
        _check_tensor(target, 'target', dim=3, layout='(B, L, C)')
        _check_same_shape(preds, target, 'student tokens (preds) and '
                          'teacher tokens (target)')
        _check_tensor(mask, 'mask', min_dim=2, layout='(B, N)')
        keep = mask.detach().flatten(1) > 0.5
        B, N = keep.shape
        if B != preds.size(0) or N > preds.size(1):
            raise ValueError(
                f'mask {tuple(mask.shape)} does not fit tokens '
                f'{tuple(preds.shape)}: it needs one value per patch token '
                '(the last N of the L tokens)')
        student = preds[:, -N:].float()[keep]
        teacher = target[:, -N:].detach().float()[keep]
        if student.numel() == 0:
            return preds.float().sum() * 0.
        return self.loss_weight * ((student - teacher)**2).mean()
