# Copyright (c) mmvitplug contributors.
"""Multi-scale pyramid from several same-stride maps of a plain backbone."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmvitplug.registry import MODELS


@MODELS.register_module()
class ScalePyramid(BaseModule):
    """Rescale intermediate maps of a plain backbone to a feature pyramid.

    XCiT's dense-prediction design (`El-Nouby et al. 2021
    <https://arxiv.org/abs/2106.09681>`_, Sec. 4.3 and the official
    ``detection/backbone/xcit.py``): the backbone gives ``len(out_strides)``
    maps, all at stride ``in_stride`` (XCiT: layers [3, 5, 7, 11] of a
    12-layer model, [7, 11, 15, 23] of a 24-layer one); map ``i`` is
    rescaled to stride ``out_strides[i]``:

    - up by 2^n: n 2x2 stride-2 transposed convolutions, with a norm and a
      GELU between two of them (p16 to stride 4: ``ConvT, norm, GELU,
      ConvT``; to stride 8: ``ConvT``);
    - same stride: identity;
    - down by 2^n: 2^n x 2^n max pooling (p16 to 32: ``MaxPool 2``; p8
      to 16 / 32: ``MaxPool 2`` / ``MaxPool 4``).

    Channels are unchanged; the outputs feed an FPN (Mask R-CNN, as the
    official detection code: ``neck=[ScalePyramid, FPN]``) or a decode
    head directly (UperNet). Module names follow the official code
    (``fpn1`` .. ``fpn4``; in ``fpn1`` of p16: ``0`` ConvT, ``1`` norm,
    ``3`` ConvT).

    Args:
        in_channels (int): Channels of the backbone maps.
        in_stride (int): Stride of the backbone maps, a power of two
            (the patch size). Defaults to 16.
        out_strides (Sequence[int]): Stride of each output, one per input
            map, powers of two. Defaults to (4, 8, 16, 32).
        norm_cfg (dict): Norm between two transposed convolutions
            (``dict(type='SyncBN')`` in the official multi-GPU runs).
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 in_stride: int = 16,
                 out_strides: Sequence[int] = (4, 8, 16, 32),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)

        def log2(value, name):
            if not isinstance(value, int) or value < 1 or \
                    value & (value - 1):
                raise ValueError(f'{name} must be a power of two, got '
                                 f'{value!r}')
            return value.bit_length() - 1

        src = log2(in_stride, 'in_stride')
        self.in_stride = in_stride
        self.out_strides = tuple(out_strides)
        if not self.out_strides:
            raise ValueError('out_strides must not be empty')
        for i, stride in enumerate(self.out_strides):
            shift = log2(stride, f'out_strides[{i}]') - src
            if shift < 0:  # upsample by 2 ** -shift
                layers = []
                for j in range(-shift):
                    if j:
                        layers += [
                            build_norm_layer(norm_cfg, in_channels)[1],
                            nn.GELU()
                        ]
                    layers.append(
                        nn.ConvTranspose2d(
                            in_channels, in_channels, 2, stride=2))
                level = layers[0] if len(layers) == 1 else \
                    nn.Sequential(*layers)
            elif shift == 0:
                level = nn.Identity()
            else:
                level = nn.MaxPool2d(2**shift, 2**shift)
            self.add_module(f'fpn{i + 1}', level)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Rescale the backbone maps.

        Args:
            inputs (Sequence[Tensor]): ``len(out_strides)`` NCHW maps at
                stride ``in_stride``.

        Returns:
            tuple[Tensor]: The maps at ``out_strides``.
        """
        n = len(self.out_strides)
        if len(inputs) != n:
            raise ValueError(
                f'ScalePyramid expects {n} backbone maps (one per '
                f'out_strides {list(self.out_strides)}), got {len(inputs)}; '
                f'set the backbone out_indices to {n} layers')
        return tuple(
            getattr(self, f'fpn{i + 1}')(x) for i, x in enumerate(inputs))
