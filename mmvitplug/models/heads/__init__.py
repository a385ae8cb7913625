# Copyright (c) mmvitplug contributors.
from .deit_distill_head import DeiTDistillHead
from .multi_token_head import MultiTokenClsHead

__all__ = ['DeiTDistillHead', 'MultiTokenClsHead']
