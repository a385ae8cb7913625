# Copyright (c) mmvitplug contributors.
"""The PAWS objective: soft nearest-neighbour pseudo-labels of views,
sharpened targets and mean-entropy maximisation."""
from typing import Any, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_rank, get_world_size

from mmvitplug.registry import MODELS


class _GatherSumGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every process's gradient
    of the local slice (the official ``AllGather``), so that DDP's mean of
    the parameter gradients is the gradient of the mean of the processes'
    losses, cross-process terms included. mmpretrain's ``GatherLayer``
    keeps only the local process's gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.size = x.shape[0]
        return torch.cat(all_gather(x.contiguous()), dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        torch_dist.all_reduce(grad)
        start = get_rank() * ctx.size
        return grad[start:start + ctx.size]


class _MeanIdentityGrad(torch.autograd.Function):
    """Mean over processes whose backward is the identity (the official
    ``AllReduce``): each process's copy of a global term then sends its
    full gradient to its own inputs, and DDP's mean over processes gives
    the gradient of the global term."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous() / get_world_size()
        torch_dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` of every process along dim 0 (rank order); the
    gradient of the local slice is summed over processes. ``x`` itself when
    not distributed."""
    if get_world_size() == 1:
        return x
    return _GatherSumGrad.apply(x)


def mean_over_processes(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over processes, identity gradient; ``x`` itself when
    not distributed."""
    if get_world_size() == 1:
        return x
    return _MeanIdentityGrad.apply(x)


def sharpen(p: torch.Tensor, temperature: float) -> torch.Tensor:
    """``p ** (1 / T)`` renormalised over the last dim (PAWS Eq. 3)."""
    sharp = p**(1. / temperature)
    return sharp / sharp.sum(dim=-1, keepdim=True)


def snn(queries: torch.Tensor, supports: torch.Tensor, labels: torch.Tensor,
        tau: float) -> torch.Tensor:
    """Soft nearest-neighbour class scores (PAWS Eq. 1)::

        softmax(normalize(queries) @ normalize(supports).T / tau) @ labels

    Args:
        queries (Tensor): (N, D) embeddings.
        supports (Tensor): (S, D) labelled embeddings.
        labels (Tensor): (S, K) their (soft) labels.
        tau (float): Similarity temperature.

    Returns:
        Tensor: (N, K) class probabilities (rows of ``labels`` mixed).
    """
    sim = F.normalize(queries, dim=1) @ F.normalize(supports, dim=1).T
    return (sim / tau).softmax(dim=1) @ labels


def support_label_matrix(labels: torch.Tensor,
                         smoothing: float = 0.1) -> torch.Tensor:
    """The smoothed one-hot label matrix of a support batch.

    Column ``j`` is the ``j``-th distinct class in order of first appearance,
    so for a class-ordered batch (``[c_1, ..., c_C]`` repeated, as
    :class:`mmvitplug.PAWSBatchSampler` and the official
    ``ClassStratifiedSampler`` give) this is the official fixed matrix of
    ``make_labels_matrix``: ``1 - smoothing + smoothing / C`` on the class,
    ``smoothing / C`` elsewhere, with ``C`` the number of distinct classes
    in the (gathered) support batch. Built from the true labels, it stays
    right for any order.

    Args:
        labels (Tensor): (S, ) class indices of the supports.
        smoothing (float): Label smoothing in [0, 1). Defaults to 0.1.

    Returns:
        Tensor: (S, C) float matrix.
    """
    if not 0 <= smoothing < 1:
        raise ValueError(f'label smoothing must be in [0, 1), got '
                         f'{smoothing}')
    columns = {}  # class -> column, in order of first appearance
    cols = [columns.setdefault(c, len(columns))
            for c in labels.flatten().tolist()]
    off = smoothing / len(columns)
    matrix = torch.full((len(cols), len(columns)), off,
                        device=labels.device)
    matrix[torch.arange(len(cols)), cols] = 1. - smoothing + off
    return matrix


@MODELS.register_module()
class PAWSLoss(nn.Module):
    r"""Loss of `PAWS <https://arxiv.org/abs/2104.13963>`_ (Assran et al.
    2021), as the official ``init_paws_loss`` (facebookresearch/suncet).

    For ``B`` unlabelled images with two large views and ``M`` small
    (multi-crop) views:

    - anchor predictions ``p = snn(anchor_views, anchor_supports, Y)`` for
      all ``B * (2 + M)`` views, with :func:`snn` (temperature ``tau``);
    - targets from the two large views only, without gradient: ``t =
      sharpen(snn(target_views, target_supports, Y), T)``, the halves
      swapped (view 1 is predicted from view 2's target and vice versa);
      each small view of an image gets the mean of that image's two large
      targets; entries below ``zero_below`` are set to 0 (official: 1e-4,
      "numerical stability"; the rows are not renormalised, as official);
    - ``loss_paws = mean_i sum_k -t_ik log p_ik``;
    - with ``me_max``: ``loss_me_max = sum_k pbar_k log pbar_k`` (minus the
      entropy of ``pbar``, so that minimising it spreads the predictions
      over classes), ``pbar`` = the mean of ``sharpen(p, T)`` over all
      anchor views, averaged over processes (identity gradient, as the
      official ``AllReduce``).

    The supports are gathered from every process before the nearest-
    neighbour step (the anchors' with gradient summed over processes, as
    the official ``AllGather``); ``support_labels`` must be the labels of
    the gathered supports (see :func:`support_label_matrix`). Computed in
    float32 (the official code leaves autocast for the loss).

    Args:
        tau (float): Similarity temperature of the soft nearest neighbours.
            Defaults to 0.1 (paper and official configs).
        sharpen_temperature (float): Target sharpening temperature ``T``.
            Defaults to 0.25.
        me_max (bool): Add the mean-entropy maximisation term. Defaults to
            True.
        zero_below (float): Targets below this are set to 0; 0 keeps them.
            Defaults to 1e-4 (official).
        loss_weight (float): Weight of both terms. Defaults to 1.0.
    """

    def __init__(self,
                 tau: float = 0.1,
                 sharpen_temperature: float = 0.25,
                 me_max: bool = True,
                 zero_below: float = 1e-4,
                 loss_weight: float = 1.0):
        super().__init__()
        for name, value in (('tau', tau),
                            ('sharpen_temperature', sharpen_temperature)):
            if value <= 0:
                raise ValueError(f'{name} must be positive, got {value}')
        if zero_below < 0:
            raise ValueError(f'zero_below must be >= 0, got {zero_below}')
        self.tau = tau
        self.sharpen_temperature = sharpen_temperature
        self.me_max = me_max
        self.zero_below = zero_below
        self.loss_weight = loss_weight

    def targets(self, target_views: torch.Tensor,
                target_supports: torch.Tensor, support_labels: torch.Tensor,
                num_small: int) -> torch.Tensor:
        """Sharpened, swapped targets of all ``B * (2 + num_small)`` views
        from the ``2B`` large target views (view 1 of every image, then view
        2), without gradient."""
        with torch.no_grad():
            supports = torch.cat(all_gather(target_supports.contiguous()))\
                if get_world_size() > 1 else target_supports
            t = sharpen(
                snn(target_views, supports, support_labels, self.tau),
                self.sharpen_temperature)
            first, second = t.chunk(2)
            t = torch.cat([second, first])  # view 1 predicts view 2's target
            if num_small > 0:
                mean = 0.5 * (first + second)
                t = torch.cat([t] + [mean] * num_small)
            return t.masked_fill(t < self.zero_below, 0.)

    def forward(self, anchor_views: torch.Tensor,
                anchor_supports: torch.Tensor, support_labels: torch.Tensor,
                target_views: torch.Tensor,
                target_supports: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The PAWS terms.

        Args:
            anchor_views (Tensor): (B * (2 + M), D) anchors of every view:
                large view 1 of the ``B`` images, large view 2, then the
                ``M`` small views, each a block of ``B``.
            anchor_supports (Tensor): (S_local, D) anchors of this process's
                supports.
            support_labels (Tensor): (S, K) labels of the supports of all
                processes (``S = S_local * world size``).
            target_views (Tensor): (2B, D) target embeddings of the two
                large views (view 1 block, then view 2); used without
                gradient.
            target_supports (Tensor): (S_local, D) target embeddings of this
                process's supports; used without gradient.

        Returns:
            tuple[Tensor, Tensor]: ``loss_paws`` and ``loss_me_max`` (0 when
            ``me_max`` is off), each multiplied by ``loss_weight``.
        """
        if target_views.shape[0] % 2:
            raise ValueError('target_views must hold the two large views of '
                             f'each image; got {target_views.shape[0]} rows')
        batch = target_views.shape[0] // 2
        if batch == 0 or anchor_views.shape[0] % batch or \
                anchor_views.shape[0] < 2 * batch:
            raise ValueError(
                f'anchor_views ({anchor_views.shape[0]} rows) must hold '
                f'2 + M views of the {batch} images of target_views')
        num_small = anchor_views.shape[0] // batch - 2
        with torch.autocast(anchor_views.device.type, enabled=False):
            anchor_views = anchor_views.float()
            supports = gather_with_grad(anchor_supports.float())
            labels = support_labels.float()
            if supports.shape[0] != labels.shape[0]:
                raise ValueError(
                    f'{labels.shape[0]} support labels for '
                    f'{supports.shape[0]} gathered supports')
            probs = snn(anchor_views, supports, labels, self.tau)
            targets = self.targets(target_views.float(),
                                   target_supports.float(), labels,
                                   num_small)
            loss = -torch.xlogy(targets, probs).sum(dim=1).mean()
            me_max = probs.new_zeros(())
            if self.me_max:
                avg = mean_over_processes(
                    sharpen(probs, self.sharpen_temperature).mean(dim=0))
                me_max = torch.xlogy(avg, avg).sum()
        return self.loss_weight * loss, self.loss_weight * me_max
