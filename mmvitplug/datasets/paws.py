# Copyright (c) mmvitplug contributors.
"""Labelled subsets, the support + unlabelled dataset of PAWS and its
class-stratified support batches."""
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Dataset, Sampler

from mmvitplug.registry import DATA_SAMPLERS, DATASETS
from .utils import build_dataset


def _build(dataset: Union[dict, Dataset]) -> Dataset:
    """A dataset, built in the current default scope if given as a config;
    fully initialised."""
    dataset = build_dataset(dataset)
    if isinstance(dataset, BaseDataset):
        dataset.full_init()
    return dataset


def gt_labels(dataset: Dataset) -> np.ndarray:
    """The class index of every item of ``dataset`` (from
    ``get_gt_labels()`` or ``get_cat_ids(i)``), without loading images."""
    if hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels(), dtype=np.int64)
    if hasattr(dataset, 'get_cat_ids'):
        return np.asarray([dataset.get_cat_ids(i)[0]
                           for i in range(len(dataset))], dtype=np.int64)
    raise TypeError(f'{type(dataset).__name__} gives no labels: it needs '
                    'get_gt_labels() or get_cat_ids(index)')


def _num_classes(dataset: Dataset, labels: np.ndarray) -> int:
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    return len(classes) if classes else int(labels.max()) + 1


@DATASETS.register_module()
class LabeledSubset(Dataset):
    """The labelled part of a classification dataset, chosen by a number of
    images per class, a fraction, or a file.

    Exactly one of:

    - ``num_per_class``: that many images of every class, drawn at random
      with ``seed`` (every class needs that many);
    - ``fraction``: ``round(fraction * n_c)`` images (at least 1) of every
      class ``c`` of ``n_c`` images, drawn with ``seed`` (class-stratified;
      the official code flips a coin per image for fractions it has no file
      for);
    - ``subset_file``: a text file with one image per line, either a file
      name (matched against the base name of each item's ``img_path``, the
      format of the official ``imagenet_subsets/99percent.txt`` (1 %
      labels) and ``90percent.txt`` (10 %)) or an integer index (the
      official ``cifar10_subsets/*.txt``).

    The choice depends only on the dataset's labels and ``seed``, so every
    process of a distributed run selects the same images.

    Args:
        dataset (dict | Dataset): The full (training) dataset or its config.
        num_per_class (int, optional): Images per class.
        fraction (float, optional): Fraction of each class, in (0, 1].
        subset_file (str, optional): File listing the labelled images.
        seed (int): Seed of the random choice. Defaults to 0.

    Attributes:
        indices (np.ndarray): The chosen indices of ``dataset``, ascending.
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 num_per_class: Optional[int] = None,
                 fraction: Optional[float] = None,
                 subset_file: Optional[str] = None,
                 seed: int = 0):
        given = [k for k, v in (('num_per_class', num_per_class),
                                ('fraction', fraction),
                                ('subset_file', subset_file)) if v is not None]
        if len(given) != 1:
            raise ValueError('LabeledSubset needs exactly one of '
                             'num_per_class, fraction, subset_file; got '
                             f'{given or "none"}')
        self.dataset = _build(dataset)
        self.metainfo = getattr(self.dataset, 'metainfo', {})
        labels = gt_labels(self.dataset)
        rng = np.random.default_rng(seed)
        if subset_file is not None:
            self.indices = self._from_file(subset_file)
        else:
            if num_per_class is not None and num_per_class < 1:
                raise ValueError(
                    f'num_per_class must be >= 1, got {num_per_class}')
            if fraction is not None and not 0 < fraction <= 1:
                raise ValueError(f'fraction must be in (0, 1], got {fraction}')
            chosen = []
            for c in range(_num_classes(self.dataset, labels)):
                members = np.flatnonzero(labels == c)
                n = num_per_class if num_per_class is not None else \
                    max(1, int(round(fraction * len(members))))
                if len(members) < n:
                    raise ValueError(
                        f'class {c} has {len(members)} images, fewer than '
                        f'the {n} asked for')
                chosen.append(rng.choice(members, n, replace=False))
            self.indices = np.sort(np.concatenate(chosen))
        self._labels = labels[self.indices]

    def _from_file(self, path: str) -> np.ndarray:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
        if not lines:
            raise ValueError(f'subset file {path} is empty')
        if all(line.isdigit() for line in lines):
            indices = np.asarray([int(line) for line in lines])
            if indices.max() >= len(self.dataset):
                raise ValueError(
                    f'subset file {path} has index {indices.max()}; the '
                    f'dataset has {len(self.dataset)} images')
            return np.unique(indices)
        by_name = {}
        for i in range(len(self.dataset)):
            by_name[osp.basename(
                self.dataset.get_data_info(i)['img_path'])] = i
        missing = [line for line in lines if line not in by_name]
        if missing:
            raise ValueError(
                f'{len(missing)} images of {path} are not in the dataset, '
                f'e.g. {missing[:3]}')
        return np.unique([by_name[line] for line in lines])

    def full_init(self) -> None:
        """The subset is chosen at construction (nothing lazy)."""

    def get_gt_labels(self) -> np.ndarray:
        """Labels of the subset's items."""
        return self._labels.copy()

    def get_cat_ids(self, index: int) -> List[int]:
        return [int(self._labels[index])]

    def get_data_info(self, index: int) -> dict:
        return self.dataset.get_data_info(int(self.indices[index]))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[index])]


@DATASETS.register_module()
class PAWSDataset(Dataset):
    """The training set of :class:`mmvitplug.PAWS`: unlabelled images, and
    the labelled support images after them.

    Indices ``0 .. len(self) - 1`` are the unlabelled images (an epoch is
    one pass over them, as official); index ``len(self) + j`` is support
    image ``j``. :class:`mmvitplug.PAWSBatchSampler` appends a support batch
    to every batch of unlabelled indices.

    Each item is packed so that mmengine's default ``pseudo_collate`` can
    batch both kinds together (mmdet's semi-supervised ``MultiBranch``
    pattern): ``inputs = {'support': [views], 'unlabeled': [views]}`` and
    ``data_samples = {'support': sample, 'unlabeled': sample}``, the group
    the image does not belong to holding ``None`` (as many as its views);
    :class:`mmvitplug.PAWSDataPreprocessor` takes them apart.

    Args:
        unlabeled (dict | Dataset): Unlabelled images (usually the whole
            training set), whose pipeline ends with ``MultiView`` (two large
            views, then the small ones) and ``PackInputs``.
        support (dict | Dataset): Labelled images, usually a
            :class:`mmvitplug.LabeledSubset` of the training set; a pipeline
            with ``MultiView`` gives several views of each support image.
    """

    def __init__(self, unlabeled: Union[dict, Dataset],
                 support: Union[dict, Dataset]):
        self.unlabeled = _build(unlabeled)
        self.support = _build(support)
        self.metainfo = getattr(self.support, 'metainfo', {})
        self.support_labels = gt_labels(self.support)
        self.num_classes = _num_classes(self.support, self.support_labels)
        self._num_views: Dict[str, int] = {}

    def full_init(self) -> None:
        """Both datasets are initialised at construction."""

    def class_indices(self) -> List[np.ndarray]:
        """Support indices (of this dataset) of every class."""
        offset = len(self.unlabeled)
        return [
            offset + np.flatnonzero(self.support_labels == c)
            for c in range(self.num_classes)
        ]

    def __len__(self) -> int:
        return len(self.unlabeled)

    def num_views(self, group: str) -> int:
        """Views per image of ``group`` ('support' or 'unlabeled'), read
        from its first item once."""
        if group not in self._num_views:
            dataset = self.support if group == 'support' else self.unlabeled
            self._num_views[group] = len(self._views(dataset[0]))
        return self._num_views[group]

    @staticmethod
    def _views(item) -> list:
        if not (isinstance(item, dict) and 'inputs' in item):
            raise TypeError('PAWSDataset needs packed items (pipelines '
                            f'ending with PackInputs); got {type(item)}')
        views = item['inputs']
        return list(views) if isinstance(views, (list, tuple)) else [views]

    def __getitem__(self, index: int) -> dict:
        total = len(self.unlabeled) + len(self.support)
        if not 0 <= index < total:
            raise IndexError(f'index {index} out of range: {total} images '
                             '(unlabelled, then support)')
        is_support = index >= len(self.unlabeled)
        group, other = ('support', 'unlabeled') if is_support else \
            ('unlabeled', 'support')
        item = self.support[index - len(self.unlabeled)] if is_support \
            else self.unlabeled[index]
        views = self._views(item)
        self._num_views.setdefault(group, len(views))
        return dict(
            inputs={group: views, other: [None] * self.num_views(other)},
            data_samples={group: item.get('data_samples'), other: None})


@DATA_SAMPLERS.register_module()
class PAWSBatchSampler(Sampler):
    """Batches of unlabelled images, each followed by a class-stratified
    support batch, as the official ``ClassStratifiedSampler`` of PAWS.

    The unlabelled indices come from ``sampler`` (mmengine's
    ``DefaultSampler`` over a :class:`mmvitplug.PAWSDataset`: shuffled,
    split over processes), ``batch_size`` per batch. Each batch then gets
    ``classes_per_batch * samples_per_class`` support indices in class
    order ``[c_1, ..., c_C]`` repeated ``samples_per_class`` times, the
    order the official fixed label matrix assumes (suncet#20).

    Classes: a random permutation of all classes, common to all processes
    (seeded by ``seed`` and the epoch), is walked ``classes_per_batch`` at a
    time; a new permutation when it is used up. With ``unique_classes``
    (official ImageNet config) every process takes its own
    ``classes_per_batch`` of each ``classes_per_batch * world_size`` of the
    permutation, so the supports of all processes together cover
    ``classes_per_batch * world_size`` distinct classes; without (official
    CIFAR-10), all processes take the same classes and each its own
    ``1 / world_size`` slice of every class's images (all of them when a
    class has fewer images than processes). Images: each class's images in
    a random order per process and epoch; a used-up class is reshuffled and
    reused (the official sampler stops: ours also serves fewer labelled
    images per class than ``samples_per_class``).

    Args:
        sampler (Sampler): Sampler of the unlabelled indices (given by
            mmengine's ``build_dataloader``).
        batch_size (int): Unlabelled images per batch (given by mmengine).
        classes_per_batch (int): Classes of a support batch per process.
        samples_per_class (int): Support images per class and batch.
        unique_classes (bool): Different classes on every process. Defaults
            to False.
        drop_last (bool): Drop the last incomplete unlabelled batch.
            Defaults to True (official).
        seed (int, optional): Seed of the class and image orders; the same
            on all processes (a random common seed if None).
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 classes_per_batch: int,
                 samples_per_class: int,
                 unique_classes: bool = False,
                 drop_last: bool = True,
                 seed: Optional[int] = None):
        dataset = getattr(sampler, 'dataset', None)
        # duck-typed: mmengine's num_batch_per_epoch wraps the dataset
        if not callable(getattr(dataset, 'class_indices', None)):
            raise TypeError(
                'PAWSBatchSampler needs a sampler over an '
                'mmvitplug.PAWSDataset (e.g. DefaultSampler); got a dataset '
                f'{type(dataset).__name__}')
        for name, value in (('batch_size', batch_size),
                            ('classes_per_batch', classes_per_batch),
                            ('samples_per_class', samples_per_class)):
            if value < 1:
                raise ValueError(f'{name} must be >= 1, got {value}')
        self.rank, self.world_size = get_dist_info()
        num_classes = dataset.num_classes
        needed = classes_per_batch * (self.world_size if unique_classes
                                      else 1)
        if needed > num_classes:
            raise ValueError(
                f'{needed} classes per support batch '
                f'(classes_per_batch={classes_per_batch}'
                + (f' x {self.world_size} processes' if unique_classes
                   else '') + f') but the dataset has {num_classes}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.classes_per_batch = classes_per_batch
        self.samples_per_class = samples_per_class
        self.unique_classes = unique_classes
        self.drop_last = drop_last
        self.seed = sync_random_seed() if seed is None else seed
        self.num_classes = num_classes
        self.pools = self._local_pools(dataset.class_indices())

    def _local_pools(self, class_indices: Sequence[np.ndarray]):
        pools = []
        for c, members in enumerate(class_indices):
            if len(members) == 0:
                raise ValueError(f'class {c} has no labelled image')
            if not self.unique_classes and self.world_size > 1:
                size = len(members) // self.world_size
                if size > 0:
                    members = members[self.rank * size:(self.rank + 1) *
                                      size]
            pools.append(np.asarray(members))
        return pools

    def support_batches(self, epoch: int) -> Iterator[List[int]]:
        """The endless support batches of this process in ``epoch``."""
        common = np.random.default_rng([self.seed, epoch, 0])
        local = np.random.default_rng([self.seed, epoch, 1, self.rank])
        queues = [[] for _ in self.pools]

        def draw(c):
            if not queues[c]:
                queues[c] = list(local.permutation(self.pools[c]))
            return int(queues[c].pop())

        step = self.classes_per_batch * (self.world_size
                                         if self.unique_classes else 1)
        first = self.rank * self.classes_per_batch \
            if self.unique_classes else 0
        while True:
            perm = common.permutation(self.num_classes)
            for start in range(0, self.num_classes - step + 1, step):
                classes = perm[start + first:start + first +
                               self.classes_per_batch]
                yield [
                    draw(c) for _ in range(self.samples_per_class)
                    for c in classes
                ]

    def __iter__(self) -> Iterator[List[int]]:
        supports = self.support_batches(getattr(self.sampler, 'epoch', 0))
        batch = []
        for index in self.sampler:
            batch.append(int(index))
            if len(batch) == self.batch_size:
                yield batch + next(supports)
                batch = []
        if batch and not self.drop_last:
            yield batch + next(supports)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
