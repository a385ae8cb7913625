# Copyright (c) mmvitplug contributors.
from .archnet import ArchNetLoss, ArchNetPeriodLoss, ArchNetViTLoss
from .cosub import CoSubLoss
from .dino import DINOLoss
from .distill import DeiTDistillLoss
from .drloc import DRLocLoss
from .drnet import DRNetFLOPsLoss
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
from .spvit import SPViTFLOPsLoss, arch_gates, spvit_flops
from .upreid import UPReIDLoss
from .utils import call_loss, get_targets

__all__ = [
    'ArchNetLoss', 'ArchNetPeriodLoss', 'ArchNetViTLoss',
    'ChannelWiseDivergenceLoss', 'CoSubLoss', 'DINOLoss', 'DRLocLoss',
    'DRNetFLOPsLoss', 'DeiTDistillLoss', 'DynamicViTRatioLoss', 'HCLLoss',
    'HintLoss', 'JSDivergenceLoss', 'KLDivergenceLoss', 'KeptTokenMSELoss',
    'MACLLoss', 'MixSKDLoss', 'PAWSLoss', 'RelationKLLoss', 'SEERLoss',
    'SPViTFLOPsLoss', 'SplitMaskLoss', 'TamperedCrossEntropyLoss',
    'UPReIDLoss', 'arch_gates', 'call_loss', 'get_targets', 'mix_pairs',
    'spvit_flops', 'tampered_cross_entropy'
]
