# Copyright (c) mmvitplug contributors.
from .concat import ConcatOutputs
from .scale_pyramid import ScalePyramid
from .simple_fpn import SimpleFPN

__all__ = ['ConcatOutputs', 'ScalePyramid', 'SimpleFPN']
