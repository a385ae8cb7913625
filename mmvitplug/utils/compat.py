# Copyright (c) mmvitplug contributors.
"""Fixes for what the pinned OpenMMLab stack breaks on current PyTorch.

``--resume`` under torch>=2.6
    ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, and the
    weights-only unpickler refuses mmengine's checkpoints because their
    ``message_hub`` holds :class:`mmengine.logging.HistoryBuffer` objects
    (whose state is numpy arrays). mmengine 0.10.7 calls ``torch.load``
    without ``weights_only``, so every ``--resume`` fails (mmengine #1655).
    :func:`apply` allow-lists exactly the classes an mmengine checkpoint
    contains (:data:`MMENGINE_CHECKPOINT_GLOBALS`) with
    :func:`torch.serialization.add_safe_globals`, and makes ``HistoryBuffer``
    pickle as plain data (mmengine pickles its statistics functions through
    ``builtins.getattr``, which must never be allow-listed). Loading stays
    weights-only for every file: a checkpoint carrying any other global
    (code) is still refused by torch. Checkpoints written by a run without
    the plugin imported carry that ``getattr`` and are refused too.

Distributed training without CUDA
    mmengine's PyTorch launcher calls ``torch.cuda.set_device`` and builds
    DDP with ``device_ids=[LOCAL_RANK]``, so ``dist_train.sh`` dies on a
    CPU-only machine. :func:`setup_distributed` initialises the process group
    itself (``nccl`` with CUDA, ``gloo`` without) and
    :func:`adapt_cfg_to_device` makes the config match the machine.
"""
import importlib
import os
from typing import List, Optional

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


#: Filled by :func:`apply`; kept for inspection and tests.
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


def apply() -> None:
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


def default_dist_backend() -> str:
    """``'nccl'`` when CUDA is usable, else ``'gloo'``."""
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def setup_distributed(launcher: str, backend: Optional[str] = None) -> str:
    """Initialise the default process group on GPU or CPU machines alike.

    Replaces mmengine's ``init_dist`` for the ``pytorch`` launcher (torchrun),
    which unconditionally calls ``torch.cuda.set_device``. Other launchers
    (slurm, mpi) are GPU cluster launchers and go to mmengine unchanged.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        backend (str, optional): Process-group backend. Defaults to
            :func:`default_dist_backend`. Asking for ``'nccl'`` without CUDA
            raises, naming ``'gloo'`` as the CPU choice.

    Returns:
        str: The backend in use.
    """
    backend = backend or default_dist_backend()
    if backend == 'nccl' and not torch.cuda.is_available():
        raise RuntimeError(
            "dist backend 'nccl' needs CUDA, which this machine lacks; use "
            "'gloo' for CPU training (leave env_cfg.dist_cfg.backend unset "
            'and mmvitplug picks it).')
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_backend()
    if launcher != 'pytorch':
        from mmengine.dist import init_dist
        init_dist(launcher, backend=backend)
        return backend
    for key in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT'):
        if key not in os.environ:
            raise RuntimeError(
                f'--launcher pytorch expects the environment variable {key} '
                'set by torchrun; start training with tools/dist_train.sh '
                'or `python -m torch.distributed.run`.')
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    torch_dist.init_process_group(backend=backend)
    return backend


def finish_distributed() -> None:
    """Wait for every process, then destroy the default process group.

    A process that exits with its gloo group alive can abort in the group's
    destructor ("terminate called without an active exception", SIGABRT),
    so a finished ``tools/dist_train.sh`` run fails at random; the tools
    call this once training / testing has returned. A no-op outside
    distributed runs.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def prepare_launch(cfg, launcher: str = 'none') -> None:
    """Fit a config to this machine and start the process group if needed.

    What ``tools/train.py`` and ``tools/test.py`` do before building the
    runner: :func:`adapt_cfg_to_device` (its notes are logged), then, for a
    distributed launcher, :func:`setup_distributed` with the config's
    ``env_cfg.dist_cfg.backend`` (the runner then finds the group ready and
    skips mmengine's CUDA-only ``init_dist``).

    Args:
        cfg (mmengine.Config): The config, modified in place.
        launcher (str): The job launcher; ``'none'`` for one process.
    """
    from mmengine.logging import print_log
    for note in adapt_cfg_to_device(cfg, launcher):
        print_log(note, logger='current')
    if launcher != 'none':
        backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend')
        setup_distributed(launcher, backend)


def _replace_sync_bn(cfg) -> int:
    """Turn every ``SyncBN`` norm config into ``BN`` in place."""
    count = 0
    if isinstance(cfg, dict):
        if cfg.get('type') in ('SyncBN', 'MMSyncBN'):
            cfg['type'] = 'BN'
            count += 1
        for value in cfg.values():
            count += _replace_sync_bn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            count += _replace_sync_bn(value)
    return count


def adapt_cfg_to_device(cfg, launcher: str = 'none') -> List[str]:
    """Make a config that assumes GPUs run on this machine.

    On a machine without CUDA: the distributed backend becomes ``gloo``; DDP is
    built without ``device_ids`` (required for CPU modules); ``SyncBN`` becomes
    ``BN`` (``torch.nn.SyncBatchNorm`` has no CPU kernel). Nothing changes on a
    CUDA machine.

    Args:
        cfg (mmengine.Config): The config, modified in place.
        launcher (str): The job launcher; ``'none'`` for one process.

    Returns:
        list[str]: Human-readable notes on what was changed (for the log).
    """
    notes: List[str] = []
    if torch.cuda.is_available():
        return notes
    n_sync = _replace_sync_bn(cfg._cfg_dict if hasattr(cfg, '_cfg_dict')
                              else cfg)
    if n_sync:
        notes.append(f'no CUDA: {n_sync} SyncBN norm config(s) -> BN')
    if launcher != 'none':
        env_cfg = cfg.setdefault('env_cfg', {})
        dist_cfg = env_cfg.setdefault('dist_cfg', {})
        if dist_cfg.get('backend', 'gloo') != 'gloo':
            notes.append(f"no CUDA: dist backend {dist_cfg['backend']!r} "
                         "-> 'gloo'")
        dist_cfg['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
        notes.append('no CUDA: DDP without device_ids (CPU module)')
    return notes
