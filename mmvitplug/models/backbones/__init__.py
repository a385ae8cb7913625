# Copyright (c) mmvitplug contributors.
from .base import Parts, VisionBackbone
from .cait import CaiT
from .deit import DeiT
from .patchconvnet import PatchConvNet
from .resmlp import ResMLP

__all__ = [
    'CaiT', 'DeiT', 'Parts', 'PatchConvNet', 'ResMLP',
    'VisionBackbone'
]
