# Copyright (c) mmvitplug contributors.
"""Registration of the norm layers of :mod:`mmvitplug.layers`.

``mmvitplug.layers`` stays pure torch; this module puts its norms in the
``mmvitplug`` model registry, so configs build them with mmcv's
``build_norm_layer(dict(type='mmvitplug.LN2d'), C)``.
"""
from mmvitplug.layers import LayerNorm2d
from mmvitplug.registry import MODELS

MODELS.register_module(name='LN2d', module=LayerNorm2d)

__all__ = ['LayerNorm2d']
