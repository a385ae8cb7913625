# Copyright (c) mmvitplug contributors.
"""The input check of the heads that read the backbone's last map."""
from typing import Sequence

import torch


def last_featmap(feats: Sequence[torch.Tensor], channels: int,
                 head: str) -> torch.Tensor:
    """The last (B, ``channels``, H, W) map of ``feats``.

    Args:
        feats (Sequence[torch.Tensor]): The backbone's outputs.
        channels (int): Channels the head expects.
        head (str): The head's name, for the error.

    Raises:
        ValueError: The last output is not such a map (e.g. the backbone
            pools it: ``out_type='avg_featmap'``).
    """
    x = feats[-1]
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(
            f'{head} needs the (B, {channels}, H, W) map of the last stage '
            "(backbone out_type='featmap'); got a tensor of shape "
            f'{tuple(x.shape)}')
    return x
