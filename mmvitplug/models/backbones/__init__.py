# Copyright (c) mmvitplug contributors.
from .cait import CaiT
from .deit import DeiT
from .resmlp import ResMLP

__all__ = ['CaiT', 'DeiT', 'ResMLP']
