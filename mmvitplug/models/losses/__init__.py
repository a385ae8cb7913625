# Copyright (c) mmvitplug contributors.
from .archnet import ArchNetLoss, ArchNetPeriodLoss, ArchNetViTLoss
from .cosub import CoSubLoss
from .dino import DINOLoss
from .distill import DeiTDistillLoss
from .drloc import DRLocLoss
from .dynamic_vit import DynamicViTRatioLoss, KeptTokenMSELoss
from .gradient_tampering import (TamperedCrossEntropyLoss,
                                 tampered_cross_entropy)
from .kd import (ChannelWiseDivergenceLoss, HCLLoss, HintLoss,
                 JSDivergenceLoss, KLDivergenceLoss, RelationKLLoss)
from .macl import MACLLoss
from .mixskd import MixSKDLoss, mix_pairs
from .paws import PAWSLoss
from .seer import SEERLoss
from .splitmask import SplitMaskLoss
from .upreid import UPReIDLoss
from .utils import call_loss, get_targets

__all__ = [
    'DynamicViTRatioLoss', 'KeptTokenMSELoss',
    'ArchNetLoss', 'ArchNetPeriodLoss', 'ArchNetViTLoss', 'CoSubLoss',
    'DINOLoss', 'DeiTDistillLoss', 'DRLocLoss', 'MACLLoss', 'MixSKDLoss',
    'PAWSLoss', 'SEERLoss', 'SplitMaskLoss', 'TamperedCrossEntropyLoss',
    'UPReIDLoss', 'call_loss', 'get_targets', 'mix_pairs',
    'tampered_cross_entropy', 'ChannelWiseDivergenceLoss', 'HCLLoss',
    'HintLoss', 'JSDivergenceLoss', 'KLDivergenceLoss', 'RelationKLLoss'
]
