# Copyright (c) mmvitplug contributors.
"""Knowledge distillation with mmrazor's roles: the algorithm owns the frozen
teacher (:class:`DistillationClassifier`), recorders address student and
teacher modules by path, connectors adapt shapes and losses hold the maths
(:class:`ConfigurableDistiller`)."""
from .classifier import DistillationClassifier, load_teacher
from .connectors import ConvConnector, LinearConnector
from .distiller import ConfigurableDistiller
from .recorders import (ModuleInputsRecorder, ModuleOutputsRecorder,
                        build_recorder, find_module)

__all__ = [
    'ConfigurableDistiller', 'ConvConnector', 'DistillationClassifier',
    'LinearConnector', 'ModuleInputsRecorder', 'ModuleOutputsRecorder',
    'build_recorder', 'find_module', 'load_teacher'
]
