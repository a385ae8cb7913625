# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier
from .drloc import DRLocClassifier
from .mixskd import MixSKDClassifier, MixSKDEnsembleHead
from .revcol import RevColClassifier

__all__ = [
    'CoSubClassifier', 'DRLocClassifier', 'MixSKDClassifier',
    'MixSKDEnsembleHead', 'RevColClassifier'
]
