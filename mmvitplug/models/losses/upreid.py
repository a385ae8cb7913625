# Copyright (c) mmvitplug contributors.
"""The losses of UP-ReID's contrastive pretraining with intra-identity
regularisation.

`Unleashing Potential of Unsupervised Pre-Training with Intra-Identity
Regularization for Person Re-Identification
<https://arxiv.org/abs/2112.00317>`_ (Yang et al., CVPR 2022). No code was
released (``Frost-Yang-99/UP-ReID`` holds only a README): this is a
re-implementation from the paper's abstract-level description; see
:class:`UPReIDLoss` for what was inferred.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather

from mmvitplug.registry import MODELS


def info_nce(pos: torch.Tensor, neg: torch.Tensor,
             temperature: float) -> torch.Tensor:
    """Mean cross-entropy of ``cat(pos, neg) / temperature`` (positive =
    class 0): ``pos`` (..., 1), ``neg`` (..., K) similarities."""
    logits = torch.cat([pos, neg], dim=-1) / temperature
    return -F.log_softmax(logits.flatten(0, -2), dim=-1)[:, 0].mean()


@MODELS.register_module()
class UPReIDLoss(nn.Module):
    r"""UP-ReID's three terms on L2-normalised embeddings, and the queue of
    negative keys (MoCo v2's, a buffer of this loss).

    Two augmented views :math:`v \in \{1, 2\}` of each of ``N`` images and
    the *original* image :math:`o` (resized and normalised only) give:
    online global embeddings :math:`q^v_i`, momentum global embeddings
    :math:`k^v_i` and :math:`k^o_i`, online / momentum local embeddings of
    ``P`` horizontal stripes :math:`l^v_{ip}` / :math:`m^v_{ip}`. With
    :math:`\bar v` the other view:

    - instance contrast (MoCo v2, symmetrised):
      :math:`\mathcal{L}_{ins} = \frac{1}{2}\sum_v \mathrm{NCE}_\tau(
      q^v_i;\ k^{\bar v}_i;\ \text{queue})`;
    - global consistency between the augmented and the original image:
      :math:`\mathcal{L}_{gc} = \frac{1}{2N}\sum_{v,i}
      \| q^v_i - k^o_i \|^2 = \frac{1}{2N}\sum_{v,i}(2 - 2\cos(q^v_i,
      k^o_i))`;
    - intrinsic contrast among the local patches of each image: stripe
      :math:`p` of view :math:`v` against the same stripe of the other
      view (positive) and the *other stripes of the same image* (negatives):
      :math:`\mathcal{L}_{lc} = \frac{1}{2NP}\sum_{v,i,p}
      -\log\frac{e^{l^v_{ip}\cdot m^{\bar v}_{ip}/\tau_l}}
      {\sum_{p'} e^{l^v_{ip}\cdot m^{\bar v}_{ip'}/\tau_l}}`;

    and :math:`\mathcal{L} = \mathcal{L}_{ins} + \lambda_{gc}
    \mathcal{L}_{gc} + \lambda_{lc}\mathcal{L}_{lc}` (returned as three
    ``loss_*`` entries, which mmengine sums).

    Inferred (the paper text available here is its abstract: "a global
    consistency is enforced between augmented and original person images
    ... an intrinsic contrastive constraint among local patches of each
    image"): the base pipeline is MoCo v2 (queue, momentum encoder) and is
    symmetrised over the two views; the consistency is the BYOL-style
    squared distance of normalised embeddings with the original image's
    *momentum* embedding as the stop-gradient target; local patches are
    ``P`` horizontal stripes (the usual ReID part split, which a
    horizontal flip leaves in place) and their negatives are only the
    other stripes of the same image ("intrinsic"); the weights
    :math:`\lambda`, :math:`\tau_l` and ``P`` are not published here
    (defaults 1, 1, 0.2, 4). The paper's hard-mining details are not
    implemented.

    Args:
        temperature (float): :math:`\tau` of the instance contrast
            (MoCo v2's 0.2). Defaults to 0.2.
        local_temperature (float): :math:`\tau_l` of the local contrast.
            Defaults to 0.2.
        queue_len (int): Number of negative keys in the queue; a multiple
            of the keys enqueued per step (``UPReID`` enqueues both views'
            keys: 2 x the global batch). Defaults to 65536.
        feat_dim (int): Dimension of the global embeddings. Defaults to 128.
        gc_weight (float): :math:`\lambda_{gc}`; 0 switches the term off.
            Defaults to 1.0.
        lc_weight (float): :math:`\lambda_{lc}`; 0 switches the term off.
            Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.2,
                 local_temperature: float = 0.2,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 gc_weight: float = 1.0,
                 lc_weight: float = 1.0):
        super().__init__()
        for name, value in (('temperature', temperature),
                            ('local_temperature', local_temperature)):
            if not value > 0:
                raise ValueError(f'UPReIDLoss: {name} must be > 0, got '
                                 f'{value}')
        for name, value in (('gc_weight', gc_weight),
                            ('lc_weight', lc_weight)):
            if value < 0:
                raise ValueError(f'UPReIDLoss: {name} must be >= 0, got '
                                 f'{value}')
        if queue_len < 1 or feat_dim < 1:
            raise ValueError('UPReIDLoss: queue_len and feat_dim must be '
                             f'>= 1, got {queue_len} and {feat_dim}')
        self.temperature = temperature
        self.local_temperature = local_temperature
        self.gc_weight = gc_weight
        self.lc_weight = lc_weight
        self.register_buffer(
            'queue', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    @property
    def queue_len(self) -> int:
        return self.queue.size(1)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Replace the oldest keys of the queue by ``keys`` (N, D) of every
        process."""
        keys = torch.cat(all_gather(keys.detach()), dim=0)
        n, ptr = keys.size(0), int(self.queue_ptr)
        if self.queue_len % n:
            raise ValueError(f'UPReIDLoss: queue_len {self.queue_len} is '
                             f'not a multiple of the global batch {n}')
        self.queue[:, ptr:ptr + n] = keys.t()
        self.queue_ptr[0] = (ptr + n) % self.queue_len

    def instance_loss(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """MoCo's InfoNCE of queries ``q`` (V, N, D) with the keys of the
        other view ``k.flip(0)`` as positives and the queue as negatives."""
        k = k.flip(0)
        pos = (q * k).sum(-1, keepdim=True)  # (V, N, 1)
        neg = q @ self.queue.clone().detach()  # (V, N, K)
        return info_nce(pos, neg, self.temperature)

    @staticmethod
    def consistency_loss(q: torch.Tensor,
                         k_orig: torch.Tensor) -> torch.Tensor:
        """Mean of ``2 - 2 cos`` between ``q`` (V, N, D) and the original
        images' embeddings ``k_orig`` (N, D) (detached)."""
        return (2 - 2 * (q * k_orig.detach()).sum(-1)).mean()

    def local_loss(self, q_local: torch.Tensor,
                   k_local: torch.Tensor) -> torch.Tensor:
        """InfoNCE of stripes ``q_local`` (V, N, P, D) against the stripes
        of the same image in the other view ``k_local.flip(0)``: same
        stripe positive, other stripes negatives."""
        sim = q_local @ k_local.flip(0).detach().transpose(-1, -2)
        logits = sim.flatten(0, -3) / self.local_temperature  # (VN, P, P)
        num_stripes = logits.size(-1)
        target = torch.arange(num_stripes, device=logits.device)
        return F.cross_entropy(
            logits.flatten(0, 1), target.repeat(logits.size(0)))

    def forward(self, q: torch.Tensor, k: torch.Tensor, k_orig: torch.Tensor,
                q_local: torch.Tensor,
                k_local: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The three terms, weighted.

        Args:
            q (Tensor): (2, N, D) online global embeddings of both views.
            k (Tensor): (2, N, D) momentum global embeddings of both views.
            k_orig (Tensor): (N, D) momentum embeddings of the originals.
            q_local (Tensor): (2, N, P, D') online stripe embeddings.
            k_local (Tensor): (2, N, P, D') momentum stripe embeddings.

        Returns:
            dict: ``loss_ins``, ``loss_gc``, ``loss_lc`` (each included only
            with a weight > 0, except ``loss_ins``).
        """
        if q.dim() != 3 or q.size(0) != 2 or k.shape != q.shape:
            raise ValueError('UPReIDLoss expects q and k of shape (2, N, D) '
                             f'(two views), got {tuple(q.shape)} and '
                             f'{tuple(k.shape)}')
        losses = dict(loss_ins=self.instance_loss(q, k.detach()))
        if self.gc_weight > 0:
            losses['loss_gc'] = self.gc_weight * self.consistency_loss(
                q, k_orig)
        if self.lc_weight > 0:
            losses['loss_lc'] = self.lc_weight * self.local_loss(
                q_local, k_local)
        return losses
