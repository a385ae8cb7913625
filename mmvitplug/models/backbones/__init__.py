# Copyright (c) mmvitplug contributors.
from .deit import DeiT

__all__ = ['DeiT']
