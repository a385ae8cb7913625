# Copyright (c) mmvitplug contributors.
from .deit import DeiT
from .resmlp import ResMLP

__all__ = ['DeiT', 'ResMLP']
