# Copyright (c) mmvitplug contributors.
"""Soft nearest-neighbour accuracy of frozen embeddings (PAWS)."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from mmvitplug.models.losses.paws import snn
from mmvitplug.registry import METRICS
from .knn import BankQueryMetric


def snn_predict(supports: torch.Tensor,
                support_labels: torch.Tensor,
                queries: torch.Tensor,
                temperature: float = 0.1,
                num_classes: Optional[int] = None,
                chunk_size: int = 256) -> torch.Tensor:
    """Class probabilities of ``queries`` by the soft nearest-neighbour
    classifier of PAWS' ``snn_eval.py``: ``softmax(normalize(q) @
    normalize(S).T / temperature) @ onehot(labels)`` over ALL supports.

    Args:
        supports (Tensor): (N, C) labelled embeddings.
        support_labels (Tensor): (N, ) their labels, int.
        queries (Tensor): (M, C) query embeddings.
        temperature (float): Softmax temperature. Defaults to 0.1.
        num_classes (int, optional): Number of classes; the largest support
            label + 1 if not given.
        chunk_size (int): Queries per similarity matrix. Defaults to 256.

    Returns:
        Tensor: (M, num_classes) probabilities.
    """
    if temperature <= 0:
        raise ValueError(f'temperature ({temperature}) must be positive')
    if supports.shape[0] == 0:
        raise ValueError('soft nearest neighbours need supports')
    if num_classes is None:
        num_classes = int(support_labels.max()) + 1
    onehot = F.one_hot(support_labels.long(), num_classes).float()
    supports = supports.float()
    probs = [
        snn(chunk.float(), supports, onehot, temperature)
        for chunk in queries.split(chunk_size)
    ]
    return torch.cat(probs) if probs else queries.new_zeros(0, num_classes)


@METRICS.register_module()
class SNNAccuracy(BankQueryMetric):
    """Soft nearest-neighbour top-1 / top-5 accuracy, the evaluation of
    `PAWS <https://arxiv.org/abs/2104.13963>`_ (official ``snn_eval.py``:
    cosine similarities to every labelled support, softmax with temperature
    0.1, probabilities = the softmax weights summed per class).

    Runs on a test loop over a :class:`mmvitplug.KNNBankDataset` whose bank
    is the labelled support set (for PAWS: the same
    :class:`mmvitplug.LabeledSubset` of the training set as in training,
    test transform) and whose queries are the test set, with a model whose
    predictions carry an ``embedding`` (:class:`mmvitplug.EmbeddingModel`).
    Results are gathered over all processes first, so it works under DDP.

    Args:
        temperature (float): Softmax temperature. Defaults to 0.1.
        topk (Sequence[int]): Accuracies to report, each at most the number
            of classes. Defaults to ``(1, 5)``.
        chunk_size (int): Queries per similarity matrix. Defaults to 256.
        collect_device (str): Where results are gathered ('cpu' or 'gpu').
            Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'snn'.

    Metrics are named ``{prefix}/top{t}``, e.g. ``snn/top1``.
    """
    default_prefix = 'snn'

    def __init__(self,
                 temperature: float = 0.1,
                 topk: Sequence[int] = (1, 5),
                 chunk_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(topk, chunk_size, collect_device, prefix)
        if temperature <= 0:
            raise ValueError(f'temperature ({temperature}) must be positive')
        self.temperature = temperature

    def scores(self, bank, bank_labels, queries, num_classes):
        return {
            '': snn_predict(bank, bank_labels, queries, self.temperature,
                            num_classes, self.chunk_size)
        }
