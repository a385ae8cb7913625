# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier

__all__ = ['CoSubClassifier']
