# Copyright (c) mmvitplug contributors.
from . import hooks, optimizers  # noqa: F401
from .amp import BF16OptimWrapper

__all__ = ['BF16OptimWrapper']
