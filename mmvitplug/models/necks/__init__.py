# Copyright (c) mmvitplug contributors.
from .simple_fpn import SimpleFPN

__all__ = ['SimpleFPN']
