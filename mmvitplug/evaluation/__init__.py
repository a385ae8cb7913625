# Copyright (c) mmvitplug contributors.
"""Metrics of mmvitplug (as ``mmpretrain.evaluation`` upstream)."""
from .knn import BankQueryMetric, KNNAccuracy, knn_vote
from .snn import SNNAccuracy, snn_predict

__all__ = [
    'BankQueryMetric', 'KNNAccuracy', 'knn_vote', 'SNNAccuracy', 'snn_predict'
]
