# Copyright (c) mmvitplug contributors.
"""Dataset classes and data transforms of mmvitplug (as ``mmpretrain.datasets``
and ``mmpretrain.datasets.transforms`` are upstream).

The generator of the bundled demo data is a tool, not a dataset: it lives in
:mod:`mmvitplug.utils.bundled_data` (``tools/make_bundled_data.py``).
"""
from .cluster_sampler import UniformClusterSampler
from .knn import KNNBankDataset
from .paws import LabeledSubset, PAWSBatchSampler, PAWSDataset

__all__ = ['UniformClusterSampler', 'KNNBankDataset', 'LabeledSubset',
           'PAWSBatchSampler', 'PAWSDataset']
