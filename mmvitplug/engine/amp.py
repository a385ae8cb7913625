# Copyright (c) mmvitplug contributors.
"""Mixed precision for training and testing, on GPU or CPU."""
import inspect
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import LOOPS
from mmengine.runner import TestLoop
from mmengine.runner.amp import autocast

from mmvitplug.registry import OPTIM_WRAPPERS
from .optimizers.grad_clip import ExtraClipModesMixin


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(ExtraClipModesMixin, OptimWrapper):
    """Optimizer wrapper training under bfloat16 autocast, on CPU or GPU.

    mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. bfloat16 has
    float32's exponent range, so unlike float16 it needs no loss scaling:
    gradients and the optimizer step stay in float32, only the forward's
    matmuls and convolutions run in bfloat16 (1.65-2x faster on CPUs with
    AVX-512 bf16). ``tools/train.py --amp`` picks this wrapper on CPU.
    It takes the clip types of :class:`~mmvitplug.engine.ClipOptimWrapper`
    (``'agc'``, ``'param_norm'``) besides mmengine's.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast(dtype=torch.bfloat16):
            yield


def _loop_class(loop_type, scope):
    """The class a loop config's ``type`` names, looked up in ``scope``."""
    if inspect.isclass(loop_type):
        return loop_type
    with LOOPS.switch_scope_and_registry(scope) as registry:
        return registry.get(loop_type)


def enable_test_amp(cfg) -> torch.dtype:
    """Make the test loop run the model under autocast.

    Sets ``test_cfg.fp16 = True``: mmengine's ``TestLoop`` then runs every
    ``test_step`` inside ``mmengine.runner.amp.autocast``, i.e. ``float16``
    autocast on CUDA and ``bfloat16`` autocast on CPU (the only CPU autocast
    dtype; what :class:`BF16OptimWrapper` trains with). Works on any config
    with a test loop, including a test-only config without
    ``optim_wrapper``; ``tools/test.py --amp`` calls it.

    Args:
        cfg (mmengine.Config): The config, modified in place.

    Returns:
        torch.dtype: The autocast dtype the test loop will use here.

    Raises:
        ValueError: The config has no ``test_cfg`` or its loop type takes no
            ``fp16`` argument (only ``TestLoop`` and loops with that argument
            can autocast).
    """
    test_cfg = cfg.get('test_cfg', None)
    if test_cfg is None:
        raise ValueError(
            '--amp needs a test loop: the config has no test_cfg (add '
            "`test_cfg = dict(type='TestLoop')`).")
    loop_type = test_cfg.get('type', TestLoop)
    loop_cls = _loop_class(loop_type, cfg.get('default_scope', None))
    if loop_cls is None:
        raise ValueError(f'test_cfg.type={loop_type!r} is not a registered '
                         "loop; the default is 'TestLoop'.")
    if 'fp16' not in inspect.signature(loop_cls.__init__).parameters:
        raise ValueError(
            f'--amp sets test_cfg.fp16, which the test loop {loop_type!r} '
            "does not take; use type='TestLoop' (or a loop with an fp16 "
            'argument).')
    test_cfg['fp16'] = True
    cfg.test_cfg = test_cfg
    return torch.get_autocast_dtype(
        'cuda') if torch.cuda.is_available() else torch.bfloat16
