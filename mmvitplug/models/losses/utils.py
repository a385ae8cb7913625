# Copyright (c) mmvitplug contributors.
"""The loss protocol of mmvitplug's methods and the targets of a batch.

A method's loss (distillation, co-training, self-supervision) is an
``nn.Module`` that the algorithm owns as a sub-module and calls with keyword
arguments only; it returns a loss tensor or a dict of named loss tensors.
Its state (a DINO centre, a queue) lives in its buffers, so that it follows
the model through ``.to()`` and is saved and resumed with the state dict.
:func:`call_loss` makes that call and checks the result;
:func:`get_targets` gives the classification targets of a batch.
"""
import inspect
from typing import Any, Dict, List

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample


def get_targets(data_samples: List[DataSample]) -> torch.Tensor:
    """The classification targets of a batch.

    Args:
        data_samples (list[DataSample]): The batch's samples, with
            ``gt_label``, or with ``gt_score`` after Mixup / CutMix batch
            augments.

    Returns:
        Tensor: The soft target scores (N, C) when the samples have
        ``gt_score``, otherwise the labels (N,), as mmpretrain's
        ``ClsHead`` reads them.
    """
    if not data_samples:
        raise ValueError('get_targets needs at least one data sample')
    if 'gt_score' in data_samples[0]:
        return torch.stack([s.gt_score for s in data_samples])
    return torch.cat([s.gt_label for s in data_samples])


def call_loss(name: str, loss: nn.Module,
              inputs: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    """Call a method's loss with keyword inputs and name its terms.

    Args:
        name (str): The loss's name in its algorithm; the key of a loss
            that returns one tensor, and the context of error messages.
        loss (nn.Module): The loss module.
        inputs (dict[str, Any]): Its keyword arguments.

    Returns:
        dict[str, Tensor]: ``{name: tensor}`` for a loss returning a tensor,
        otherwise the loss's own dict of terms.

    Raises:
        TypeError: The inputs do not fit the loss's ``forward``.
        ValueError: A term's key does not contain ``'loss'``: mmengine's
            ``parse_losses`` would log it but never optimise it.
        TypeError: The loss returned something other than a tensor or a
            dict of tensors.
    """
    try:
        out = loss(**inputs)
    except TypeError as err:
        signature = inspect.signature(loss.forward)
        try:
            signature.bind(**inputs)
        except TypeError:  # the call itself does not fit: say so
            raise TypeError(
                f'loss {name!r} ({type(loss).__name__}) is given the inputs '
                f'{sorted(inputs)}, which do not fit its forward'
                f'{signature}: {err}') from None
        raise
    if isinstance(out, torch.Tensor):
        out = {name: out}
    if not isinstance(out, dict) or not all(
            isinstance(v, torch.Tensor) for v in out.values()):
        raise TypeError(
            f'loss {name!r} ({type(loss).__name__}) must return a tensor or '
            f'a dict of tensors, got {type(out).__name__}')
    not_losses = [k for k in out if 'loss' not in k]
    if not_losses:
        raise ValueError(
            f'loss {name!r} ({type(loss).__name__}) gave terms {not_losses} '
            "whose names do not contain 'loss': the runner would log them "
            "but never optimise them; name them 'loss_...'")
    return out
