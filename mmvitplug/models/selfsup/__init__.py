# Copyright (c) mmvitplug contributors.
"""Self- and semi-supervised algorithms (as ``mmpretrain.models.selfsup``):
each orchestrates a backbone of any family through the backbone contract;
its maths and state live in its loss, its schedules in hooks."""
from .embedding import EmbeddingModel

__all__ = ['EmbeddingModel']
