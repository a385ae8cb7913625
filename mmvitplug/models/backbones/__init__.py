# Copyright (c) mmvitplug contributors.
from .base import Parts, VisionBackbone
from .cait import CaiT
from .cct import CCT
from .cmt import CMT
from .convit import ConViT
from .cvt import CvT
from .deit import DeiT
from .dhvt import DHVT
from .hatnet import HATNet
from .levit import LeViT
from .lit import LIT
from .litv2 import LITv2
from .patchconvnet import PatchConvNet
from .pit import PiT
from .regnety import RegNetY
from .resmlp import ResMLP
from .revcol import RevCol
from .sret import SReT
from .xcit import XCiT

__all__ = [
    'CCT', 'CMT', 'CaiT', 'ConViT', 'CvT', 'DHVT', 'DeiT', 'HATNet', 'LIT',
    'LITv2', 'LeViT', 'Parts', 'PatchConvNet', 'PiT', 'RegNetY', 'ResMLP',
    'RevCol', 'SReT', 'VisionBackbone', 'XCiT'
]
