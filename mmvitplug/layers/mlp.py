# Copyright (c) mmvitplug contributors.
"""Transformer feed-forward network."""
from typing import Callable, Optional

import torch
import torch.nn as nn


class Mlp(nn.Module):
    """Two-layer feed-forward network ``fc2(drop(act(fc1(x))))``.

    Args:
        in_features (int): Input channels.
        hidden_features (int, optional): Hidden channels. Defaults to
            ``in_features``.
        out_features (int, optional): Output channels. Defaults to
            ``in_features``.
        act_layer (Callable[[], nn.Module]): Activation constructor.
            Defaults to :class:`torch.nn.GELU`.
        drop (float): Dropout rate after the activation and after ``fc2``.
            Defaults to 0.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: Optional[int] = None,
                 out_features: Optional[int] = None,
                 act_layer: Callable[[], nn.Module] = nn.GELU,
                 drop: float = 0.):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.drop = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP over the last dimension."""
        x = self.drop(self.act(self.fc1(x)))
        return self.drop(self.fc2(x))
