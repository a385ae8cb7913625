# Copyright (c) mmvitplug contributors.
"""Iterative global magnitude pruning with rewinding, from a config."""
import os.path as osp
from numbers import Integral, Real
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmpretrain.utils import get_ori_model

from mmvitplug.layers.pruning import (apply_masks, global_magnitude_masks,
                                      kept_fraction, mask_optimizer_state,
                                      prunable_weights, random_masks,
                                      sparsity_schedule)
from mmvitplug.registry import HOOKS

#: valid values of ``mask``
MASK_TYPES = ('magnitude', 'random-layerwise', 'random-global')
#: the file the hook writes into the work dir after every round
MASKS_FILE = 'pruning_masks.pth'


def _optimizers(optim_wrapper) -> List[torch.optim.Optimizer]:
    wrappers = optim_wrapper.values() if isinstance(
        optim_wrapper, OptimWrapperDict) else [optim_wrapper]
    return [w.optimizer for w in wrappers]


@HOOKS.register_module()
class MagnitudePruningHook(Hook):
    """Iterative pruning with rewinding of any model, as in `Pruning
    Convolutional Neural Networks with Self-Supervision
    <https://arxiv.org/abs/2001.03554>`_ (Caron et al. 2020): unstructured
    global magnitude pruning (Han et al. 2015) of the convolution and
    linear weights of ``model.<prefix>``, each round followed by rewinding
    the weights to those of an early iteration (the lottery ticket's late
    resetting, Frankle et al. 2019) and training again under the mask.

    One config line adds it to any training config: a self-supervised one
    (masks obtained without labels: DINO, DeepCluster, mmpretrain's
    MoCo / SimCLR / BYOL, ...) or a supervised one (masks obtained with
    labels)::

        custom_hooks = [dict(type='mmvitplug.MagnitudePruningHook',
                             sparsity=0.8, num_rounds=2, interval=10,
                             rewind_iter=100)]

    The schedule (epoch-based training loops): the whole model state is
    snapshotted after ``rewind_iter`` iterations; at the end of epochs
    ``interval``, ``2 interval``, ..., ``num_rounds interval`` the weights
    are pruned to the sparsities of :func:`~mmvitplug.layers.pruning.
    sparsity_schedule` (each round removes the same fraction of the
    remaining weights; the last round reaches ``sparsity`` exactly: the
    count is ``round(sparsity * N)`` of the ``N`` prunable weights), the
    model is loaded back from the snapshot (every parameter and buffer:
    an EMA teacher, a loss's centre, ...), the masks applied, and the
    optimizer state dropped (a fresh optimizer each round, as lottery-
    ticket code builds one). Training then goes on under the masks until
    the next round or ``max_epochs``; the learning-rate schedule is the
    config's (e.g. mmengine's ``CosineRestartLR`` restarting every
    ``interval`` epochs, as the bundled configs do).

    Masked weights stay exactly zero: their gradients are zeroed by tensor
    hooks (so gradient clipping does not see them), their optimizer state
    is zeroed at every round, and the masks are applied again after every
    iteration to the pruned weights and to every copy of them: any
    parameter of the model whose name ends with the pruned one's (e.g.
    DINO's ``teacher.module.backbone.*`` for ``backbone.*``) and those of
    the ``ema_model`` of an ``EMAHook``. The weights are ordinary
    parameters holding zeros (no ``torch.nn.utils.prune``
    parametrisation), so checkpoints, EMA copies and the backbone exported
    by ``tools/model_converters/export_backbone.py`` are the pruned
    network with unchanged keys, and every evaluation config evaluates it
    as it is. The masks are saved in checkpoints (with the snapshot, so a
    resumed run goes on) and written to ``work_dir/pruning_masks.pth``
    after every round. A checkpoint of such a run loaded with ``load_from``
    (resumed or not) brings its masks, round and snapshot along: after
    the last round, this retrains the pruned network under its masks
    (e.g. with labels, as the paper re-trains the self-supervised masks).

    ``mask='random-layerwise'`` / ``'random-global'`` give the paper's
    baseline at the same sparsity, trained with the same schedule: at
    every round the masks are drawn at random among the weights still
    kept, with exactly the per-tensor counts of the global magnitude mask
    the same round would give (``random-layerwise``), or the same global
    count anywhere (``random-global``); the draws depend on the runner's
    seed only.

    Args:
        sparsity (float): The final fraction of the prunable weights set
            to zero, in (0, 1).
        interval (int): Epochs between rounds; the first round prunes at
            the end of epoch ``interval``.
        num_rounds (int): Rounds of pruning. Defaults to 1 (one-shot).
        rewind_iter (int, optional): Iterations trained before the
            snapshot the weights are rewound to (0: the initial weights,
            the original lottery ticket); None: no rewinding, training goes
            on from the pruned weights (Han et al.'s fine-tuning).
            Defaults to 0.
        mask (str): ``'magnitude'`` (the method), ``'random-layerwise'``
            or ``'random-global'`` (the baselines). Defaults to
            ``'magnitude'``.
        prefix (str): The submodule of the model to prune (``''``: the
            whole model). Defaults to ``'backbone'``.
        exclude (Sequence[str]): ``fnmatch`` patterns of weight names
            relative to ``prefix`` kept dense (e.g. ``('stem.*', )``).
            Defaults to ().
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 sparsity: float,
                 interval: int,
                 num_rounds: int = 1,
                 rewind_iter: Optional[int] = 0,
                 mask: str = 'magnitude',
                 prefix: str = 'backbone',
                 exclude: Sequence[str] = ()):
        if not isinstance(sparsity, Real) or isinstance(sparsity, bool) \
                or not 0 < sparsity < 1:
            raise ValueError('sparsity must be a number in (0, 1) (the '
                             'final fraction of weights set to zero), got '
                             f'{sparsity!r}')
        for name, value in (('interval', interval),
                            ('num_rounds', num_rounds)):
            if not isinstance(value, Integral) or isinstance(value, bool) \
                    or value < 1:
                raise ValueError(
                    f'{name} must be an integer >= 1, got {value!r}')
        if rewind_iter is not None and (
                not isinstance(rewind_iter, Integral)
                or isinstance(rewind_iter, bool) or rewind_iter < 0):
            raise ValueError('rewind_iter must be an integer >= 0 (0: the '
                             'initial weights) or None (no rewinding), got '
                             f'{rewind_iter!r}')
        if mask not in MASK_TYPES:
            raise ValueError(
                f'mask must be one of {MASK_TYPES}, got {mask!r}')
        if not isinstance(prefix, str):
            raise TypeError(f'prefix must be a str, got {prefix!r}')
        if isinstance(exclude, str):
            raise TypeError('exclude must be a sequence of fnmatch '
                            f'patterns, got the string {exclude!r}')
        self.sparsity = float(sparsity)
        self.interval = int(interval)
        self.num_rounds = int(num_rounds)
        self.rewind_iter = rewind_iter
        self.mask = mask
        self.prefix = prefix
        self.exclude = tuple(exclude)
        self.schedule = sparsity_schedule(self.sparsity, self.num_rounds)
        self.round = 0
        self.masks: Optional[Dict[str, torch.Tensor]] = None
        self.rewind_state: Optional[Dict[str, torch.Tensor]] = None
        self._weights: Dict[str, torch.nn.Parameter] = {}
        self._copies: Dict[str, List[torch.Tensor]] = {}
        self._handles = []

    # --- set-up
    def _full_name(self, name: str) -> str:
        return f'{self.prefix}.{name}' if self.prefix else name

    def _resolve(self, runner) -> None:
        """The pruned weights (full names) and every copy of them."""
        model = get_ori_model(runner.model)
        try:
            module = model.get_submodule(self.prefix) if self.prefix \
                else model
        except AttributeError:
            raise ValueError(
                f'prefix={self.prefix!r}: the model has no such submodule '
                f'(its children: {[n for n, _ in model.named_children()]})'
            ) from None
        self._weights = {
            self._full_name(n): p
            for n, p in prunable_weights(module, self.exclude).items()
        }
        named = list(model.named_parameters(remove_duplicate=False))
        for hook in getattr(runner, 'hooks', []):
            ema = getattr(hook, 'ema_model', None)
            if isinstance(ema, torch.nn.Module):
                named += list(ema.named_parameters(remove_duplicate=False))
        self._copies = {}
        for name, weight in self._weights.items():
            self._copies[name] = [
                p for n, p in named
                if n.endswith('.' + name) and p is not weight
            ]

    def _check_schedule(self, runner) -> None:
        last = self.interval * self.num_rounds
        max_epochs = getattr(runner, 'max_epochs', None)
        if max_epochs is not None and max_epochs < last:
            raise ValueError(
                f'interval={self.interval} x num_rounds={self.num_rounds}: '
                f'the last round prunes after epoch {last}, beyond '
                f'max_epochs={max_epochs}')
        if self.rewind_iter:
            per_epoch = len(runner.train_dataloader)
            if self.rewind_iter > self.interval * per_epoch:
                raise ValueError(
                    f'rewind_iter={self.rewind_iter} comes after the first '
                    f'round (epoch {self.interval} = iteration '
                    f'{self.interval * per_epoch})')

    def before_train(self, runner) -> None:
        """Find the weights, check the schedule; snapshot the initial
        weights (``rewind_iter=0``) or re-apply resumed masks."""
        self._resolve(runner)
        self._check_schedule(runner)
        if self.masks is not None:  # resumed, or loaded with load_from
            if set(self.masks) != set(self._weights):
                raise ValueError(
                    'the loaded checkpoint holds masks of other weights: '
                    f'{sorted(set(self.masks) ^ set(self._weights))[:4]}')
            self._apply(runner)
        if self.rewind_iter == 0 and self.rewind_state is None:
            self._snapshot(runner)
        runner.logger.info(
            f'MagnitudePruningHook: {len(self._weights)} weights '
            f'({sum(p.numel() for p in self._weights.values())} values) of '
            f'{self.prefix or "the model"}, mask {self.mask}, sparsity '
            'after each round ' +
            ', '.join(f'{s:.4f}' for s in self.schedule))

    def _snapshot(self, runner) -> None:
        model = get_ori_model(runner.model)
        self.rewind_state = {
            k: v.detach().clone()
            for k, v in model.state_dict().items()
        }

    # --- masks
    def _register_grad_hooks(self) -> None:
        if self._handles:
            return
        for name, weight in self._weights.items():
            if weight.requires_grad:
                self._handles.append(
                    weight.register_hook(
                        lambda g, n=name: g * self.masks[n].to(g)))

    def _apply(self, runner) -> None:
        """Masks on the weights, their copies, their optimizer state."""
        self.masks = {
            n: m.to(self._weights[n].device)
            for n, m in self.masks.items()
        }
        apply_masks(self._weights, self.masks)
        with torch.no_grad():
            for name, copies in self._copies.items():
                for p in copies:
                    p.mul_(self.masks[name].to(p))
        for optimizer in _optimizers(runner.optim_wrapper):
            mask_optimizer_state(optimizer, self._weights, self.masks)
        self._register_grad_hooks()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        """Snapshot at ``rewind_iter``; keep the pruned weights at zero."""
        if self.rewind_iter and runner.iter + 1 == self.rewind_iter \
                and self.rewind_state is None:
            self._snapshot(runner)
        if self.masks is not None:
            apply_masks(self._weights, self.masks)
            with torch.no_grad():
                for name, copies in self._copies.items():
                    for p in copies:
                        p.mul_(self.masks[name].to(p))

    def after_train_epoch(self, runner) -> None:
        """Prune (and rewind) at the end of every ``interval`` epochs."""
        if self.round < self.num_rounds and \
                runner.epoch + 1 == self.interval * (self.round + 1):
            self.prune(runner)

    def prune(self, runner) -> None:
        """One round: new masks from the current weights, rewind, mask."""
        target = self.schedule[self.round]
        magnitude = global_magnitude_masks(self._weights, target, self.masks)
        if self.mask == 'magnitude':
            masks = magnitude
        else:
            seed = getattr(runner, 'seed', None) or 0
            generator = torch.Generator().manual_seed(
                1000 * int(seed) + self.round)
            if self.mask == 'random-layerwise':
                masks = random_masks(
                    self._weights, masks=self.masks, mode='layerwise',
                    reference=magnitude, generator=generator)
            else:
                masks = random_masks(
                    self._weights, target, self.masks, mode='global',
                    generator=generator)
        self.masks = masks
        self.round += 1
        if self.rewind_iter is not None:
            get_ori_model(runner.model).load_state_dict(self.rewind_state)
            for optimizer in _optimizers(runner.optim_wrapper):
                optimizer.state.clear()
        self._apply(runner)
        kept = kept_fraction(self.masks)
        runner.message_hub.update_scalar('train/sparsity', 1 - kept)
        runner.logger.info(
            f'MagnitudePruningHook, round {self.round}/{self.num_rounds} '
            f'(epoch {runner.epoch + 1}, {self.mask}): sparsity '
            f'{1 - kept:.4f} (target {target:.4f}), ' +
            ('rewound to iteration '
             f'{self.rewind_iter}' if self.rewind_iter is not None else
             'not rewound') + '; kept per weight: ' + ', '.join(
                 f'{n} {kept_fraction({n: m}):.3f}'
                 for n, m in self.masks.items()))
        work_dir = getattr(runner, 'work_dir', None)
        if work_dir is not None:
            torch.save(self.state(), osp.join(work_dir, MASKS_FILE))

    def state(self) -> dict:
        """What the checkpoints and ``pruning_masks.pth`` hold."""
        return dict(
            round=self.round,
            sparsity=self.schedule[self.round - 1] if self.round else 0.,
            mask=self.mask,
            masks={n: m.cpu()
                   for n, m in (self.masks or {}).items()})

    # --- checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = self.state()
        state['rewind_state'] = self.rewind_state
        checkpoint.setdefault('meta', {})['pruning'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('meta', {}).get('pruning')
        if saved is None:
            return
        self.round = saved['round']
        self.masks = saved['masks'] or None
        self.rewind_state = saved['rewind_state']

    def after_run(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
