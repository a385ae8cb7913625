# Copyright (c) mmvitplug contributors.
from .distill import DeiTDistillLoss

__all__ = ['DeiTDistillLoss']
