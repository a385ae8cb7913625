# Copyright (c) mmvitplug contributors.
"""Pure functions mapping official checkpoints to mmvitplug state dicts."""
from .cait import convert_cait
from .deit import convert_deit
from .patchconvnet import convert_patchconvnet
from .resmlp import convert_resmlp

#: Converter per model family, used by ``tools/model_converters/convert.py``.
CONVERTERS = {
    'cait': convert_cait,
    'deit': convert_deit,
    'patchconvnet': convert_patchconvnet,
    'resmlp': convert_resmlp,
}

__all__ = [
    'CONVERTERS', 'convert_cait', 'convert_deit', 'convert_patchconvnet',
    'convert_resmlp'
]
