# Copyright (c) mmvitplug contributors.
"""The hash-fitting schedule of EcoFormer's attention."""
from mmengine.hooks import Hook
from mmpretrain.utils import get_ori_model

from mmvitplug.layers import EcoFormerAttention
from mmvitplug.registry import HOOKS


@HOOKS.register_module()
class EcoFormerHook(Hook):
    """Refit the hash functions of `EcoFormer
    <https://arxiv.org/abs/2209.09004>`_ attention every ``interval``
    epochs (the official ``main.py``: ``if epoch % args.k == 0:
    model.set_retrain()``; ``k = 300`` in the official configs, i.e. once,
    at the first epoch of a run of at most 300).

    Before each training epoch whose index is a multiple of ``interval``
    (epoch 0 included) every :class:`~mmvitplug.layers.EcoFormerAttention`
    of the model is asked to refit (``request_fit``): its next forward, the
    first batch of the epoch, fits its hash functions on that batch's
    tokens, then trains with the new codes. A resumed run starts from the
    checkpoint's fitted hash functions (they are buffers of the state dict)
    and refits at the next multiple of ``interval``, as the official
    resume does. Without the hook, each attention fits once, on its first
    forward. In iteration-based loops the epoch stays 0: the hash functions
    are fit on the first batch only.

    Args:
        interval (int): Epochs between refits. Defaults to 300 (official).
    """

    priority = 'NORMAL'

    def __init__(self, interval: int = 300):
        if isinstance(interval, bool) or not isinstance(interval,
                                                        int) or interval < 1:
            raise ValueError('interval must be a positive int (epochs '
                             f'between refits), got {interval!r}')
        self.interval = interval

    def before_train_epoch(self, runner) -> None:
        """Ask every EcoFormer attention to refit at epochs 0, interval,
        2 interval, ..."""
        if runner.epoch % self.interval:
            return
        modules = [
            m for m in get_ori_model(runner.model).modules()
            if isinstance(m, EcoFormerAttention)
        ]
        for module in modules:
            module.request_fit()
        runner.logger.info(
            f'EcoFormer: refitting the hash functions of {len(modules)} '
            f'attention layers on the first batch of epoch {runner.epoch}')
