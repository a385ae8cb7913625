# Copyright (c) mmvitplug contributors.
from .archnet import ArchNetPeriodHook, period_of
from .deepcluster import DeepClusterHook
from .dino import DINOFreezeLastLayerHook, DINOTeacherTempWarmupHook
from .drloc import DRLocWeightHook, drloc_weight_factor
from .ecoformer import EcoFormerHook
from .loss_weight import LossWeightScheduleHook
from .mesa import MesaHook
from .pruning import MagnitudePruningHook

__all__ = [
    'ArchNetPeriodHook', 'DINOFreezeLastLayerHook',
    'DINOTeacherTempWarmupHook', 'DRLocWeightHook', 'DeepClusterHook',
    'EcoFormerHook', 'LossWeightScheduleHook', 'MagnitudePruningHook',
    'MesaHook', 'drloc_weight_factor', 'period_of'
]
