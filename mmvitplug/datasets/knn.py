# Copyright (c) mmvitplug contributors.
"""The test set of a k-NN evaluation: a labelled bank, then the queries."""
from typing import Union

from mmengine.dataset import BaseDataset
from torch.utils.data import Dataset

from mmvitplug.registry import DATASETS
from .utils import build_dataset


@DATASETS.register_module()
class KNNBankDataset(Dataset):
    """The bank (usually the training set, with the test transform) followed
    by the queries (the test set), each sample tagged ``knn_bank`` in its
    data sample's metainfo, for :class:`mmvitplug.evaluation.KNNAccuracy`.

    One test loop then embeds both, and the metric classifies each query by
    its neighbours in the bank; with mmengine's samplers and result
    collection this works under DDP.

    Args:
        bank (dict | Dataset): Labelled bank dataset (or its config).
        query (dict | Dataset): Query dataset (or its config).

    Each item is the wrapped dataset's packed item (``inputs``,
    ``data_samples``); ``metainfo`` is the query dataset's.
    """

    def __init__(self, bank: Union[dict, Dataset],
                 query: Union[dict, Dataset]):
        self.bank = build_dataset(bank)
        self.query = build_dataset(query)
        self.metainfo = getattr(self.query, 'metainfo', {})

    def full_init(self) -> None:
        for dataset in (self.bank, self.query):
            if isinstance(dataset, BaseDataset):
                dataset.full_init()

    def __len__(self) -> int:
        return len(self.bank) + len(self.query)

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f'index {index} out of range for '
                             f'{len(self)} samples')
        index %= len(self)
        in_bank = index < len(self.bank)
        item = self.bank[index] if in_bank else \
            self.query[index - len(self.bank)]
        if not (isinstance(item, dict) and 'data_samples' in item):
            raise TypeError(
                'KNNBankDataset needs packed items (a pipeline ending with '
                f'PackInputs); got {type(item).__name__}')
        item['data_samples'].set_metainfo(dict(knn_bank=in_bank))
        return item
