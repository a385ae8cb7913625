# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier
from .drloc import DRLocClassifier
from .drnet import DRNetClassifier, ResolutionPredictor
from .mixskd import MixSKDClassifier, MixSKDEnsembleHead
from .revcol import RevColClassifier

__all__ = [
    'CoSubClassifier', 'DRLocClassifier', 'DRNetClassifier',
    'MixSKDClassifier', 'MixSKDEnsembleHead', 'ResolutionPredictor',
    'RevColClassifier'
]
