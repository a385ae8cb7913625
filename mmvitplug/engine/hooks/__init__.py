# Copyright (c) mmvitplug contributors.
from .archnet import ArchNetPeriodHook, period_of
from .deepcluster import DeepClusterHook
from .dino import DINOFreezeLastLayerHook, DINOTeacherTempWarmupHook
from .drloc import DRLocWeightHook, drloc_weight_factor
from .loss_weight import LossWeightScheduleHook
from .mesa import MesaHook

__all__ = [
    'ArchNetPeriodHook', 'DeepClusterHook', 'DINOFreezeLastLayerHook',
    'DINOTeacherTempWarmupHook', 'DRLocWeightHook', 'LossWeightScheduleHook',
    'MesaHook',
    'drloc_weight_factor', 'period_of'
]
