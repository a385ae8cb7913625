# Copyright (c) mmvitplug contributors.
from .scale_pyramid import ScalePyramid
from .simple_fpn import SimpleFPN

__all__ = ['ScalePyramid', 'SimpleFPN']
