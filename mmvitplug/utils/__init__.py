# Copyright (c) mmvitplug contributors.
from .compat import (allow_mmengine_checkpoints, check_torchrun_env,
                     checkpoint_safe_globals, finish_distributed,
                     float32_on_cpu, has_accelerator, patch_cpu_autocast,
                     patch_cpu_distributed)
from .config import check_plugin_imports, enable_amp, plugin_types

__all__ = [
    'allow_mmengine_checkpoints', 'check_plugin_imports',
    'check_torchrun_env', 'checkpoint_safe_globals', 'enable_amp',
    'finish_distributed', 'float32_on_cpu', 'has_accelerator',
    'patch_cpu_autocast', 'patch_cpu_distributed', 'plugin_types'
]
