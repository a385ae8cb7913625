# Copyright (c) mmvitplug contributors.
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast

from mmvitplug.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(OptimWrapper):
    """Optimizer wrapper training under bfloat16 autocast, on CPU or GPU.

    mmengine's ``AmpOptimWrapper`` refuses to run without a GPU. bfloat16 has
    float32's exponent range, so unlike float16 it needs no loss scaling:
    gradients and the optimizer step stay in float32, only the forward's
    matmuls and convolutions run in bfloat16 (1.65-2x faster on CPUs with
    AVX-512 bf16). ``tools/train.py --amp`` picks this wrapper on CPU.
    """

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast(dtype=torch.bfloat16):
            yield
