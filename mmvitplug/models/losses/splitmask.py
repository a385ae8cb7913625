# Copyright (c) mmvitplug contributors.
"""SplitMask's loss: inpainting of each subset from the other, plus InfoNCE
between the two subsets' global descriptors."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.registry import MODELS


@MODELS.register_module()
class SplitMaskLoss(nn.Module):
    r"""Loss of `SplitMask <https://arxiv.org/abs/2112.10740>`_.

    An image's patches are split into two disjoint subsets A and B (boolean
    ``in_a``, True for A). Branch A (the decoder fed with the encoding of A)
    predicts every patch; only its predictions of B's patches are scored,
    and vice versa::

        loss_rec = (mean_{patches of B} l(pred_a, target)
                    + mean_{patches of A} l(pred_b, target)) / 2

    ``l`` is the mean squared error over a patch's values for a regression
    target (B, N, C) (pixels, HOG) and the cross-entropy for a token target
    (B, N) of indices (a tokenizer's; ``pred`` are then logits). Means are
    over all scored patches of the batch.

    The global descriptors ``x_a``, ``x_b`` (B, D) of the two branches are
    matched by InfoNCE (CPC) with the other images of the batch as
    negatives::

        s_ij = <x_a^i, x_b^j> / temperature   (x L2-normalised if normalize)
        loss_nce = nce_weight * (CE(s, arange(B)) + CE(s^T, arange(B))) / 2

    (one direction only, ``CE(s, arange(B))``, with ``symmetric=False``).

    From the paper: the two inpainting directions and an InfoNCE term
    between the average-pooled decoder outputs of the two branches, the
    other images of the mini-batch being the negatives. Inferred (not in the
    text we could read): the temperature value, the L2 normalisation, the
    symmetric form, the equal weights of the terms, the averaging of the two
    directions, and that negatives are the local (per-process) batch.

    Args:
        temperature (float): InfoNCE temperature. Defaults to 0.1
            (inferred).
        nce_weight (float): Weight of the InfoNCE term; 0 leaves the
            inpainting alone. Defaults to 1.
        normalize (bool): L2-normalise the descriptors (cosine similarity).
            Defaults to True.
        symmetric (bool): Average the A->B and B->A InfoNCE directions.
            Defaults to True.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 nce_weight: float = 1.,
                 normalize: bool = True,
                 symmetric: bool = True):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        if not nce_weight >= 0:
            raise ValueError(f'nce_weight must be >= 0, got {nce_weight!r}')
        self.temperature = float(temperature)
        self.nce_weight = float(nce_weight)
        self.normalize = normalize
        self.symmetric = symmetric

    @staticmethod
    def reconstruction(pred: torch.Tensor, target: torch.Tensor,
                       scored: torch.Tensor) -> torch.Tensor:
        """Mean loss over the ``scored`` (B, N) patches.

        Args:
            pred (torch.Tensor): (B, N, C) predictions or logits.
            target (torch.Tensor): (B, N, C) float values or (B, N) token
                indices.
            scored (torch.Tensor): (B, N) bool, the patches to score.
        """
        if not scored.any():
            raise ValueError('SplitMaskLoss: no patch to score in a branch '
                             '(a subset is empty)')
        pred = pred.float()
        if target.dtype in (torch.int64, torch.int32):
            if target.shape != pred.shape[:2]:
                raise ValueError(
                    f'token targets {tuple(target.shape)} must be (B, N) of '
                    f'predictions {tuple(pred.shape)}')
            per_patch = F.cross_entropy(
                pred.flatten(0, 1), target.flatten().long(),
                reduction='none').view(target.shape)
        else:
            if target.shape != pred.shape:
                raise ValueError(
                    f'targets {tuple(target.shape)} and predictions '
                    f'{tuple(pred.shape)} differ in shape')
            per_patch = (pred - target.float()).pow(2).mean(dim=-1)
        return per_patch[scored].mean()

    def info_nce(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """InfoNCE of matched rows of ``x_a`` and ``x_b`` (B, D)."""
        x_a, x_b = x_a.float(), x_b.float()
        if self.normalize:
            x_a = F.normalize(x_a, dim=-1)
            x_b = F.normalize(x_b, dim=-1)
        logits = x_a @ x_b.t() / self.temperature
        labels = torch.arange(len(x_a), device=x_a.device)
        loss = F.cross_entropy(logits, labels)
        if self.symmetric:
            loss = (loss + F.cross_entropy(logits.t(), labels)) / 2
        return loss

    def forward(self, pred_a: torch.Tensor, pred_b: torch.Tensor,
                target: torch.Tensor, in_a: torch.Tensor, desc_a: torch.Tensor,
                desc_b: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Both terms.

        Args:
            pred_a (torch.Tensor): (B, N, C) predictions of branch A (made
                from subset A's encoding).
            pred_b (torch.Tensor): (B, N, C) predictions of branch B.
            target (torch.Tensor): (B, N, C) values or (B, N) token indices.
            in_a (torch.Tensor): (B, N) bool, True for the patches of A.
            desc_a (torch.Tensor): (B, D) global descriptor of branch A.
            desc_b (torch.Tensor): (B, D) global descriptor of branch B.

        Returns:
            dict[str, torch.Tensor]: ``loss_rec`` and ``loss_nce``.
        """
        in_a = in_a.bool()
        loss_rec = (self.reconstruction(pred_a, target, ~in_a) +
                    self.reconstruction(pred_b, target, in_a)) / 2
        loss_nce = self.nce_weight * self.info_nce(desc_a, desc_b)
        return dict(loss_rec=loss_rec, loss_nce=loss_nce)
