# Copyright (c) mmvitplug contributors.
"""The projection head of DINO."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch.nn.utils.parametrizations import weight_norm

from mmvitplug.registry import MODELS


@MODELS.register_module()
class DINOHead(BaseModule):
    """Projection head of `DINO <https://arxiv.org/abs/2104.14294>`_.

    An MLP of ``num_layers`` linear layers, ``in_channels -> hid_channels
    -> ... -> bottleneck_channels`` (GELU between them, each hidden layer
    optionally followed by BatchNorm), the L2 normalisation of the
    bottleneck, and a weight-normalised linear layer without bias,
    ``bottleneck_channels -> out_channels`` (the :math:`K` prototypes),
    ``last_layer``. The weight norm uses
    :func:`torch.nn.utils.parametrizations.weight_norm` (``dim=0``: one
    magnitude ``g`` per prototype, ``last_layer.parametrizations.weight.
    original0``; the direction ``v`` is ``original1``); ``g`` starts at 1
    and with ``norm_last_layer=True`` it is frozen there
    (``requires_grad=False``), so every prototype is a unit vector and the
    outputs are cosine similarities.

    As in the official ``DINOHead``, the MLP's linear layers are initialised
    with a truncated normal (std 0.02) and zero biases when the head is
    built; the last layer keeps PyTorch's default initialisation of ``v``.

    Args:
        in_channels (int): Size of the backbone feature.
        out_channels (int): Number of prototypes :math:`K` (official default
            65536).
        hid_channels (int): Width of the hidden layers. Defaults to 2048.
        bottleneck_channels (int): Width of the normalised bottleneck.
            Defaults to 256.
        num_layers (int): Linear layers of the MLP, at least 1 (then it is a
            single ``in_channels -> bottleneck_channels`` layer). Defaults
            to 3.
        use_bn (bool): BatchNorm after each hidden linear layer. Defaults to
            False.
        norm_last_layer (bool): Freeze the weight-norm magnitudes of the
            last layer at 1. Defaults to True (the official default; the
            paper trains ViT-S with False).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 hid_channels: int = 2048,
                 bottleneck_channels: int = 256,
                 num_layers: int = 3,
                 use_bn: bool = False,
                 norm_last_layer: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('hid_channels', hid_channels),
                            ('bottleneck_channels', bottleneck_channels),
                            ('num_layers', num_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got '
                                 f'{value!r}')
        self.norm_last_layer = norm_last_layer
        if num_layers == 1:
            self.mlp = nn.Linear(in_channels, bottleneck_channels)
        else:
            layers = []
            dims = [in_channels] + [hid_channels] * (num_layers - 1)
            for d_in, d_out in zip(dims[:-1], dims[1:]):
                layers.append(nn.Linear(d_in, d_out))
                if use_bn:
                    layers.append(nn.BatchNorm1d(d_out))
                layers.append(nn.GELU())
            layers.append(nn.Linear(hid_channels, bottleneck_channels))
            self.mlp = nn.Sequential(*layers)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)
        self.last_layer = weight_norm(
            nn.Linear(bottleneck_channels, out_channels, bias=False), dim=0)
        magnitude = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            magnitude.fill_(1.)
        if norm_last_layer:
            magnitude.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, in_channels) -> prototype scores (N, out_channels).
        """
        x = self.mlp(x)
        x = F.normalize(x, dim=-1, p=2)
        return self.last_layer(x)
