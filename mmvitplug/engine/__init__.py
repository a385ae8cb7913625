# Copyright (c) mmvitplug contributors.
from . import hooks, optimizers, schedulers  # noqa: F401
from .amp import BF16OptimWrapper
from .optimizers import AmpClipOptimWrapper, ClipOptimWrapper, RMSpropTF
from .schedulers import PeriodicCosineRestartLR

__all__ = [
    'AmpClipOptimWrapper', 'BF16OptimWrapper', 'ClipOptimWrapper',
    'PeriodicCosineRestartLR', 'RMSpropTF'
]
