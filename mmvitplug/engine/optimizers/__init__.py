# Copyright (c) mmvitplug contributors.
from .grad_clip import (AmpClipOptimWrapper, ClipOptimWrapper,
                        adaptive_clip_grad_, clip_grad_norm_per_param_)
from .layer_decay import LayerDecayOptimWrapperConstructor
from .rmsprop_tf import RMSpropTF

__all__ = [
    'AmpClipOptimWrapper', 'ClipOptimWrapper',
    'LayerDecayOptimWrapperConstructor', 'RMSpropTF', 'adaptive_clip_grad_',
    'clip_grad_norm_per_param_'
]
