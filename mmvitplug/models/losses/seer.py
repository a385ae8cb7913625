# Copyright (c) mmvitplug contributors.
"""The SwAV loss as SEER trains it, with a distributed Sinkhorn-Knopp that
normalises over the whole global batch.

`Caron et al. 2020, "Unsupervised Learning of Visual Features by
Contrasting Cluster Assignments" <https://arxiv.org/abs/2006.09882>`_;
`Goyal et al. 2021 (SEER) <https://arxiv.org/abs/2103.01988>`_.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmpretrain.models.losses import SwAVLoss

from mmvitplug.registry import MODELS


@torch.no_grad()
def distributed_sinkhorn(scores: torch.Tensor, num_iters: int,
                         epsilon: float) -> torch.Tensor:
    """Soft codes of equipartitioned cluster assignments (SwAV Alg. 1).

    ``Q = exp(scores / epsilon)``, transposed to (K, B), then alternately
    each prototype's total mass is set to ``1 / K`` and each sample's to
    ``1 / B`` (``B`` = the *global* batch); the codes are ``B * Q``
    transposed, so each sample's codes sum to 1.

    Unlike mmpretrain 1.2.0's ``distributed_sinkhorn``, which all-reduces
    the per-prototype sums only when one of them is zero (so that under DDP
    each process normalises the prototypes over its own samples only), the
    per-prototype sums are all-reduced at every iteration, as the official
    SwAV and vissl code do: the codes of a global batch split over processes
    equal the codes of the whole batch in one process. The exponent is
    shifted by the global maximum (vissl; it cancels in the normalisation)
    and everything is computed in float32, so that neither ``exp`` nor the
    sums overflow under fp16 / bf16 autocast.

    Args:
        scores (torch.Tensor): (B_local, K) scores of this process's samples
            (cosine similarities to the prototypes).
        num_iters (int): Sinkhorn-Knopp iterations.
        epsilon (float): Entropic regularisation (the exponent's
            temperature).

    Returns:
        torch.Tensor: (B_local, K) float32 codes.
    """
    q = scores.float() / epsilon
    top = q.max()
    all_reduce(top, op='max')
    q = torch.exp(q - top).t()  # K x B
    num_prototypes = q.shape[0]
    batch = q.shape[1] * get_world_size()
    total = q.sum()
    all_reduce(total)
    q /= total
    for _ in range(num_iters):
        rows = q.sum(dim=1, keepdim=True)
        all_reduce(rows)
        if torch.any(rows == 0):  # a prototype without mass (underflow)
            q += 1e-12
            rows = q.sum(dim=1, keepdim=True)
            all_reduce(rows)
        q /= rows
        q /= num_prototypes
        q /= q.sum(dim=0, keepdim=True)
        q /= batch
    q *= batch
    return q.t()


@MODELS.register_module()
class SEERLoss(SwAVLoss):
    """SwAV's swapped-prediction loss with SEER's settings.

    For each crop ``c`` of ``crops_for_assign``, the codes ``q_c`` of its
    scores (preceded by the queue's, when the queue is full) come from
    :func:`distributed_sinkhorn`; every other crop ``v`` predicts them:
    ``-mean_b sum_k q_c log softmax(z_v P^T / temperature)``, averaged over
    the other crops, then over ``crops_for_assign``. The prototypes ``P``
    are L2-normalised in place before every forward pass (vissl's
    ``normalize_last_layer``, SwAV's training loop).

    An mmpretrain ``SwAVLoss`` (prototypes, queue and hook interface kept,
    so mmpretrain's ``SwAVHead`` holds it and ``SwAVHook`` fills its queue
    and freezes its prototypes), with SEER's defaults (vissl ``swav_loss``;
    10 Sinkhorn iterations and 16k prototypes as the released SEER
    checkpoints, ``..._sinkhorn10_proto16k_...``; 2 + 4 crops) and two
    changes: the Sinkhorn-Knopp normalises over the global batch under DDP
    (see :func:`distributed_sinkhorn`), and the scores, codes and loss are
    computed in float32 even under autocast.

    After each forward pass, :attr:`stats` holds two no-collapse statistics
    of the first assigned crop over the global batch (logged by
    :class:`mmvitplug.SEER`): ``prototypes_used``, the number of prototypes
    that are the best match (argmax score) of some sample (1 = collapse),
    and ``code_entropy``, the mean entropy of the samples' codes (0 = hard
    assignments, log K = uniform codes).

    Args:
        feat_dim (int): Embedding dimension (the neck's ``out_channels``).
        sinkhorn_iterations (int): Sinkhorn-Knopp iterations.
            Defaults to 10.
        epsilon (float): Sinkhorn regularisation. Defaults to 0.05.
        temperature (float): Temperature of the predictions.
            Defaults to 0.1.
        crops_for_assign (Sequence[int]): Crops whose codes are predicted.
            Defaults to (0, 1).
        num_crops (Sequence[int]): Crops of each resolution, in batch order.
            Defaults to (2, 4).
        num_prototypes (int): Prototypes. Defaults to 16000.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self,
                 feat_dim: int,
                 sinkhorn_iterations: int = 10,
                 epsilon: float = 0.05,
                 temperature: float = 0.1,
                 crops_for_assign: Sequence[int] = (0, 1),
                 num_crops: Sequence[int] = (2, 4),
                 num_prototypes: int = 16000,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        if not isinstance(num_prototypes, int) or num_prototypes < 1:
            raise ValueError('num_prototypes must be a positive int (one set '
                             f'of prototypes), got {num_prototypes!r}')
        total = sum(num_crops)
        if not crops_for_assign or any(
                not 0 <= c < total for c in crops_for_assign):
            raise ValueError(
                f'crops_for_assign {list(crops_for_assign)} must be non-empty '
                f'crop indices in [0, {total}) (num_crops '
                f'{list(num_crops)})')
        if total < 2:
            raise ValueError('SwAV needs at least 2 crops (one predicts the '
                             f'other), got num_crops {list(num_crops)}')
        super().__init__(
            feat_dim,
            sinkhorn_iterations=sinkhorn_iterations,
            epsilon=epsilon,
            temperature=temperature,
            crops_for_assign=list(crops_for_assign),
            num_crops=list(num_crops),
            num_prototypes=num_prototypes,
            init_cfg=init_cfg)

    @torch.no_grad()
    def _record_stats(self, scores: torch.Tensor, q: torch.Tensor):
        counts = torch.bincount(
            scores.argmax(dim=1), minlength=scores.shape[1]).float()
        all_reduce(counts)
        entropy = -(q * q.clamp_min(1e-12).log()).sum(dim=1).mean()
        all_reduce(entropy, op='mean')
        self.stats = dict(
            prototypes_used=(counts > 0).sum().float(),
            code_entropy=entropy)

    def codes(self, scores: torch.Tensor) -> torch.Tensor:
        """:func:`distributed_sinkhorn` with this loss's settings."""
        return distributed_sinkhorn(scores, self.sinkhorn_iterations,
                                    self.epsilon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The loss of the embeddings ``x`` ((crops * B, feat_dim), crop
        after crop)."""
        with torch.no_grad():
            w = F.normalize(self.prototypes.weight.data.float(), dim=1, p=2)
            self.prototypes.weight.copy_(w)
        with torch.autocast(device_type=x.device.type, enabled=False):
            z = x.float()
            scores = F.linear(z, self.prototypes.weight.float())
            embedding = z.detach()
            total = sum(self.num_crops)
            if z.shape[0] % total:
                raise ValueError(
                    f'{z.shape[0]} embeddings are not {total} crops '
                    f'(num_crops {self.num_crops}) of one batch')
            bs = z.shape[0] // total
            loss = 0.
            for i, crop in enumerate(self.crops_for_assign):
                with torch.no_grad():
                    out = scores[bs * crop:bs * (crop + 1)].detach()
                    if self.queue is not None:
                        if self.use_queue or not torch.all(
                                self.queue[i, -1, :] == 0):
                            self.use_queue = True
                            out = torch.cat((torch.mm(
                                self.queue[i].float(),
                                self.prototypes.weight.float().t()), out))
                        self.queue[i, bs:] = self.queue[i, :-bs].clone()
                        self.queue[i, :bs] = embedding[crop * bs:(crop + 1) *
                                                       bs]
                    q = self.codes(out)[-bs:]
                    if i == 0:
                        self._record_stats(scores[bs * crop:bs * (crop + 1)],
                                           q)
                subloss = 0.
                others = [v for v in range(total) if v != crop]
                for v in others:
                    logp = F.log_softmax(
                        scores[bs * v:bs * (v + 1)] / self.temperature, dim=1)
                    subloss = subloss - (q * logp).sum(dim=1).mean()
                loss = loss + subloss / len(others)
            return loss / len(self.crops_for_assign)
