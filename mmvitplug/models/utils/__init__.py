# Copyright (c) mmvitplug contributors.
from .backbone import (BackboneContractMixin, FrozenStagesMixin,
                       block_layer_depth, check_frozen_stages, check_out_type,
                       init_linear_norm, parse_arch, parse_out_indices,
                       pretrained_init_cfg)
from .pretrained import (LoadReport, convert_if_official, is_official_layout,
                         load_pretrained, unwrap_state_dict)

__all__ = [
    'BackboneContractMixin', 'FrozenStagesMixin', 'LoadReport',
    'block_layer_depth', 'check_frozen_stages', 'check_out_type',
    'convert_if_official', 'init_linear_norm', 'is_official_layout',
    'load_pretrained', 'parse_arch', 'parse_out_indices',
    'pretrained_init_cfg', 'unwrap_state_dict'
]
