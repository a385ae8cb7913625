# Copyright (c) mmvitplug contributors.
from .cosub import CoSubLoss
from .distill import DeiTDistillLoss

__all__ = ['CoSubLoss', 'DeiTDistillLoss']
