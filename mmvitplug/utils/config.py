# Copyright (c) mmvitplug contributors.
"""Config checks that turn silent registry misses into clear errors."""
from typing import List, Optional

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


AMP_DTYPES = ('float16', 'bfloat16')


def enable_amp(cfg, dtype: Optional[str] = None) -> str:
    """Switch a config's optimizer wrapper to mixed precision.

    By default (``dtype=None``): fp16 with dynamic loss scaling (mmengine
    ``AmpOptimWrapper``) on GPU; bf16 autocast
    (:class:`mmvitplug.engine.BF16OptimWrapper`) on CPU, where
    ``AmpOptimWrapper`` refuses to run. ``dtype='bfloat16'`` picks the bf16
    wrapper on GPU too (no loss scaling: bf16 has float32's exponent range);
    ``dtype='float16'`` needs a GPU. A
    :class:`mmvitplug.engine.ClipOptimWrapper` (extra clip types) becomes
    its fp16 twin :class:`mmvitplug.engine.AmpClipOptimWrapper` and the bf16
    wrapper (which takes the same clip types) otherwise.

    Args:
        cfg (mmengine.Config): The config, modified in place.
        dtype (str, optional): ``'float16'``, ``'bfloat16'`` or None (the
            device's default above). Defaults to None.

    Returns:
        str: The optimizer wrapper type now in the config.

    Raises:
        ValueError: An unknown ``dtype``, ``'float16'`` without a GPU, or an
            optimizer wrapper without a mixed-precision twin.
    """
    if dtype is not None and dtype not in AMP_DTYPES:
        raise ValueError(f'amp dtype must be one of {", ".join(AMP_DTYPES)} '
                         f'(or None: the device default), got {dtype!r}')
    cuda = torch.cuda.is_available()
    if dtype == 'float16' and not cuda:
        raise ValueError(
            "amp dtype 'float16' needs a GPU (mmengine's AmpOptimWrapper "
            "refuses CPUs); use 'bfloat16' on CPU")
    wrapper = cfg.optim_wrapper
    current = wrapper.get('type', 'OptimWrapper')
    # full-precision wrapper -> (fp16 twin, bf16 twin)
    twins = {
        'OptimWrapper': ('AmpOptimWrapper', 'mmvitplug.BF16OptimWrapper'),
        'mmvitplug.ClipOptimWrapper':
        ('mmvitplug.AmpClipOptimWrapper', 'mmvitplug.BF16OptimWrapper'),
    }
    amp_types = sorted({t for pair in twins.values() for t in pair})
    if current in amp_types:
        bf16 = (current == 'mmvitplug.BF16OptimWrapper'
                or wrapper.get('dtype', None) in ('bfloat16', torch.bfloat16))
        if dtype is not None and dtype != ('bfloat16' if bf16 else 'float16'):
            raise ValueError(
                f'amp dtype {dtype!r} asked for, but the config already '
                f'trains in mixed precision with {current!r} '
                f'({"bfloat16" if bf16 else "float16"}): change the config '
                'or drop the dtype')
        return current
    if current not in twins:
        raise ValueError(
            f'--amp works with optim_wrapper types {", ".join(twins)} '
            f'(and the mixed-precision {", ".join(amp_types)}); the config '
            f'uses {current!r}: set the mixed-precision wrapper in the '
            'config instead.')
    if dtype is None:
        dtype = 'float16' if cuda else 'bfloat16'
    if dtype == 'float16':
        wrapper.type = twins[current][0]
        wrapper.setdefault('loss_scale', 'dynamic')
    else:
        wrapper.type = twins[current][1]
    return wrapper.type
