# Copyright (c) mmvitplug contributors.
from .cosub import CoSubLoss
from .distill import DeiTDistillLoss
from .utils import call_loss, get_targets

__all__ = ['CoSubLoss', 'DeiTDistillLoss', 'call_loss', 'get_targets']
