# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier
from .drloc import DRLocClassifier
from .revcol import RevColClassifier

__all__ = ['CoSubClassifier', 'DRLocClassifier', 'RevColClassifier']
