# Copyright (c) mmvitplug contributors.
"""Weighted k-nearest-neighbour accuracy of frozen embeddings."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from mmvitplug.registry import METRICS


def knn_vote(bank: torch.Tensor,
             bank_labels: torch.Tensor,
             queries: torch.Tensor,
             k: int,
             temperature: float = 0.07,
             num_classes: Optional[int] = None,
             chunk_size: int = 256) -> torch.Tensor:
    """Class scores of ``queries`` by a weighted vote of their ``k`` nearest
    bank embeddings, as DINO's ``knn_classifier``.

    Embeddings are L2-normalised, similarity is the cosine, and each of the
    ``k`` neighbours votes for its label with weight
    ``exp(similarity / temperature)``. Queries are processed in chunks of
    ``chunk_size`` (any number of queries, unlike the official code, whose
    ``num_test // 100`` chunk is 0 below 100 test images).

    Args:
        bank (Tensor): Bank embeddings, shape (N, C).
        bank_labels (Tensor): Their labels, shape (N, ), int.
        queries (Tensor): Query embeddings, shape (M, C).
        k (int): Neighbours per query, at most N.
        temperature (float): Vote temperature. Defaults to 0.07.
        num_classes (int, optional): Number of classes; the largest bank
            label + 1 if not given.
        chunk_size (int): Queries per similarity matrix. Defaults to 256.

    Returns:
        Tensor: Vote scores, shape (M, num_classes).
    """
    if not 1 <= k <= bank.shape[0]:
        raise ValueError(f'k={k} needs 1 <= k <= the bank size '
                         f'{bank.shape[0]}')
    if temperature <= 0:
        raise ValueError(f'temperature ({temperature}) must be positive')
    if num_classes is None:
        num_classes = int(bank_labels.max()) + 1
    bank = F.normalize(bank.float(), dim=1)
    queries = F.normalize(queries.float(), dim=1)
    scores = []
    for chunk in queries.split(chunk_size):
        sim, idx = (chunk @ bank.T).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = chunk.new_zeros(chunk.shape[0], num_classes)
        scores.append(votes.scatter_add_(1, bank_labels[idx], weights))
    if not scores:
        return queries.new_zeros(0, num_classes)
    return torch.cat(scores)


class BankQueryMetric(BaseMetric):
    """Base of metrics that classify test queries by a labelled bank of
    embeddings (k-NN, soft nearest neighbours).

    Collects each prediction's ``embedding``, label and ``knn_bank`` tag
    (:class:`mmvitplug.datasets.KNNBankDataset`); after results are
    gathered over all processes, :meth:`scores` turns (bank, labels,
    queries) into class scores per variant, ranked for top-k accuracies.

    Args:
        topk (Sequence[int]): Accuracies to report, each at most the number
            of classes.
        chunk_size (int): Queries per similarity matrix.
        collect_device (str): Where results are gathered ('cpu' or 'gpu').
        prefix (str, optional): Metric name prefix.
    """

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not topk or min(topk) < 1:
            raise ValueError(f'topk must be positive, got {topk}')
        self.topk = tuple(topk)
        self.chunk_size = chunk_size

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        name = type(self).__name__
        for sample in data_samples:
            if 'embedding' not in sample:
                raise KeyError(
                    f'{name} needs predictions with an `embedding` '
                    '(use model type mmvitplug.EmbeddingModel); got keys '
                    f'{sorted(sample)}')
            if 'knn_bank' not in sample:
                raise KeyError(
                    f'{name} needs samples tagged bank / query: use '
                    "dataset type 'mmvitplug.KNNBankDataset' (the bank is "
                    'the labelled set)')
            label = sample['gt_label']
            self.results.append(
                (sample['embedding'].detach().float().cpu().flatten(),
                 int(label.item() if torch.is_tensor(label) else label),
                 bool(sample['knn_bank'])))

    def scores(self, bank: torch.Tensor, bank_labels: torch.Tensor,
               queries: torch.Tensor,
               num_classes: int) -> Dict[str, torch.Tensor]:
        """{metric suffix: (M, num_classes) class scores of the queries}."""
        raise NotImplementedError

    def compute_metrics(self, results: List) -> Dict[str, float]:
        bank = [r for r in results if r[2]]
        queries = [r for r in results if not r[2]]
        if not bank or not queries:
            raise ValueError(
                f'{type(self).__name__} needs bank and query samples; got '
                f'{len(bank)} bank and {len(queries)} queries')
        bank_labels = torch.tensor([r[1] for r in bank])
        query_labels = torch.tensor([r[1] for r in queries])
        num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
        if max(self.topk) > num_classes:
            raise ValueError(f'topk {self.topk} exceeds the {num_classes} '
                             'classes')
        metrics = {}
        for suffix, scores in self.scores(
                torch.stack([r[0] for r in bank]), bank_labels,
                torch.stack([r[0] for r in queries]), num_classes).items():
            ranked = scores.topk(max(self.topk), dim=1).indices
            hits = ranked == query_labels[:, None]
            for t in self.topk:
                metrics[f'top{t}{suffix}'] = \
                    hits[:, :t].any(dim=1).float().mean().item() * 100
        return metrics


@METRICS.register_module()
class KNNAccuracy(BankQueryMetric):
    """Weighted k-NN top-1 / top-5 accuracy of embeddings, the evaluation of
    `DINO <https://arxiv.org/abs/2104.14294>`_.

    Runs on a test loop over a :class:`mmvitplug.datasets.KNNBankDataset`
    (the labelled bank, usually the training set, then the queries) with a
    model whose predictions carry an ``embedding`` (such as
    :class:`mmvitplug.models.EmbeddingModel`): every query is classified by
    :func:`knn_vote` against the whole bank, for each ``k``. Results are
    gathered over all processes first, so it works under DDP and for test
    sets of any size.

    Args:
        k (int | Sequence[int]): Neighbour counts to report. Defaults to
            ``(10, 20)`` (DINO reports 10, 20, 100, 200).
        temperature (float): Vote temperature. Defaults to 0.07.
        topk (Sequence[int]): Accuracies to report, each at most the number
            of classes. Defaults to ``(1, 5)``.
        chunk_size (int): Queries per similarity matrix. Defaults to 256.
        collect_device (str): Where results are gathered ('cpu' or 'gpu').
            Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'knn'.

    Metrics are named ``{prefix}/top{t}_k{k}``, e.g. ``knn/top1_k20``.
    """
    default_prefix = 'knn'

    def __init__(self,
                 k: Union[int, Sequence[int]] = (10, 20),
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(topk, chunk_size, collect_device, prefix)
        self.k = (k, ) if isinstance(k, int) else tuple(k)
        if not self.k or min(self.k) < 1:
            raise ValueError(f'k must be positive neighbour counts, got {k}')
        if temperature <= 0:
            raise ValueError(f'temperature ({temperature}) must be positive')
        self.temperature = temperature

    def scores(self, bank, bank_labels, queries, num_classes):
        return {
            f'_k{k}': knn_vote(bank, bank_labels, queries, k,
                               self.temperature, num_classes, self.chunk_size)
            for k in self.k
        }
