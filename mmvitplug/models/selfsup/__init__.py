# Copyright (c) mmvitplug contributors.
"""Self- and semi-supervised algorithms (as ``mmpretrain.models.selfsup``):
each orchestrates a backbone of any family through the backbone contract;
its maths and state live in its loss, its schedules in hooks."""
from .deepcluster import DeepCluster
from .deepercluster import DeeperCluster
from .dino import DINO
from .embedding import EmbeddingModel
from .paws import PAWS, PAWSDataPreprocessor
from .seer import SEER
from .splitmask import SplitMask
from .upreid import UPReID

__all__ = [
    'DeepCluster', 'DeeperCluster', 'DINO', 'EmbeddingModel', 'PAWS',
    'PAWSDataPreprocessor', 'SEER', 'SplitMask', 'UPReID'
]
