# Copyright (c) mmvitplug contributors.
from .agent_cnn import AgentCNN
from .archnet_resnet import ArchNetResNet
from .archnet_vit import ArchNetViT
from .base import Parts, VisionBackbone
from .bimlp import BiMLP
from .cait import CaiT
from .cct import CCT
from .cmt import CMT
from .convit import ConViT
from .cvt import CvT
from .deit import DeiT
from .dhvt import DHVT
from .dynamic_vit import DynamicViT
from .ecoformer import EcoFormer
from .g_ghost_regnet import GGhostRegNet
from .ghostnet import GhostNet
from .hatnet import HATNet
from .internimage import InternImage
from .levit import LeViT
from .lit import LIT
from .litv2 import LITv2
from .patchconvnet import PatchConvNet
from .pit import PiT
from .regnety import RegNetY
from .resmlp import ResMLP
from .revcol import RevCol
from .spvit import SPViT, SPViTSupernet
from .sret import SReT
from .xcit import XCiT

__all__ = [
    'AgentCNN', 'ArchNetResNet', 'ArchNetViT', 'BiMLP', 'CCT', 'CMT', 'CaiT',
    'ConViT', 'CvT', 'DHVT', 'DeiT', 'DynamicViT', 'EcoFormer', 'GGhostRegNet',
    'GhostNet', 'HATNet', 'InternImage', 'LIT', 'LITv2', 'LeViT', 'Parts',
    'PatchConvNet', 'PiT', 'RegNetY', 'ResMLP', 'RevCol', 'SPViT',
    'SPViTSupernet', 'SReT', 'VisionBackbone', 'XCiT'
]
