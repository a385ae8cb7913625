# Copyright (c) mmvitplug contributors.
"""Fixes for what the pinned OpenMMLab stack breaks on current PyTorch.

``--resume`` under torch>=2.6
    ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, and the
    weights-only unpickler refuses mmengine's checkpoints because their
    ``message_hub`` holds :class:`mmengine.logging.HistoryBuffer` objects
    (whose state is numpy arrays). mmengine 0.10.7 calls ``torch.load``
    without ``weights_only``, so every ``--resume`` fails (mmengine #1655).
    :func:`allow_mmengine_checkpoints` allow-lists exactly the classes an
    mmengine checkpoint contains (:data:`MMENGINE_CHECKPOINT_GLOBALS`) with
    :func:`torch.serialization.add_safe_globals`, and makes ``HistoryBuffer``
    pickle as plain data (mmengine pickles its statistics functions through
    ``builtins.getattr``, which must never be allow-listed). Loading stays
    weights-only for every file: a checkpoint carrying any other global
    (code) is still refused by torch. Checkpoints written by a run without
    the plugin imported carry that ``getattr`` and are refused too.

Distributed training without CUDA
    mmengine's ``pytorch`` launcher (``mmengine.dist.init_dist``, which
    ``Runner.setup_env`` calls) runs ``torch.cuda.set_device`` before
    initialising the process group, and ``Runner.wrap_model`` builds DDP with
    ``device_ids=[LOCAL_RANK]``: every ``dist_train.sh`` (ours or upstream)
    dies on a machine without CUDA. On such a machine, :func:`apply` (run by
    ``import mmvitplug``, so also by a config's ``custom_imports`` before the
    runner is built) replaces exactly two mmengine functions, see
    :func:`patch_cpu_distributed`: the process group becomes ``gloo``, DDP is
    built without ``device_ids`` and ``SyncBatchNorm`` layers are reverted to
    BatchNorm once the model is built. On a machine with CUDA (or another
    accelerator mmengine's launcher binds) nothing is replaced.

CPU autocast (bfloat16) through mmcv ops and evaluators
    mmengine's ``TestLoop`` / ``ValLoop`` with ``fp16=True`` autocast to
    bfloat16 on CPU, and so does :class:`mmvitplug.BF16OptimWrapper`. mmcv
    2.1's CPU ``roi_align`` and ``nms`` kernels refuse bfloat16, and numpy
    (so every metric) cannot read bfloat16 predictions. :func:`apply` wraps
    those ops to run in float32 on low-precision CPU tensors and casts
    bfloat16 CPU predictions to float32 before the metrics
    (:func:`patch_cpu_autocast`); float32 and GPU tensors pass untouched.
"""
import atexit
import functools
import importlib
import logging
import os
import sys
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.distributed as torch_dist


def _numpy_checkpoint_globals() -> List[type]:
    """Numpy globals used to pickle plain numeric arrays and scalars."""
    try:  # numpy >= 1.25 exposes the dtype classes publicly
        from numpy import dtypes as np_dtypes
        dtype_classes = [
            getattr(np_dtypes, name) for name in (
                'Float64DType', 'Float32DType', 'Float16DType', 'Int64DType',
                'Int32DType', 'Int16DType', 'Int8DType', 'UInt8DType',
                'BoolDType')
        ]
    except ImportError:  # pragma: no cover - older numpy
        dtype_classes = []
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if np.lib.NumpyVersion(np.__version__) >=
        '2.0.0' else 'numpy.core.multiarray')
    return [
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtype_classes,
    ]


def checkpoint_safe_globals() -> List[type]:
    """The exact globals an mmengine training checkpoint is made of.

    Returns:
        list: ``HistoryBuffer`` (message hub log scalars) and the numpy pieces
        that rebuild its numeric arrays and scalars. Nothing that can run
        arbitrary code.
    """
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, *_numpy_checkpoint_globals()]


#: Filled by :func:`allow_mmengine_checkpoints`; kept for inspection and tests.
MMENGINE_CHECKPOINT_GLOBALS: List[type] = []

#: HistoryBuffer's own statistics, re-registered by every HistoryBuffer.
_BUILTIN_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    """Pickle a HistoryBuffer as data only.

    mmengine's own ``__getstate__`` stores the class-level table of
    statistics *functions*, which protocol-2 pickles as
    ``getattr(HistoryBuffer, 'mean')``; allow-listing ``getattr`` would open
    the weights-only unpickler to arbitrary code, so the built-in statistics
    are left out (every HistoryBuffer registers them again) and only custom
    ones are kept, as before.
    """
    state = {k: v for k, v in self.__dict__.items()
             if k != 'statistics_methods'}
    custom = {k: v for k, v in self._statistics_methods.items()
              if k not in _BUILTIN_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return state


def _patch_history_buffer(history_buffer_cls) -> None:
    original_setstate = history_buffer_cls.__setstate__

    def __setstate__(self, state):
        original_setstate(self, state)
        for name in _BUILTIN_STATISTICS:
            self._statistics_methods.setdefault(
                name, getattr(history_buffer_cls, name))

    history_buffer_cls.__getstate__ = _history_buffer_getstate
    history_buffer_cls.__setstate__ = __setstate__


def allow_mmengine_checkpoints() -> None:
    """Make mmengine checkpoints loadable with ``weights_only=True``.

    Idempotent. Allow-lists :func:`checkpoint_safe_globals` and makes
    ``HistoryBuffer`` pickle as data only (see
    :func:`_history_buffer_getstate`).
    """
    if MMENGINE_CHECKPOINT_GLOBALS:
        return
    from mmengine.logging import HistoryBuffer
    _patch_history_buffer(HistoryBuffer)
    MMENGINE_CHECKPOINT_GLOBALS.extend(checkpoint_safe_globals())
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)


# ---------------------------------------------------------------------------
# Distributed training without CUDA

#: The variables torchrun sets and mmengine's ``pytorch`` launcher reads.
TORCHRUN_ENV = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT')

#: What this module replaced: ``{qualified name: original}``.
_ORIGINALS: Dict[str, Callable] = {}
_INIT_DIST_PYTORCH = 'mmengine.dist.utils._init_dist_pytorch'
_WRAP_MODEL = 'mmengine.runner.Runner.wrap_model'
_EVALUATOR_PROCESS = 'mmengine.evaluator.Evaluator.process'
_EXIT_TEARDOWN: List[Callable] = []


def has_accelerator() -> bool:
    """Whether mmengine's launcher has a device to bind each process to.

    Returns:
        bool: True with CUDA, or with the NPU / MLU / MUSA devices that
        ``mmengine.dist.init_dist`` handles itself.
    """
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    return (torch.cuda.is_available() or is_npu_available()
            or is_mlu_available() or is_musa_available())


def check_torchrun_env() -> None:
    """Fail clearly when ``--launcher pytorch`` runs outside torchrun.

    Raises:
        RuntimeError: One of :data:`TORCHRUN_ENV` is not set; the message
            names it and the commands that set it.
    """
    missing = [key for key in TORCHRUN_ENV if key not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch expects the environment variable(s) '
            f'{", ".join(missing)} set by torchrun; start training with '
            'tools/dist_train.sh or `python -m torch.distributed.run`.')


def _log(msg: str, level: int = logging.INFO) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current', level=level)


def _init_dist_pytorch(backend='nccl', init_backend='torch', **kwargs):
    """Replaces ``mmengine.dist.utils._init_dist_pytorch`` without CUDA.

    mmengine's version ends in ``torch.cuda.set_device(LOCAL_RANK)``, which
    raises on a CPU-only machine. Without an accelerator (and with mmengine's
    default ``init_backend='torch'``) this one initialises the default
    process group from torchrun's environment as mmengine does, minus the
    device binding, with ``gloo`` where the config asks for ``nccl`` (GPU
    only; upstream runtimes all ask for it); any other backend is kept. It
    also registers :func:`_teardown_at_exit`. Everything else goes to
    mmengine's function unchanged.
    """
    if has_accelerator() or init_backend != 'torch':
        return _ORIGINALS[_INIT_DIST_PYTORCH](
            backend, init_backend=init_backend, **kwargs)
    check_torchrun_env()
    if backend == 'nccl':
        _log("mmvitplug: no CUDA: dist backend 'nccl' -> 'gloo'",
             logging.WARNING)
        backend = 'gloo'
    torch_dist.init_process_group(backend=backend, **kwargs)
    if not _EXIT_TEARDOWN:
        atexit.register(_teardown_at_exit)
        _EXIT_TEARDOWN.append(_teardown_at_exit)


def _teardown_at_exit() -> None:
    """Destroy the CPU process group when the interpreter exits.

    A process that exits with its gloo group alive can abort in the group's
    destructor ("terminate called without an active exception", SIGABRT),
    which made 2 of 5 finished 2-process runs fail. Upstream tools never
    destroy the group, so the CPU launcher registers this ``atexit``
    handler: after a normal exit it waits for the other processes
    (:func:`finish_distributed`); after an uncaught exception it destroys
    the group without waiting, so that a crashed process never blocks.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    if getattr(sys, 'last_value', None) is None:
        try:
            torch_dist.barrier()
        except Exception:  # a peer already failed: nothing to wait for
            pass
    torch_dist.destroy_process_group()


def _count_sync_bn(model: torch.nn.Module) -> int:
    types = [torch.nn.SyncBatchNorm]
    try:
        from mmcv.ops import SyncBatchNorm as MMSyncBN
        types.append(MMSyncBN)
    except ImportError:  # pragma: no cover - mmcv without compiled ops
        pass
    return sum(isinstance(m, tuple(types)) for m in model.modules())


def _wrap_model(self, model_wrapper_cfg, model):
    """Replaces ``mmengine.runner.Runner.wrap_model`` without CUDA.

    In a distributed run without an accelerator: every ``SyncBatchNorm``
    (torch's ``SyncBN``, mmcv's ``MMSyncBN``) of the built model is reverted
    to BatchNorm with mmengine's ``revert_sync_batchnorm`` (what mmengine
    does itself for single-process runs; SyncBatchNorm refuses CPU tensors
    in training), a ``sync_bn`` config key is ignored for the same reason,
    and a ``DistributedDataParallel`` wrapper is built with
    ``device_ids=None`` (CPU modules refuse device ids), then mmengine's
    ``wrap_model`` runs. Otherwise mmengine's ``wrap_model`` runs unchanged.
    """
    from mmengine.model import is_model_wrapper, revert_sync_batchnorm
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    original = _ORIGINALS[_WRAP_MODEL]
    if (not self.distributed or has_accelerator()
            or is_model_wrapper(model)):
        return original(self, model_wrapper_cfg, model)
    n_sync = _count_sync_bn(model)
    if n_sync:
        model = revert_sync_batchnorm(model)
        _log(f'mmvitplug: no CUDA: {n_sync} SyncBatchNorm layer(s) -> '
             'BatchNorm (revert_sync_batchnorm)', logging.WARNING)
    if model_wrapper_cfg is None:  # what mmengine builds without a config
        wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                False))
    else:
        wrapper_cfg = dict(model_wrapper_cfg)
    wrapper_type = MODEL_WRAPPERS.get(
        wrapper_cfg.setdefault('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, DistributedDataParallel):
        wrapper_cfg['device_ids'] = None
        _log(f'mmvitplug: no CUDA: {wrapper_cfg["type"]} without '
             'device_ids (CPU module)')
    sync_bn = self.cfg.get('sync_bn', None)
    if sync_bn is not None:
        _log(f'mmvitplug: no CUDA: sync_bn={sync_bn!r} ignored '
             '(SyncBatchNorm needs GPUs)', logging.WARNING)
        self.cfg.sync_bn = None
    try:
        return original(self, wrapper_cfg, model)
    finally:
        if sync_bn is not None:
            self.cfg.sync_bn = sync_bn


def _holds(func, target) -> bool:
    """Whether ``func`` is ``target`` or wraps it (``__wrapped__`` chain)."""
    while func is not None:
        if func is target:
            return True
        func = getattr(func, '__wrapped__', None)
    return False


def _replace(owner, name: str, key: str, new: Callable) -> None:
    current = getattr(owner, name)
    if _holds(current, new):  # already installed
        return
    _ORIGINALS[key] = current
    setattr(owner, name, new)


def patch_cpu_distributed() -> bool:
    """Make mmengine's distributed launch work on a machine without CUDA.

    Idempotent; run by ``import mmvitplug``. On a machine with CUDA (or an
    NPU / MLU / MUSA device) it changes nothing. Otherwise it replaces the
    two mmengine 0.10.7 functions that assume a GPU, whoever calls them
    (``Runner``, upstream or our ``tools/train.py``, ``tools/test.py``):

    - ``mmengine.dist.utils._init_dist_pytorch``, the ``pytorch`` branch of
      ``mmengine.dist.init_dist`` that ``Runner.setup_env`` calls (looked up
      as a module global, so every caller of ``init_dist`` gets it), by
      :func:`_init_dist_pytorch`: ``gloo`` instead of ``nccl``, no
      ``torch.cuda.set_device``, the group destroyed at exit;
    - ``mmengine.runner.Runner.wrap_model`` by :func:`_wrap_model`: SyncBN
      reverted to BN on the built model, DDP without ``device_ids``.

    Both re-check the machine at call time and hand anything that is not a
    CPU distributed run to the original unchanged. Not covered: the
    ``slurm`` / ``mpi`` launchers and ``FlexibleRunner`` strategies (GPU
    cluster paths, untouched).

    Returns:
        bool: Whether the patches are installed.
    """
    if has_accelerator():
        return False
    from mmengine.dist import utils as dist_utils
    from mmengine.runner import Runner
    _replace(dist_utils, '_init_dist_pytorch', _INIT_DIST_PYTORCH,
             _init_dist_pytorch)
    _replace(Runner, 'wrap_model', _WRAP_MODEL, _wrap_model)
    return True


# ---------------------------------------------------------------------------
# mmcv ops under CPU autocast

#: mmcv 2.1 ops whose CPU kernels have no bfloat16 path (``nms_cpu`` reads
#: ``float`` pointers; ``roi_align`` dispatches float, double and half), as
#: ``(module, function)``. mmcv reaches them by these module globals
#: (``RoIAlign.forward``, ``batched_nms``), which is where they are wrapped.
MMCV_FLOAT32_OPS = (('mmcv.ops.roi_align', 'roi_align'),
                    ('mmcv.ops.nms', 'nms'))
_LOW_PRECISION = (torch.bfloat16, torch.float16)


def _is_low_cpu(value) -> bool:
    return (isinstance(value, torch.Tensor) and value.device.type == 'cpu'
            and value.dtype in _LOW_PRECISION)


def float32_on_cpu(op: Callable) -> Callable:
    """Run ``op`` in float32 when it gets low-precision CPU tensors.

    Under CPU autocast (``--amp`` training or testing) the features reaching
    mmcv's ops are bfloat16, which their CPU kernels refuse. The wrapper
    casts bfloat16 / float16 CPU tensor arguments to float32, runs ``op``
    with autocast off and casts floating outputs back to the input's dtype
    (so the model downstream sees what it would have seen); any other call
    goes to ``op`` unchanged.

    Args:
        op (callable): An op taking and returning tensors.

    Returns:
        callable: The wrapped op (``__wrapped__`` is ``op``).
    """
    def cast_back(value, dtype):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.to(dtype)
        if isinstance(value, tuple):
            return tuple(cast_back(v, dtype) for v in value)
        return value

    @functools.wraps(op)
    def wrapper(*args, **kwargs):
        low = [v for v in (*args, *kwargs.values()) if _is_low_cpu(v)]
        if not low:
            return op(*args, **kwargs)
        args = tuple(v.float() if _is_low_cpu(v) else v for v in args)
        kwargs = {k: v.float() if _is_low_cpu(v) else v
                  for k, v in kwargs.items()}
        with torch.autocast('cpu', enabled=False):
            out = op(*args, **kwargs)
        return cast_back(out, low[0].dtype)

    return wrapper


def _bf16_to_float32(value):
    """``value`` with every bfloat16 CPU tensor cast to float32, walking
    plain dicts, lists and tuples (what ``BaseDataElement.to_dict`` gives).
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16 and value.device.type == 'cpu':
            return value.float()
        return value
    if type(value) is dict:
        return {k: _bf16_to_float32(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_bf16_to_float32(v) for v in value)
    return value


def _evaluator_process(self, data_samples, data_batch=None):
    """Replaces ``mmengine.evaluator.Evaluator.process``.

    Under CPU autocast (``test_cfg.fp16`` / ``val_cfg.fp16`` on CPU, e.g.
    ``tools/test.py --amp``) a model's predictions come out in bfloat16,
    which numpy has no dtype for: every metric that calls ``.numpy()`` on
    them (mmdet's ``CocoMetric``, ...) fails. This converts the data samples
    to dicts as mmengine's ``process`` does (``to_dict``), casts their
    bfloat16 CPU tensors to float32 and hands them to mmengine's
    ``process``. Predictions without bfloat16 CPU tensors reach the metrics
    exactly as before.
    """
    from mmengine.structures import BaseDataElement
    data_samples = [
        _bf16_to_float32(
            s.to_dict() if isinstance(s, BaseDataElement) else s)
        for s in data_samples
    ]
    return _ORIGINALS[_EVALUATOR_PROCESS](self, data_samples, data_batch)


def patch_cpu_autocast() -> List[str]:
    """Make CPU autocast (bfloat16) run through mmcv ops and evaluators.

    Idempotent; run by ``import mmvitplug`` on every machine, as it only
    acts on bfloat16 / float16 CPU tensors: wraps :data:`MMCV_FLOAT32_OPS`
    with :func:`float32_on_cpu` (where mmcv's compiled ops are installed)
    and replaces ``mmengine.evaluator.Evaluator.process`` by
    :func:`_evaluator_process`.

    Returns:
        list[str]: What is now patched, as ``module.function``.
    """
    from mmengine.evaluator import Evaluator
    _replace(Evaluator, 'process', _EVALUATOR_PROCESS, _evaluator_process)
    patched = [_EVALUATOR_PROCESS]
    try:
        importlib.import_module('mmcv.ops')
    except ImportError:  # mmcv-lite: no compiled ops to fix
        return patched
    for module_name, name in MMCV_FLOAT32_OPS:
        module = importlib.import_module(module_name)
        op = getattr(module, name)
        if not _is_float32_wrapper(op):
            setattr(module, name, float32_on_cpu(op))
        patched.append(f'{module_name}.{name}')
    return patched


def _is_float32_wrapper(func) -> bool:
    return getattr(func, '__code__', None) is _FLOAT32_WRAPPER_CODE


_FLOAT32_WRAPPER_CODE = float32_on_cpu(lambda: None).__code__


def apply() -> None:
    """Install every fix of this module; ``import mmvitplug`` runs it.

    Idempotent: :func:`allow_mmengine_checkpoints` (weights-only
    ``--resume``), :func:`patch_cpu_distributed` (only on a machine
    without CUDA) and :func:`patch_cpu_autocast`.
    """
    allow_mmengine_checkpoints()
    patch_cpu_distributed()
    patch_cpu_autocast()


def finish_distributed() -> None:
    """Wait for every process, then destroy the default process group.

    A process that exits with its gloo group alive can abort in the group's
    destructor ("terminate called without an active exception", SIGABRT),
    so a finished ``tools/dist_train.sh`` run fails at random; our tools
    call this once training / testing has returned, on GPUs too (on CPUs
    :func:`_teardown_at_exit` would do it otherwise). A no-op outside
    distributed runs.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
