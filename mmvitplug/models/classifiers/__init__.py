# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier
from .drloc import DRLocClassifier

__all__ = ['CoSubClassifier', 'DRLocClassifier']
