# Copyright (c) mmvitplug contributors.
"""Generators of the small datasets bundled with mmvitplug."""
from .bundled import (DATASET_NAMES, DIGIT_CLASSES, SHAPE_CLASSES,
                      SHAPE_SEG_CLASSES, make_all, make_digits,
                      make_shapes_ade, make_shapes_coco)

__all__ = [
    'DATASET_NAMES', 'DIGIT_CLASSES', 'SHAPE_CLASSES', 'SHAPE_SEG_CLASSES',
    'make_all', 'make_digits', 'make_shapes_ade', 'make_shapes_coco'
]
