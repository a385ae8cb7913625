# Copyright (c) mmvitplug contributors.
from .deit_distill_head import DeiTDistillHead
from .levit_head import LeViTClsHead
from .multi_token_head import MultiTokenClsHead

__all__ = ['DeiTDistillHead', 'LeViTClsHead', 'MultiTokenClsHead']
