# Copyright (c) mmvitplug contributors.
"""MixSKD: self-knowledge distillation from Mixup images."""
from numbers import Real
from typing import List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.layers import grad_reverse
from mmvitplug.registry import MODELS
from .kd import KLDivergenceLoss, _check_loss_weight


def mix_pairs(x: torch.Tensor, lam: float,
              perm: torch.Tensor) -> torch.Tensor:
    """``lam * x[:N] + (1 - lam) * x[perm]``: what the first ``N`` samples of
    ``x`` give when interpolated with their Mixup partners ``perm`` (N,).

    ``x`` may hold more than ``N`` samples (MixSKD's clean and mixed images
    in one batch): the partners are taken from the first ``N``.
    """
    n = perm.numel()
    return lam * x[:n] + (1 - lam) * x[perm]


def _soft_ce(logits: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with target scores (N, C), mean over the samples."""
    return -(scores * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


class _Discriminator(nn.Sequential):
    """MixSKD's per-path discriminator: Linear - ReLU - Linear to 2 logits
    (interpolated / mixed) of globally average-pooled feature maps."""

    def __init__(self, in_channels: int, hidden: int):
        super().__init__(
            nn.Linear(in_channels, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, 2))


@MODELS.register_module()
class MixSKDLoss(nn.Module):
    r"""The losses of `MixSKD <https://arxiv.org/abs/2208.05768>`_
    (Yang et al., ECCV 2022), in the formulation of the official ImageNet
    script (``main_mixskd_imagenet.py``).

    A network with ``P`` classifier paths (auxiliary branches and the final
    classifier, :class:`mmvitplug.MixSKDClassifier`) sees a batch of ``N``
    images :math:`x` and their Mixup :math:`\tilde x = \lambda x + (1 -
    \lambda) x_\pi` in one batch of ``2N``. For path :math:`k`, :math:`z_k`
    are the logits of :math:`x` and :math:`\tilde z_k` those of
    :math:`\tilde x`; :math:`z^I_k = \lambda z_k + (1 - \lambda) z_{k,\pi}`
    interpolates the clean logits (:func:`mix_pairs`); :math:`F^I_k,
    F^M_k` are the path's last feature maps, interpolated and of the Mixup
    images; :math:`g^I, g^M` the self-teacher (ensemble) head's logits of
    :math:`[F^I_k]_k` and :math:`[F^M_k]_k`. Then, every term summed over
    its paths:

    - ``loss_cls``: :math:`\sum_k \mathrm{CE}(z_k, y)`;
    - ``loss_mixup_cls``: :math:`\sum_k \mathrm{CE}(\tilde z_k, \tilde y) +
      \mathrm{CE}(g^I, \tilde y) + \mathrm{CE}(g^M, \tilde y)`, with
      :math:`\tilde y = \lambda y + (1 - \lambda) y_\pi` (the official
      CIFAR script computes this term and never adds it: the self-teacher
      head would not train; the ImageNet script adds it, as here);
    - ``loss_kd``: :math:`\mathrm{KL}(g^M \| z^I_P) + \mathrm{KL}(g^I \|
      \tilde z_P) + \sum_{k<P} \mathrm{KL}(\tilde z_k \| z^I_k) +
      \mathrm{KL}(z^I_k \| \tilde z_k)`, each :class:`KLDivergenceLoss`
      at temperature ``tau`` times :math:`\tau^2`, the target side
      detached;
    - ``loss_feat``: :math:`\sum_k \mathrm{MSE}(F^I_k, F^M_k)`, both sides
      trained;
    - ``loss_adv``: :math:`\sum_k \mathrm{BCE}(D_k([\bar F^I_k; \bar
      F^M_k]), [1, 0]^N [0, 1]^N)` over the globally average-pooled maps,
      with one discriminator :math:`D_k` per path (Linear - ReLU - Linear,
      ``disc_hidden`` wide), held by this loss: registered, trained and
      saved (the official ones sit in a plain Python list: never optimised
      nor saved). With ``adversarial=True`` the maps reach the
      discriminators through a gradient reversal (:func:`grad_reverse`), so
      the discriminators learn to tell interpolated from Mixup features and
      the network learns to make them indistinguishable, the adversarial
      game the paper describes; ``adversarial=False`` is the official
      code's sign, where the network minimises the discriminators' loss
      too.

    Args:
        feat_channels (Sequence[int]): Channels of each path's feature maps,
            one per path (sets the number of discriminators).
        tau (float): KL temperature. Defaults to 3.0 (official ``kd_T``).
        disc_hidden (int): Hidden width of the discriminators. Defaults to
            128 (official).
        adversarial (bool): Whether the network's features get the reversed
            gradient of ``loss_adv``. Defaults to True.
        cls_weight (float): Weight of ``loss_cls``. Defaults to 1.0.
        mixup_cls_weight (float): Weight of ``loss_mixup_cls``. Defaults
            to 1.0.
        kd_weight (float): Weight of ``loss_kd``. Defaults to 1.0.
        feat_weight (float): Weight of ``loss_feat``. Defaults to 1.0.
        adv_weight (float): Weight of ``loss_adv``. Defaults to 1.0.
    """

    def __init__(self,
                 feat_channels: Sequence[int],
                 tau: float = 3.0,
                 disc_hidden: int = 128,
                 adversarial: bool = True,
                 cls_weight: float = 1.0,
                 mixup_cls_weight: float = 1.0,
                 kd_weight: float = 1.0,
                 feat_weight: float = 1.0,
                 adv_weight: float = 1.0):
        super().__init__()
        if isinstance(feat_channels, (str, bytes)) or not isinstance(
                feat_channels, Sequence) or len(feat_channels) < 2 or any(
                    isinstance(c, bool) or not isinstance(c, int) or c < 1
                    for c in feat_channels):
            raise ValueError(
                'feat_channels must list the channels of each path (at '
                'least one auxiliary branch and the final classifier) as '
                f'positive ints, got {feat_channels!r}')
        if isinstance(disc_hidden, bool) or not isinstance(
                disc_hidden, int) or disc_hidden < 1:
            raise ValueError(
                f'disc_hidden must be a positive int, got {disc_hidden!r}')
        if not isinstance(adversarial, bool):
            raise TypeError(
                f'adversarial must be True or False, got {adversarial!r}')
        self.feat_channels = tuple(feat_channels)
        self.kd = KLDivergenceLoss(tau=tau, tau_squared=True)
        self.adversarial = adversarial
        self.discriminators = nn.ModuleList(
            _Discriminator(c, disc_hidden) for c in self.feat_channels)
        self.weights = {
            name: _check_loss_weight(w, arg)
            for name, arg, w in (
                ('loss_cls', 'cls_weight', cls_weight),
                ('loss_mixup_cls', 'mixup_cls_weight', mixup_cls_weight),
                ('loss_kd', 'kd_weight', kd_weight),
                ('loss_feat', 'feat_weight', feat_weight),
                ('loss_adv', 'adv_weight', adv_weight))
        }

    @property
    def num_paths(self) -> int:
        """Number of classifier paths (branches and the final one)."""
        return len(self.feat_channels)

    def _check(self, logits, feats_interp, feats_mixed, target, lam,
               perm) -> int:
        p = self.num_paths
        for name, value in (('logits', logits),
                            ('feats_interp', feats_interp),
                            ('feats_mixed', feats_mixed)):
            if not isinstance(value, (list, tuple)) or len(value) != p:
                got = (f'{len(value)}' if isinstance(value, (list, tuple))
                       else type(value).__name__)
                raise ValueError(
                    f'{name} must hold one tensor per path ({p}: '
                    f'feat_channels={list(self.feat_channels)}), got {got}')
        n = perm.numel()
        for k, (z, fi, fm) in enumerate(zip(logits, feats_interp,
                                            feats_mixed)):
            if z.dim() != 2 or z.size(0) != 2 * n:
                raise ValueError(
                    f'logits[{k}] must be (2N, classes) = ({2 * n}, C): the '
                    f'clean and the Mixup images, got {tuple(z.shape)}')
            if fi.shape != fm.shape or fi.dim() != 4 or fi.size(0) != n \
                    or fi.size(1) != self.feat_channels[k]:
                raise ValueError(
                    f'feats_interp[{k}] and feats_mixed[{k}] must both be '
                    f'(N, {self.feat_channels[k]}, H, W) with N = {n}, got '
                    f'{tuple(fi.shape)} and {tuple(fm.shape)}')
        if target.dim() not in (1, 2) or target.size(0) != n:
            raise ValueError(
                f'target must be labels ({n},) or scores ({n}, C), got '
                f'{tuple(target.shape)}')
        if isinstance(lam, bool) or not isinstance(lam, Real) or \
                not 0 <= lam <= 1:
            raise ValueError(f'lam must be a number in [0, 1], got {lam!r}')
        return n

    def forward(self, logits: List[torch.Tensor],
                feats_interp: List[torch.Tensor],
                feats_mixed: List[torch.Tensor],
                ensemble_interp: torch.Tensor,
                ensemble_mixed: torch.Tensor, target: torch.Tensor,
                lam: Union[float, torch.Tensor],
                perm: torch.Tensor) -> dict:
        """Compute the terms.

        Args:
            logits (list[Tensor]): Logits of each path (2N, C): the ``N``
                clean images, then their ``N`` Mixup images; the final
                classifier last.
            feats_interp (list[Tensor]): Each path's last maps of the clean
                images interpolated with their partners (N, C_k, H, W).
            feats_mixed (list[Tensor]): Each path's last maps of the Mixup
                images (N, C_k, H, W).
            ensemble_interp (Tensor): The self-teacher head's logits of
                ``feats_interp`` (N, C).
            ensemble_mixed (Tensor): Its logits of ``feats_mixed`` (N, C).
            target (Tensor): Labels (N,) or target scores (N, C).
            lam (float): The Mixup ratio.
            perm (Tensor): The Mixup partner of each image (N,).

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_mixup_cls``,
            ``loss_kd``, ``loss_feat`` and ``loss_adv``, weighted.
        """
        n = self._check(logits, feats_interp, feats_mixed, target, lam, perm)
        num_classes = logits[0].size(1)
        scores = target.float() if target.dim() == 2 else F.one_hot(
            target, num_classes).float()
        mixed_scores = mix_pairs(scores, lam, perm)

        loss_cls = sum(_soft_ce(z[:n], scores) for z in logits)
        loss_mixup_cls = sum(_soft_ce(z[n:], mixed_scores) for z in logits)
        loss_mixup_cls = loss_mixup_cls + _soft_ce(
            ensemble_interp, mixed_scores) + _soft_ce(ensemble_mixed,
                                                      mixed_scores)

        interp = [mix_pairs(z, lam, perm) for z in logits]
        mixed = [z[n:] for z in logits]
        loss_kd = self.kd(preds=interp[-1], target=ensemble_mixed) + \
            self.kd(preds=mixed[-1], target=ensemble_interp)
        for zi, zm in zip(interp[:-1], mixed[:-1]):
            loss_kd = loss_kd + self.kd(preds=zi, target=zm) + \
                self.kd(preds=zm, target=zi)

        loss_feat = sum(
            F.mse_loss(fi.float(), fm.float())
            for fi, fm in zip(feats_interp, feats_mixed))

        side = torch.cat([torch.ones(n), torch.zeros(n)]).to(logits[0])
        disc_target = torch.stack([side, 1 - side], dim=1)
        loss_adv = 0
        for disc, fi, fm in zip(self.discriminators, feats_interp,
                                feats_mixed):
            pooled = torch.cat([fi, fm]).float().mean((2, 3))
            if self.adversarial:
                pooled = grad_reverse(pooled)
            loss_adv = loss_adv + F.binary_cross_entropy_with_logits(
                disc(pooled), disc_target)

        terms = dict(
            loss_cls=loss_cls,
            loss_mixup_cls=loss_mixup_cls,
            loss_kd=loss_kd,
            loss_feat=loss_feat,
            loss_adv=loss_adv)
        return {k: self.weights[k] * v for k, v in terms.items()}
