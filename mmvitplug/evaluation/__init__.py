# Copyright (c) mmvitplug contributors.
"""Metrics of mmvitplug (as ``mmpretrain.evaluation`` upstream)."""
from .knn import KNNAccuracy, knn_vote
from .snn import SNNAccuracy, snn_predict

__all__ = ['KNNAccuracy', 'knn_vote', 'SNNAccuracy', 'snn_predict']
