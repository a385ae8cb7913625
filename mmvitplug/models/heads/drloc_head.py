# Copyright (c) mmvitplug contributors.
"""The localisation MLP of dense relative localisation (DRLoc)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS
from ..losses.drloc import DRLocLoss, gather_tokens, sample_pairs


@MODELS.register_module()
class DRLocHead(BaseModule):
    """Localisation MLP of `DRLoc <https://arxiv.org/abs/2106.03746>`_
    (Liu et al. 2021): predicts the grid offset of two token embeddings.

    :meth:`loss` takes a token map (B, C, H, W) (square or not), draws
    ``num_pairs`` position pairs per image with
    :func:`~mmvitplug.models.losses.drloc.sample_pairs` (torch's default
    generator: seeded by mmengine's ``randomness``, never at import as the
    official module does), concatenates the two embeddings of each pair
    ``[e_i, e_j]`` (2C) and runs the MLP: ``Linear(2C, hidden) - ReLU -
    Linear(hidden, hidden) - ReLU`` then, for the loss's mode,

    - ``'l1'``: ``Linear(hidden, 2)``, the offsets (rows, columns);
    - ``'ce'`` / ``'cbr'``: two ``Linear(hidden, K)``, the scores of the
      row and column bins (``2H - 1`` and ``2W - 1``, or ``H`` and ``W``
      with absolute offsets: the grid must then be fixed, ``grid_size``).

    The official ``ce`` / ``cbr`` trunk has a third ``Linear(512, 512)``
    without an activation before the two bin layers (a linear map folded
    into them here), and its bin count is hard-coded for a 14x14 grid
    (ViT, CvT); ours follows ``grid_size`` per axis.

    Args:
        in_channels (int): Channels C of the token map.
        num_pairs (int): Pairs per image m. Defaults to 64: the official
            ``main.py`` default (``--sample_size``), which overrides the
            32 of its ``config.py`` (``train.sh`` does not set it).
        hidden_channels (int): Width of the MLP. Defaults to 512
            (official).
        grid_size (Sequence[int], optional): The token grid (H, W); needed
            by ``'ce'`` / ``'cbr'`` (the number of bins), checked against
            the map in :meth:`loss` for every mode. Defaults to None.
        loss (dict | nn.Module): The loss, a :class:`DRLocLoss` (its
            ``mode`` sets the outputs here). Defaults to
            ``dict(type='mmvitplug.DRLocLoss')``.
        init_cfg (dict, optional): Initialisation. Defaults to None:
            PyTorch's default for the linear layers (as official).
    """

    def __init__(self,
                 in_channels: int,
                 num_pairs: int = 64,
                 hidden_channels: int = 512,
                 grid_size: Optional[Sequence[int]] = None,
                 loss: Union[dict, nn.Module] = dict(
                     type='mmvitplug.DRLocLoss'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(loss, dict):
            loss = MMPRETRAIN_MODELS.build(loss)
        if not isinstance(loss, DRLocLoss):
            raise TypeError(
                'DRLocHead.loss must build a DRLocLoss, e.g. '
                "dict(type='mmvitplug.DRLocLoss', mode='l1'), got "
                f'{type(loss).__name__}')
        if num_pairs < 1:
            raise ValueError(f'num_pairs must be >= 1, got {num_pairs}')
        self.loss_module = loss
        self.mode = loss.mode
        self.in_channels = in_channels
        self.num_pairs = num_pairs
        if grid_size is not None:
            grid_size = tuple(int(s) for s in grid_size)
            if len(grid_size) != 2:
                raise ValueError(
                    f'grid_size must be (H, W), got {grid_size}')
        elif self.mode != 'l1':
            raise ValueError(
                f"DRLoc mode {self.mode!r} predicts bins whose number "
                'depends on the token grid: set grid_size=(H, W) of the '
                "backbone's last map (e.g. (14, 14) for a /16 ViT at 224)")
        self.grid_size = grid_size
        self.trunk = nn.Sequential(
            nn.Linear(2 * in_channels, hidden_channels), nn.ReLU(),
            nn.Linear(hidden_channels, hidden_channels), nn.ReLU())
        if self.mode == 'l1':
            self.out = nn.Linear(hidden_channels, 2)
        else:
            self.out = nn.ModuleList([
                nn.Linear(hidden_channels, k)
                for k in loss.num_outputs(grid_size)
            ])

    def forward(self, feats_i: torch.Tensor, feats_j: torch.Tensor
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        """Predictions for pairs of embeddings.

        Args:
            feats_i (Tensor): First embeddings (..., C).
            feats_j (Tensor): Second embeddings (..., C).

        Returns:
            Tensor | tuple[Tensor, Tensor]: ``'l1'``: offsets (..., 2);
            otherwise the row and column bin scores (..., K_row),
            (..., K_col).
        """
        x = self.trunk(torch.cat([feats_i, feats_j], dim=-1))
        if self.mode == 'l1':
            return self.out(x)
        return tuple(layer(x) for layer in self.out)

    def check_grid(self, hw: Tuple[int, int]):
        """Raise if the map's grid differs from ``grid_size``."""
        if self.grid_size is not None and tuple(hw) != self.grid_size:
            raise ValueError(
                f'DRLocHead was built for a {self.grid_size} token grid '
                f'(grid_size) but the map is {tuple(hw)}: set grid_size to '
                "the backbone's last map size for this input size")

    def predict_pairs(self, featmap: torch.Tensor, pos_i: torch.Tensor,
                      pos_j: torch.Tensor):
        """Predictions for given position pairs (B, m, 2) of a map."""
        self.check_grid(featmap.shape[-2:])
        return self(gather_tokens(featmap, pos_i),
                    gather_tokens(featmap, pos_j))

    def loss(self, featmap: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The DRLoc loss of a token map.

        Args:
            featmap (Tensor): The backbone's token map (B, C, H, W).

        Returns:
            dict[str, Tensor]: ``loss_drloc`` (weighted) and
            ``drloc_weight``, the weight in effect (logged, not optimised).
        """
        if featmap.dim() != 4 or featmap.shape[1] != self.in_channels:
            raise ValueError(
                f'DRLocHead expects a token map (B, {self.in_channels}, H, '
                f'W), got {tuple(featmap.shape)}')
        hw = tuple(featmap.shape[-2:])
        pos_i, pos_j = sample_pairs(featmap.shape[0], hw, self.num_pairs,
                                    device=featmap.device)
        pred = self.predict_pairs(featmap, pos_i, pos_j)
        loss = self.loss_module(pred, pos_i, pos_j, hw)
        return dict(
            loss_drloc=loss,
            drloc_weight=loss.new_tensor(self.loss_module.weight).detach())
