# Copyright (c) mmvitplug contributors.
from .cosub import CoSubClassifier
from .distill import DistillationClassifier, load_teacher_checkpoint

__all__ = ['CoSubClassifier', 'DistillationClassifier', 'load_teacher_checkpoint']
