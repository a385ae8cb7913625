# Copyright (c) mmvitplug contributors.
"""Backbone weights out of a pretraining checkpoint."""
from typing import Dict, Optional, Type

import torch

#: where a model keeps the backbone to export unless its class says
DEFAULT_BACKBONE = 'backbone'


def pretrained_backbone_of(model_cls: Optional[Type]) -> str:
    """The state-dict prefix (no trailing dot) of the backbone a model class
    exports: its ``pretrained_backbone`` attribute (DINO: the teacher's),
    else ``'backbone'`` (mmpretrain's self-supervisors and classifiers)."""
    return getattr(model_cls, 'pretrained_backbone', DEFAULT_BACKBONE)


def export_backbone(state_dict: Dict[str, torch.Tensor],
                    prefix: str) -> Dict[str, torch.Tensor]:
    """The tensors under ``prefix.`` renamed ``backbone.*``, the layout that
    classification, detection and segmentation configs load with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
    and that a classifier loads with ``load_from``.

    Args:
        state_dict (dict): A training checkpoint's ``state_dict``.
        prefix (str): Prefix of the backbone, e.g.
            ``'teacher.module.backbone'``.

    Returns:
        dict: ``{'backbone.<name>': tensor}``.

    Raises:
        KeyError: No tensor starts with ``prefix.``; the message lists the
            prefixes the checkpoint has.
    """
    head = prefix.rstrip('.') + '.'
    out = {f'backbone.{k[len(head):]}': v
           for k, v in state_dict.items() if k.startswith(head)}
    if not out:
        roots = sorted({'.'.join(k.split('.')[:2]) for k in state_dict})
        raise KeyError(f'no weights under {head!r} in the checkpoint; its '
                       f'keys start with {roots[:20]}')
    return out
