# Copyright (c) mmvitplug contributors.
"""Concatenation of a backbone's outputs into one feature vector."""
from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule

from mmvitplug.registry import MODELS


@MODELS.register_module()
class ConcatOutputs(BaseModule):
    """Concatenate the backbone's outputs (B, C_i) into one (B, sum C_i).

    The features of DINO's linear evaluation (`Caron et al. 2021
    <https://arxiv.org/abs/2104.14294>`_, official ``eval_linear.py``,
    ``n_last_blocks=4`` for ViT-S): the class tokens of the last 4 blocks,
    each after the final norm (``mmvitplug.DeiT`` with
    ``out_indices=(-4, -3, -2, -1)``, ``out_type='cls_token'``,
    ``norm_all_outputs=True``), concatenated for a linear head of
    ``4 * embed_dims`` inputs. No parameters.

    Args:
        num_inputs (int): How many outputs the backbone gives, checked at
            each call so that a mismatched ``out_indices`` is not silently
            concatenated into features of another size.
    """

    def __init__(self, num_inputs: int):
        super().__init__()
        if not isinstance(num_inputs, int) or num_inputs < 1:
            raise ValueError(
                f'num_inputs must be a positive int, got {num_inputs!r}')
        self.num_inputs = num_inputs

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """(B, C_1), ..., (B, C_n) -> ((B, C_1 + ... + C_n), )."""
        if not isinstance(inputs, (tuple, list)) or \
                len(inputs) != self.num_inputs:
            got = len(inputs) if isinstance(inputs, (tuple, list)) \
                else type(inputs).__name__
            raise ValueError(
                f'ConcatOutputs expects {self.num_inputs} backbone outputs '
                f'(num_inputs), got {got}: make the backbone\'s out_indices '
                'match')
        for i, x in enumerate(inputs):
            if not torch.is_tensor(x) or x.dim() != 2:
                raise ValueError(
                    f'ConcatOutputs concatenates (B, C) vectors; output {i} '
                    f'is {getattr(x, "shape", type(x).__name__)} (use '
                    "out_type='cls_token' or 'avg_featmap')")
        return (torch.cat(list(inputs), dim=1), )
