# Copyright (c) mmvitplug contributors.
from .deepercluster_head import DeeperClusterHead
from .deit_distill_head import DeiTDistillHead
from .dino_head import DINOHead
from .drloc_head import DRLocHead
from .dropout_linear_head import DropoutLinearClsHead
from .ghostnet_head import GhostNetClsHead
from .internimage_head import InternImageClsHead
from .levit_head import LeViTClsHead
from .macl_head import MACLHead, MACLMoCoV3Head
from .multi_token_head import MultiTokenClsHead
from .paws_head import PAWSHead
from .quant_linear_head import LSQLinearClsHead, QuantLinearClsHead
from .revcol_head import RevColClsHead, RevColDecoder
from .seer_head import SEERNeck
from .sot_head import MGCrP, SoTClsHead
from .splitmask_head import (SplitMaskHead, SplitMaskHOGTarget,
                             SplitMaskPixelTarget)

__all__ = [
    'DINOHead', 'DRLocHead', 'DeeperClusterHead', 'DeiTDistillHead',
    'DropoutLinearClsHead', 'GhostNetClsHead', 'InternImageClsHead',
    'LeViTClsHead', 'MACLHead', 'MACLMoCoV3Head', 'MultiTokenClsHead',
    'LSQLinearClsHead', 'PAWSHead', 'QuantLinearClsHead', 'RevColClsHead',
    'RevColDecoder', 'SEERNeck', 'MGCrP', 'SoTClsHead',
    'SplitMaskHOGTarget', 'SplitMaskHead', 'SplitMaskPixelTarget'
]
