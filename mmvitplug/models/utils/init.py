# Copyright (c) mmvitplug contributors.
"""``init_cfg=dict(type='mmvitplug.Pretrained', ...)`` for any module."""
from typing import Optional

import torch.nn as nn

from mmvitplug.converters import get_converter
from mmvitplug.registry import WEIGHT_INITIALIZERS
from .pretrained import load_pretrained


@WEIGHT_INITIALIZERS.register_module(name='Pretrained')
class PretrainedInit:
    """Load a checkpoint into any module through
    :func:`~mmvitplug.models.utils.load_pretrained`.

    mmengine's ``Pretrained`` initialiser reads mmengine checkpoints only:
    a head or a neck given an official checkpoint (``{'model': ...}``,
    official key names) fails to load. This one converts official layouts
    with the converter registered under ``converter`` (the backbone type
    whose checkpoint it is, e.g. ``'CaiT'``), resizes position embeddings
    and reports every missing / unexpected key, as our backbones' own
    ``Pretrained`` init_cfg does. mmvitplug backbones need only
    ``type='Pretrained'``; this is for the other modules, e.g. the
    classifier head of a fine-tuning config::

        head=dict(init_cfg=dict(type='mmvitplug.Pretrained',
                                checkpoint=..., prefix='head.',
                                converter='CaiT'))

    Args:
        checkpoint (str): Path or URL of the checkpoint.
        prefix (str, optional): Prefix of the module's keys in the
            (converted) checkpoint, e.g. ``'head.'``. Defaults to None.
        converter (str, optional): Name of the registered converter for
            official layouts; None finds it from the module's type (its own
            or its ``backbone`` child's). Defaults to None.
        map_location (str): Passed to ``torch.load``. Defaults to 'cpu'.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = None,
                 converter: Optional[str] = None,
                 map_location: str = 'cpu'):
        self.checkpoint = checkpoint
        self.prefix = prefix
        # unknown names fail here, when the model is built
        self.converter = None if converter is None else get_converter(
            converter)
        self.map_location = map_location

    def __call__(self, module: nn.Module):
        load_pretrained(
            module,
            self.checkpoint,
            prefix=self.prefix,
            converter=self.converter,
            map_location=self.map_location)
