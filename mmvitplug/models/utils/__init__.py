# Copyright (c) mmvitplug contributors.
from .init import PretrainedInit
from .pretrained import (LoadReport, convert_if_official, find_converter,
                         is_official_layout, load_pretrained,
                         unwrap_state_dict)

__all__ = [
    'LoadReport', 'PretrainedInit', 'convert_if_official', 'find_converter',
    'is_official_layout', 'load_pretrained', 'unwrap_state_dict'
]
