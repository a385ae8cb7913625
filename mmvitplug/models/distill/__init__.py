# Copyright (c) mmvitplug contributors.
"""Knowledge distillation with mmrazor's roles: the algorithm owns the frozen
teacher (:class:`DistillMixin`, in :class:`DistillationClassifier` and
:class:`DistillationSegmentor`), recorders address student and teacher
modules by path, connectors adapt shapes and losses hold the maths
(:class:`ConfigurableDistiller`)."""
from .archnet import (ArchNetAdapterConnector, ArchNetClassifier,
                      ArchNetResNetDistiller, ArchNetTokenAdapterConnector,
                      ArchNetViTDistiller)
from .classifier import DistillationClassifier
from .connectors import (ConvConnector, LinearConnector, MapToTokensConnector,
                         ResizeConnector, TokensToMapConnector)
from .distiller import ConfigurableDistiller, build_distiller
from .mutual import MutualClassifier
from .recorders import (AttentionRelationsRecorder, ModuleInputsRecorder,
                        ModuleOutputsRecorder, build_recorder, find_module)
from .segmentor import DistillationSegmentor
from .teacher import DistillMixin, load_teacher
from .transkd import (CSFConnector, EmbeddingAssistantConnector,
                      GLMixerConnector, SelectiveFusion)

__all__ = [
    'ArchNetAdapterConnector', 'ArchNetClassifier', 'ArchNetResNetDistiller',
    'ArchNetTokenAdapterConnector', 'ArchNetViTDistiller',
    'AttentionRelationsRecorder',
    'CSFConnector', 'ConfigurableDistiller', 'ConvConnector', 'DistillMixin',
    'DistillationClassifier', 'DistillationSegmentor',
    'EmbeddingAssistantConnector', 'GLMixerConnector', 'LinearConnector',
    'MapToTokensConnector', 'ModuleInputsRecorder', 'ModuleOutputsRecorder',
    'MutualClassifier', 'ResizeConnector', 'SelectiveFusion',
    'TokensToMapConnector', 'build_distiller', 'build_recorder', 'find_module',
    'load_teacher'
]
