# Copyright (c) mmvitplug contributors.
from .compat import (adapt_cfg_to_device, checkpoint_safe_globals,
                     default_dist_backend, finish_distributed, prepare_launch,
                     setup_distributed)
from .config import check_plugin_imports, enable_amp, plugin_types

__all__ = [
    'adapt_cfg_to_device', 'check_plugin_imports', 'checkpoint_safe_globals',
    'default_dist_backend', 'enable_amp', 'finish_distributed',
    'plugin_types', 'prepare_launch', 'setup_distributed'
]
