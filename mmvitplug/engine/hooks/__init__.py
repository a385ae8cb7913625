# Copyright (c) mmvitplug contributors.
from .deepcluster import DeepClusterHook
from .dino import DINOFreezeLastLayerHook, DINOTeacherTempWarmupHook
from .drloc import DRLocWeightHook, drloc_weight_factor

__all__ = [
    'DeepClusterHook', 'DINOFreezeLastLayerHook', 'DINOTeacherTempWarmupHook',
    'DRLocWeightHook', 'drloc_weight_factor'
]
