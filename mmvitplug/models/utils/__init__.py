# Copyright (c) mmvitplug contributors.
from .pretrained import (LoadReport, convert_if_official, is_official_layout,
                         load_pretrained, unwrap_state_dict)

__all__ = [
    'LoadReport', 'convert_if_official', 'is_official_layout',
    'load_pretrained', 'unwrap_state_dict'
]
