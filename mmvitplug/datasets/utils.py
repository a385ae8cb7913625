# Copyright (c) mmvitplug contributors.
"""Helpers of the dataset wrappers."""
from typing import Union

from mmengine.registry import DATASETS as ROOT_DATASETS
from torch.utils.data import Dataset


def build_dataset(dataset: Union[dict, Dataset]) -> Dataset:
    """A dataset, built in the current default scope if given as a config
    (``type='ImageNet'`` is mmpretrain's under ``default_scope='mmpretrain'``).
    """
    return ROOT_DATASETS.build(dataset) if isinstance(dataset, dict) \
        else dataset
