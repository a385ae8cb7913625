# Copyright (c) mmvitplug contributors.
"""Config checks that turn silent registry misses into clear errors."""
from typing import List

import torch

from mmvitplug.registry import SCOPE

IMPORT_LINE = ("custom_imports = dict(imports=['mmvitplug'], "
               'allow_failed_imports=False)')


def plugin_types(cfg) -> List[str]:
    """All ``type='mmvitplug.X'`` names used anywhere in a config."""
    found: List[str] = []

    def walk(node):
        if isinstance(node, dict):
            t = node.get('type')
            if isinstance(t, str) and t.startswith(SCOPE + '.'):
                found.append(t)
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(cfg._cfg_dict.to_dict() if hasattr(cfg, '_cfg_dict') else cfg)
    return sorted(set(found))


def check_plugin_imports(cfg, filename: str = '<config>') -> None:
    """Fail early when a config uses mmvitplug modules without importing it.

    Upstream runners only know our modules after ``custom_imports`` has run;
    without it, a config fails deep inside the registry with a bare
    ``KeyError``. This names the missing line instead.

    Raises:
        ValueError: The config uses ``mmvitplug.*`` types but its
            ``custom_imports`` does not import ``mmvitplug``.
    """
    used = plugin_types(cfg)
    if not used:
        return
    custom = cfg.get('custom_imports') or {}
    imports = custom.get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    if any(m == SCOPE or m.startswith(SCOPE + '.') for m in imports):
        return
    raise ValueError(
        f'{filename} uses mmvitplug modules ({", ".join(used)}) but does not '
        f'import the plugin (custom_imports = {custom or None}). Add this '
        f'line to the config:\n    {IMPORT_LINE}')


def enable_amp(cfg) -> str:
    """Switch a config's optimizer wrapper to mixed precision.

    fp16 with dynamic loss scaling (mmengine ``AmpOptimWrapper``) on GPU;
    bf16 autocast (:class:`mmvitplug.engine.BF16OptimWrapper`) on CPU, where
    ``AmpOptimWrapper`` refuses to run.

    Returns:
        str: The optimizer wrapper type now in the config.
    """
    wrapper = cfg.optim_wrapper
    current = wrapper.get('type', 'OptimWrapper')
    amp_types = ('AmpOptimWrapper', 'mmvitplug.BF16OptimWrapper')
    if current in amp_types:
        return current
    if current != 'OptimWrapper':
        raise ValueError(
            f'--amp works with optim_wrapper types OptimWrapper, '
            f'{", ".join(amp_types)}; the config uses {current!r}: set the '
            'mixed-precision wrapper in the config instead.')
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.type = 'mmvitplug.BF16OptimWrapper'
    return wrapper.type
