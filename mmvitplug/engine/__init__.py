# Copyright (c) mmvitplug contributors.
from . import hooks, optimizers  # noqa: F401
from .amp import BF16OptimWrapper
from .optimizers import AmpClipOptimWrapper, ClipOptimWrapper, RMSpropTF

__all__ = [
    'AmpClipOptimWrapper', 'BF16OptimWrapper', 'ClipOptimWrapper', 'RMSpropTF'
]
