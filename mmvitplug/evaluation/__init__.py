# Copyright (c) mmvitplug contributors.
"""Metrics of mmvitplug (as ``mmpretrain.evaluation`` upstream)."""
from .knn import KNNAccuracy, knn_vote

__all__ = ['KNNAccuracy', 'knn_vote']
