# Copyright (c) mmvitplug contributors.
"""The FLOPs constraint of the `Dynamic Resolution Network
<https://arxiv.org/abs/2106.02898>`_ (DRNet, Zhu et al., NeurIPS 2021):
the expected cost of the resolutions the predictor chose pulled to a
target. The classification term is the head's own loss on the logits of
the chosen resolutions (:class:`mmvitplug.DRNetClassifier`)."""
import math
from numbers import Real

import torch
import torch.nn as nn

from mmvitplug.registry import MODELS
from .kd import _check_loss_weight, _check_tensor


@MODELS.register_module()
class DRNetFLOPsLoss(nn.Module):
    r"""FLOPs constraint regularisation of DRNet.

    .. math::
        F = \frac{1}{B} \sum_{b=1}^{B} \sum_{j=1}^{m} h_{b,j} C_j, \qquad
        \mathcal{L}_{reg} = \eta \Big(\frac{F}{\alpha} - 1\Big)^2,
        \qquad \alpha = t \cdot \max_j C_j

    with the hard (straight-through) one-hot choices :math:`h` (B, m) of
    the resolution predictor, the classifier's cost :math:`C_j` at
    candidate resolution :math:`j` and the target :math:`\alpha`, a
    fraction ``target`` of the cost at the largest resolution (the paper's
    Eq. 6-7, its :math:`\alpha` given in FLOPs). The batch's average cost
    is pulled to the target from both sides: choosing cheaper resolutions
    than the target is penalised too. The gradient reaches the predictor
    through :math:`h` (``d L / d h_{b,j} = 2 \eta (F / \alpha - 1) C_j /
    (\alpha B)``). No official training code exists (the MindSpore
    release is an evaluation script): the form is the paper's.

    Args:
        target (float): :math:`t` in (0, 1], the target average cost as a
            fraction of the cost at the largest resolution. Defaults to
            0.6.
        loss_weight (float): :math:`\eta`, >= 0. Defaults to 1.0.
    """

    def __init__(self, target: float = 0.6, loss_weight: float = 1.0):
        super().__init__()
        if isinstance(target, bool) or not isinstance(target, Real) or \
                not math.isfinite(target) or not 0 < target <= 1:
            raise ValueError(
                'target must be a number in (0, 1] (the target average cost '
                'as a fraction of the cost at the largest resolution), got '
                f'{target!r}')
        self.target = float(target)
        self.loss_weight = _check_loss_weight(loss_weight)

    def forward(self, decisions: torch.Tensor,
                flops: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            decisions (Tensor): The one-hot (or soft) choices (B, m).
            flops (Tensor): The cost of each candidate resolution (m,), in
                any unit (only ratios matter).

        Returns:
            Tensor: The weighted loss, a float32 scalar.
        """
        _check_tensor(decisions, 'decisions', dim=2, layout='(B, m)')
        _check_tensor(flops, 'flops', dim=1, layout='(m,)')
        if decisions.size(1) != flops.numel():
            raise ValueError(
                f'decisions {tuple(decisions.shape)} and flops '
                f'{tuple(flops.shape)} differ in the number of resolutions')
        if not bool((flops > 0).all()):
            raise ValueError(f'flops must be > 0, got {flops.tolist()}')
        flops = flops.detach().float().to(decisions.device)
        alpha = self.target * flops.max()
        expected = (decisions.float() * flops).sum(1).mean()
        return self.loss_weight * (expected / alpha - 1)**2
