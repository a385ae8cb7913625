# Copyright (c) mmvitplug contributors.
"""Sampling uniform over pseudo-labels (DeepCluster's ``UnifLabelSampler``).
"""
import math
from typing import Iterator, List, Optional, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmvitplug.registry import DATA_SAMPLERS


def uniform_cluster_indices(labels: np.ndarray, size: int,
                            rng: np.random.Generator) -> np.ndarray:
    """``size`` dataset indices drawn uniformly over the non-empty clusters
    of ``labels`` (DeepCluster's ``UnifLabelSampler.generate_indexes_epoch``).

    Every non-empty cluster gets ``size // n_clusters + 1`` draws, without
    replacement when it holds more images than that and with replacement
    otherwise; the draws are shuffled and the first ``size`` kept, so each
    cluster ends with ``size // n_clusters + 1`` draws or fewer (the excess
    over ``size`` is cut at random). Labels no image carries (empty
    clusters) are never sampled.

    Args:
        labels (np.ndarray): (N, ) int pseudo-label of every image.
        size (int): Number of indices to return.
        rng (np.random.Generator): Random generator.

    Returns:
        np.ndarray: (size, ) int64 indices into ``labels``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError('labels must be a non-empty 1-D array, got shape '
                         f'{labels.shape}')
    order = np.argsort(labels, kind='stable')
    clusters, starts = np.unique(labels[order], return_index=True)
    members = np.split(order, starts[1:])
    per_cluster = size // len(clusters) + 1
    draws = [
        rng.choice(m, per_cluster, replace=len(m) <= per_cluster)
        for m in members
    ]
    indices = np.concatenate(draws)
    rng.shuffle(indices)
    return indices[:size].astype(np.int64)


@DATA_SAMPLERS.register_module()
class UniformClusterSampler(Sampler):
    """Samples the training images uniformly over their pseudo-labels, as
    DeepCluster's ``UnifLabelSampler`` (`Caron et al. 2018
    <https://arxiv.org/abs/1807.05520>`_, Sec. 3.4: "sample images based on
    a uniform distribution over the classes, or pseudo-labels"), under DDP
    too.

    The labels are given by :class:`mmvitplug.DeepClusterHook` before every
    training epoch (:meth:`set_labels`). Each epoch draws one global list
    of ``ceil(len(dataset) / world_size) * world_size`` indices with the
    seed ``seed + epoch`` (identical on every rank, see
    :func:`uniform_cluster_indices`), and rank ``r`` takes every
    ``world_size``-th index from position ``r`` (the ranks' shares are
    disjoint positions of the same list). ``set_epoch`` is called by
    mmengine's ``DistSamplerSeedHook``.

    The official sampler draws ``reassign x N`` images per reassignment;
    here an epoch is always ``N`` images and the hook's ``interval`` says
    how many epochs share one assignment.

    Args:
        dataset (Sized): The training dataset.
        seed (int, optional): Base seed, identical across ranks. Defaults
            to a seed synchronised from rank 0.
    """

    def __init__(self, dataset: Sized, seed: Optional[int] = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_samples = math.ceil(len(dataset) / self.world_size)
        self.total_size = self.num_samples * self.world_size
        self.labels: Optional[np.ndarray] = None

    def set_labels(self, labels) -> None:
        """Sets the pseudo-label of every image of the dataset."""
        labels = np.asarray(labels)
        if labels.shape != (len(self.dataset), ):
            raise ValueError(
                f'UniformClusterSampler: {labels.shape} labels for a '
                f'dataset of {len(self.dataset)} images')
        self.labels = labels

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_indices(self) -> List[int]:
        """This epoch's indices of all ranks together."""
        if self.labels is None:
            raise RuntimeError(
                'UniformClusterSampler has no pseudo-labels: add '
                "dict(type='mmvitplug.DeepClusterHook') to custom_hooks "
                '(it clusters the dataset before each epoch)')
        rng = np.random.default_rng(self.seed + self.epoch)
        return uniform_cluster_indices(self.labels, self.total_size,
                                       rng).tolist()

    def __iter__(self) -> Iterator[int]:
        indices = self.global_indices()
        return iter(indices[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples
