# Copyright (c) mmvitplug contributors.
"""SEER's SwAV projection head (the MLP before the prototypes).

`Goyal et al. 2021, "Self-supervised Pretraining of Visual Features in the
Wild" <https://arxiv.org/abs/2103.01988>`_; the prototypes and the loss are
:class:`mmvitplug.models.losses.SEERLoss` (an mmpretrain ``SwAVLoss``),
held by mmpretrain's ``SwAVHead``.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from mmvitplug.registry import MODELS


@MODELS.register_module()
class SEERNeck(BaseModule):
    """Pooled backbone features -> L2-normalised SwAV embeddings.

    The SwAV projection head of vissl (``swav_head``: ``Linear`` [-> norm]
    -> ReLU for every hidden layer, then a last ``Linear``, then L2
    normalisation); SEER's is 3 layers without norm, ``dims [C, 8192, 8192,
    256]`` (vissl ``configs/config/pretrain/swav/heads/
    d10444_d8192_d8192_d256_proto16k.yaml``). Module names follow vissl
    (``projection_head.{0,2,4}`` without norms), so vissl checkpoints convert
    by renaming the prefix (:func:`mmvitplug.converters.convert_regnety`).

    Its input is what mmpretrain's ``SwAV`` gives the neck: one backbone
    output tuple per crop resolution. The last output of each tuple is used:
    a (B, C, H, W) map is average-pooled, (B, N, C) tokens averaged, a (B, C)
    vector (``avg_featmap``, ``cls_token``) used as it is, so any backbone
    of the contract fits.

    Args:
        in_channels (int): Channels of the backbone features.
        hid_channels (int | Sequence[int]): Width of each hidden layer (an
            int repeats it ``num_layers - 1`` times). Defaults to 8192.
        out_channels (int): Embedding dimension. Defaults to 256.
        num_layers (int): Linear layers, >= 1. Defaults to 3.
        norm_cfg (dict, optional): Norm after each hidden linear layer
            (e.g. ``dict(type='SyncBN')`` for SwAV's ResNet head); SEER has
            none. Defaults to None.
        with_l2norm (bool): L2-normalise the embeddings. Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's default ``Linear`` initialisation, as
            vissl).
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: Union[int, Sequence[int]] = 8192,
                 out_channels: int = 256,
                 num_layers: int = 3,
                 norm_cfg: Optional[dict] = None,
                 with_l2norm: bool = True,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        if isinstance(hid_channels, int):
            hid_channels = [hid_channels] * (num_layers - 1)
        hid_channels = list(hid_channels)
        if len(hid_channels) != num_layers - 1:
            raise ValueError(
                f'hid_channels has {len(hid_channels)} entries; '
                f'num_layers={num_layers} needs {num_layers - 1} (one per '
                'hidden layer)')
        dims = [in_channels, *hid_channels, out_channels]
        layers = []
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(d_in, d_out))
            if i < num_layers - 1:
                if norm_cfg is not None:
                    layers.append(build_norm_layer(norm_cfg, d_out)[1])
                layers.append(nn.ReLU(inplace=True))
        self.projection_head = nn.Sequential(*layers)
        self.with_l2norm = with_l2norm

    @staticmethod
    def pool(feature: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) maps and (B, N, C) tokens -> (B, C) means; a (B, C)
        vector as it is."""
        if feature.ndim == 4:
            return feature.mean((2, 3))
        if feature.ndim == 3:
            return feature.mean(1)
        if feature.ndim == 2:
            return feature
        raise ValueError(
            'SEERNeck takes (B, C, H, W) maps, (B, N, C) tokens or (B, C) '
            f'vectors from the backbone, got shape {tuple(feature.shape)}')

    def forward(self, x: Sequence) -> torch.Tensor:
        """Embeddings of every crop.

        Args:
            x (Sequence): One backbone output (a tuple, or a tensor) per
                group of crops of one resolution, in crop order.

        Returns:
            torch.Tensor: (sum of the crops' batch sizes, out_channels).
        """
        feats = []
        for out in x:
            while isinstance(out, (tuple, list)):  # e.g. (map, cls token)
                out = out[-1]
            feats.append(self.pool(out))
        z = self.projection_head(torch.cat(feats))
        if self.with_l2norm:
            z = F.normalize(z, dim=1, p=2)
        return z
