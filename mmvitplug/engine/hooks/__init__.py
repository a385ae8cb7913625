# Copyright (c) mmvitplug contributors.
from .deepcluster import DeepClusterHook
from .dino import DINOFreezeLastLayerHook, DINOTeacherTempWarmupHook
from .drloc import DRLocWeightHook, drloc_weight_factor
from .loss_weight import LossWeightScheduleHook

__all__ = [
    'DeepClusterHook', 'DINOFreezeLastLayerHook', 'DINOTeacherTempWarmupHook',
    'DRLocWeightHook', 'LossWeightScheduleHook', 'drloc_weight_factor'
]
