# Copyright (c) mmvitplug contributors.
"""Pure functions mapping official checkpoints to mmvitplug state dicts.

Each converter registers itself under the type name of the backbone it
serves, with a recogniser of its official layout (see
:mod:`mmvitplug.converters.registry`); importing this package registers
them all.
"""
from .archnet_resnet import archnet_init_from_resnet, convert_archnet_resnet
from .archnet_vit import archnet_init_from_deit
from .cait import convert_cait
from .cct import convert_cct
from .cmt import convert_cmt
from .convit import convert_convit
from .cvt import convert_cvt
from .deit import convert_deit
from .dhvt import convert_dhvt
from .g_ghost_regnet import convert_g_ghost_regnet
from .ghostnet import convert_ghostnet
from .hatnet import convert_hatnet
from .internimage import convert_internimage
from .levit import convert_levit
from .lit import convert_lit
from .litv2 import convert_litv2
from .patchconvnet import convert_patchconvnet
from .pit import convert_pit
from .registry import (DROP, AnyLayout, Converter, KeyLayout,
                       converter_for_type, converter_of_function,
                       get_converter, map_keys, prepare_state_dict,
                       recognising_converters, register_converter,
                       registered_converters, strip_ddp_prefix,
                       unregister_converter, unwrap_state_dict)
from .regnety import convert_regnety
from .resmlp import convert_resmlp
from .revcol import convert_revcol
from .sret import convert_sret
from .xcit import convert_xcit

__all__ = [
    'DROP', 'AnyLayout', 'Converter', 'KeyLayout', 'archnet_init_from_deit',
    'archnet_init_from_resnet', 'convert_archnet_resnet', 'convert_cait',
    'convert_cct', 'convert_cmt', 'convert_convit', 'convert_cvt',
    'convert_deit', 'convert_dhvt', 'convert_g_ghost_regnet',
    'convert_ghostnet', 'convert_hatnet', 'convert_internimage',
    'convert_levit', 'convert_lit', 'convert_litv2', 'convert_patchconvnet',
    'convert_pit', 'convert_regnety', 'convert_resmlp', 'convert_revcol',
    'convert_sret', 'convert_xcit', 'converter_for_type',
    'converter_of_function', 'get_converter', 'map_keys', 'prepare_state_dict',
    'recognising_converters', 'register_converter', 'registered_converters',
    'strip_ddp_prefix', 'unregister_converter', 'unwrap_state_dict'
]
