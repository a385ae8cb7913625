# Copyright (c) mmvitplug contributors.
from .distill import DistillationClassifier, load_teacher_checkpoint

__all__ = ['DistillationClassifier', 'load_teacher_checkpoint']
