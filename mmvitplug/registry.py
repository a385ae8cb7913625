# Copyright (c) mmvitplug contributors.
"""Registries of the ``mmvitplug`` scope.

Every registry here is a direct child of the corresponding mmengine root
registry, so configs of any OpenMMLab codebase (default scope ``mmpretrain``,
``mmdet`` or ``mmseg``) reach our modules as ``type='mmvitplug.Name'``.
Nothing is registered into another codebase's registry and ``force=True`` is
never used, so names already taken upstream (``XCiT``, ``LeViT``, ``DINO``,
...) cannot clash with ours.

Inside our own modules, sub-modules named *without* a scope prefix are built
in the current default scope (``mmpretrain`` for classification configs),
exactly as upstream modules do.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmvitplug'

#: Backbones, necks, heads, losses, classifiers and algorithms.
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope=SCOPE,
    locations=['mmvitplug.models'])

#: Training hooks (schedules of self-supervised / distillation methods).
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE,
    locations=['mmvitplug.engine'])

#: Optimizer-wrapper constructors (layer-wise lr decay for any model).
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=['mmvitplug.engine'])

#: Optimizers (TensorFlow-style RMSprop).
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE,
    locations=['mmvitplug.engine'])

#: Optimizer wrappers (bf16 autocast that also runs on CPU).
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['mmvitplug.engine'])

#: Parameter schedulers (cosine restarts renewed every period).
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['mmvitplug.engine'])

#: Weight initialisers (``mmvitplug.Pretrained``: official layouts, any
#: module).
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['mmvitplug.models'])

#: Datasets and dataset wrappers (k-NN bank / query split).
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE,
    locations=['mmvitplug.datasets'])

#: Data transforms (multi-crop views of self-supervised methods).
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
    locations=['mmvitplug.datasets'])

#: Samplers (class-stratified support batches, uniform over clusters).
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE,
    locations=['mmvitplug.datasets'])

#: Metrics (weighted k-NN accuracy).
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE,
    locations=['mmvitplug.evaluation'])

#: Loops.
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope=SCOPE,
    locations=['mmvitplug.engine'])
