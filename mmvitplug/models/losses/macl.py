# Copyright (c) mmvitplug contributors.
"""Model-aware contrastive loss (MACL).

`Model-Aware Contrastive Learning: Towards Escaping the Dilemmas
<https://arxiv.org/abs/2207.07874>`_ (Huang et al., ICML 2023).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce

from mmvitplug.registry import MODELS


@MODELS.register_module()
class MACLLoss(nn.Module):
    r"""InfoNCE with an alignment-adaptive temperature and gradient
    reweighting, on the similarities of positives and negatives.

    For ``N`` anchors with positive similarity :math:`s^+_i` (``pos``,
    (N, 1)) and negative similarities :math:`s^-_{ik}` (``neg``, (N, K)),
    all cosine similarities:

    .. math::

        A = \operatorname{sg}\big(\tfrac{1}{N}\textstyle\sum_i s^+_i\big),
        \qquad \tau = \tau_0\,(1 + \alpha\,(A - A_0)),

        P_i = \frac{e^{s^+_i/\tau}}{e^{s^+_i/\tau} + \sum_k e^{s^-_{ik}/\tau}},
        \qquad V_i = \operatorname{sg}\Big(\frac{1}{1 - P_i}\Big),
        \qquad \mathcal{L} = -\frac{1}{N}\sum_i V_i \log P_i,

    where sg stops the gradient: the alignment :math:`A` only *sets* the
    temperature, and the reweighting :math:`V_i` (which undoes the
    :math:`(1 - P_i)` factor that shrinks InfoNCE's gradient as the positive
    wins, the paper's "gradient reduction") only scales each anchor's
    gradient. With ``alpha=0`` and ``reweight=False`` this is exactly
    mmpretrain's ``ContrastiveHead`` (cross-entropy on
    ``cat(pos, neg) / temperature`` with the positive as label 0).

    The formula is the one of the authors' code (``chenhaoxing/MACL``,
    ``macl.py``: linear temperature, ``V = 1 / (1 - P)``; read, not copied).
    Inferred here, where that code is silent: under distributed training
    :math:`A` is the mean over the *global* batch (each process's mean,
    averaged; the reference computes it per GPU, which only adds noise to
    :math:`\tau`); ``eps`` guards :math:`1 - P_i` against 0 (as lightly's
    ``MACLLoss``; the reference has none). The paper's ImageNet values of
    :math:`\tau_0, \alpha, A_0` are not in any released code: the defaults
    are lightly's (0.1, 0.5, 0).

    Args:
        temperature (float): Base temperature :math:`\tau_0` (> 0).
            Defaults to 0.1.
        alpha (float): Scaling :math:`\alpha` (>= 0) of the temperature's
            dependence on the alignment; 0 keeps :math:`\tau = \tau_0`.
            A step whose temperature comes out <= 0 (possible only when
            :math:`\alpha (1 + A_0) \geq 1`) raises an error.
            Defaults to 0.5.
        a0 (float): Alignment threshold :math:`A_0` in [-1, 1]: the
            temperature is :math:`\tau_0` when :math:`A = A_0`. Defaults
            to 0.
        reweight (bool): Multiply each anchor's loss by the detached
            :math:`V_i = 1 / (1 - P_i)`. Defaults to True.
        eps (float): Added to :math:`1 - P_i` before inverting it.
            Defaults to 1e-8.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 alpha: float = 0.5,
                 a0: float = 0.0,
                 reweight: bool = True,
                 eps: float = 1e-8,
                 loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'MACLLoss: temperature must be > 0, got '
                             f'{temperature}')
        if alpha < 0:
            raise ValueError(f'MACLLoss: alpha must be >= 0, got {alpha}')
        if not -1 <= a0 <= 1:
            raise ValueError(f'MACLLoss: a0 is a cosine similarity, in '
                             f'[-1, 1]; got {a0}')
        self.temperature = temperature
        self.alpha = alpha
        self.a0 = a0
        self.reweight = reweight
        self.eps = eps
        self.loss_weight = loss_weight

    @torch.no_grad()
    def alignment(self, pos: torch.Tensor) -> torch.Tensor:
        """Mean positive similarity over the (global) batch, detached."""
        alignment = pos.detach().mean()
        all_reduce(alignment, op='mean')  # in place; no-op undistributed
        return alignment

    def adaptive_temperature(self, alignment: torch.Tensor) -> torch.Tensor:
        """tau0 * (1 + alpha * (A - A0))."""
        return self.temperature * (1. + self.alpha * (alignment - self.a0))

    def forward(self, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """Loss of ``pos`` (N, 1) and ``neg`` (N, K) similarities."""
        if pos.dim() != 2 or pos.size(1) != 1 or neg.dim() != 2 or \
                neg.size(0) != pos.size(0):
            raise ValueError('MACLLoss expects pos (N, 1) and neg (N, K) '
                             f'similarities, got {tuple(pos.shape)} and '
                             f'{tuple(neg.shape)}')
        alignment = self.alignment(pos)
        tau = self.adaptive_temperature(alignment)
        if tau <= 0:
            raise ValueError(
                f'MACLLoss: the temperature tau0 * (1 + alpha * (A - a0)) = '
                f'{float(tau):.4g} <= 0 at alignment A = '
                f'{float(alignment):.4g} (tau0={self.temperature}, '
                f'alpha={self.alpha}, a0={self.a0}); lower alpha or a0')
        logits = torch.cat([pos, neg], dim=1)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()  # the softmax in fp32 under autocast
        logits = logits / tau
        log_p = F.log_softmax(logits, dim=1)[:, 0]
        loss = -log_p
        if self.reweight:
            weight = 1. / (1. - log_p.detach().exp() + self.eps)
            loss = weight * loss
        return self.loss_weight * loss.mean()
