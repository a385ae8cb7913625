# Copyright (c) mmvitplug contributors.
"""Layer-wise learning-rate decay for classifiers, detectors and segmentors."""
import logging
from typing import Callable, List, Optional, Tuple

import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor

from mmvitplug.registry import OPTIM_WRAPPER_CONSTRUCTORS

#: paramwise_cfg keys understood by this constructor: ``layer_decay_rate``
#: plus every key of mmengine's ``DefaultOptimWrapperConstructor``.
_KNOWN_KEYS = ('layer_decay_rate', 'custom_keys', 'bias_lr_mult',
               'bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
               'flat_decay_mult', 'dcn_offset_lr_mult', 'bypass_duplicate')

#: Weight-decay defaults, applied when the optimizer has a weight decay:
#: no decay for norms, 1-D parameters (biases, layer-scale ...) and tokens.
_DEFAULT_DECAY_CFG = dict(norm_decay_mult=0., flat_decay_mult=0.)
_DEFAULT_CUSTOM_KEYS = {
    'pos_embed': dict(decay_mult=0.),
    'cls_token': dict(decay_mult=0.),
    'dist_token': dict(decay_mult=0.),
}

#: Group keys consumed while building the groups (not optimizer options).
_CONSUMED_KEYS = ('params', 'lr_mult', 'decay_mult')


class _DropParamwiseLines(logging.Filter):
    """Drops the per-parameter lines of ``DefaultOptimWrapperConstructor``
    (replaced by the compact group table)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith('paramwise_options --')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Layer-wise learning-rate decay for any model with a ViT backbone.

    The learning rate of a parameter at layer depth ``d`` is multiplied by
    ``layer_decay_rate ** (max_depth - d)`` (`BEiT
    <https://arxiv.org/abs/2106.08254>`_, `ViTDet
    <https://arxiv.org/abs/2203.16527>`_). Depths come from
    ``get_layer_depth(name) -> (depth, num_depths)`` (mmpretrain semantics,
    ``max_depth = num_depths - 1``) of

    - the model itself when it has ``get_layer_depth`` (e.g. mmpretrain's
      ``ImageClassifier``), called with full parameter names;
    - otherwise ``model.backbone`` (detectors, segmentors), called with the
      names inside the backbone. Parameters outside the backbone (neck,
      heads) get the top depth, i.e. a scale of 1.0.

    Unlike mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` (which
    asks the top model and so fails on mmdet/mmseg models), the per-parameter
    rules are those of mmengine's ``DefaultOptimWrapperConstructor``
    (``custom_keys`` with ``lr_mult``/``decay_mult``, ``bias_lr_mult``,
    ``bias_decay_mult``, ``norm_decay_mult``, ``flat_decay_mult``,
    ``dwconv_decay_mult``, ``dcn_offset_lr_mult``, ``bypass_duplicate``); the
    layer scale multiplies their learning rate. Parameters with equal
    settings are merged into one group per depth; groups are ordered from
    the top depth down (so the first group, whose lr is logged, carries the
    base lr) and carry ``group_name``, ``layer_id`` and ``lr_scale``. A
    compact table of the groups is logged.

    When the optimizer has a ``weight_decay``, the defaults are
    ``norm_decay_mult=0.``, ``flat_decay_mult=0.`` and ``custom_keys``
    ``{'pos_embed', 'cls_token', 'dist_token'}: dict(decay_mult=0.)``:
    no weight decay for norms, biases and other 1-D parameters, position
    embeddings and tokens. Any of them can be overridden in
    ``paramwise_cfg`` (user ``custom_keys`` are merged over the defaults).

    Example:
        >>> optim_wrapper = dict(
        >>>     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.1),
        >>>     constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
        >>>     paramwise_cfg=dict(layer_decay_rate=0.7))

    Args:
        optim_wrapper_cfg (dict): Config of the optimizer wrapper, with an
            ``optimizer`` entry that has an ``lr``.
        paramwise_cfg (dict, optional): ``layer_decay_rate`` (float in
            (0, 1], defaults to 1.0, i.e. no decay) and the keys of
            mmengine's ``DefaultOptimWrapperConstructor``. Defaults to None.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = sorted(set(paramwise_cfg) - set(_KNOWN_KEYS))
        if unknown:
            raise ValueError(
                f'Unknown paramwise_cfg keys {unknown} for '
                f'LayerDecayOptimWrapperConstructor; choose from '
                f'{list(_KNOWN_KEYS)}')
        rate = paramwise_cfg.setdefault('layer_decay_rate', 1.0)
        if isinstance(rate, bool) or not isinstance(
                rate, (int, float)) or not 0 < rate <= 1:
            raise ValueError(
                f'layer_decay_rate must be a number in (0, 1], got {rate!r}')
        optimizer_cfg = optim_wrapper_cfg.get('optimizer', {})
        custom_keys = paramwise_cfg.get('custom_keys', {})
        if optimizer_cfg.get('weight_decay') is not None and isinstance(
                custom_keys, dict):
            for key, value in _DEFAULT_DECAY_CFG.items():
                paramwise_cfg.setdefault(key, value)
            paramwise_cfg['custom_keys'] = {
                **_DEFAULT_CUSTOM_KEYS,
                **custom_keys
            }
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        if self.base_lr is None:
            raise ValueError('LayerDecayOptimWrapperConstructor scales the '
                             'learning rate; set optimizer.lr in the config')
        self.layer_decay_rate = float(rate)

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   is_dcn_module=None) -> None:
        """Add the parameter groups of ``module`` to ``params``.

        Called on the whole model (``prefix=''``), it applies the rules of
        ``DefaultOptimWrapperConstructor`` to every parameter, scales each
        learning rate by its layer depth and merges equal settings into
        groups. Recursive calls (non-empty ``prefix``) are the default ones.

        Args:
            params (list[dict]): Parameter groups, extended in place.
            module (nn.Module): The module to add.
            prefix (str): Name prefix of ``module``. Defaults to ''.
            is_dcn_module (int | float | None): See the default constructor.
        """
        if prefix:
            super().add_params(params, module, prefix, is_dcn_module)
            return
        depth_of = self._depth_function(module)
        raw: List[dict] = []
        logger = MMLogger.get_current_instance()
        line_filter = _DropParamwiseLines()
        logger.addFilter(line_filter)
        try:
            super().add_params(raw, module, prefix, is_dcn_module)
        finally:
            logger.removeFilter(line_filter)

        names = {id(p): n for n, p in module.named_parameters()}
        merged = {}
        for group in raw:
            (param, ) = group['params']
            name = names[id(param)]
            depth, max_depth = depth_of(name)
            scale = self.layer_decay_rate**(max_depth - depth)
            options = {
                k: v
                for k, v in group.items() if k not in _CONSUMED_KEYS
            }
            options['lr'] = options.get('lr', self.base_lr) * scale
            if self.base_wd is not None:
                options.setdefault('weight_decay', self.base_wd)
            options.update(layer_id=depth, lr_scale=scale)
            key = tuple(sorted((k, repr(v)) for k, v in options.items()))
            merged.setdefault(key, dict(options, params=[]))
            merged[key]['params'].append(param)

        groups = sorted(
            merged.values(),
            key=lambda g: (-g['layer_id'], -g.get('weight_decay', 0.),
                           -g['lr']))
        taken = set()
        for group in groups:
            wd = group.get('weight_decay')
            name = f"layer_{group['layer_id']}" + (
                '_no_decay' if wd == 0 else '')
            unique, n = name, 1
            while unique in taken:
                n += 1
                unique = f'{name}_{n}'
            taken.add(unique)
            group['group_name'] = unique
            params.append(group)
        logger.info(self._table(groups))

    def _depth_function(self,
                        model: nn.Module) -> Callable[[str], Tuple[int, int]]:
        """``name -> (depth, max_depth)`` for every parameter of ``model``."""
        if hasattr(model, 'get_layer_depth'):
            provider, prefix = model, ''
        elif hasattr(getattr(model, 'backbone', None), 'get_layer_depth'):
            provider, prefix = model.backbone, 'backbone.'
        else:
            backbone = getattr(model, 'backbone', None)
            found = ('has no backbone' if backbone is None else
                     f'its backbone {type(backbone).__name__} has none')
            raise TypeError(
                'LayerDecayOptimWrapperConstructor needs get_layer_depth() '
                f'on the model or on model.backbone, but '
                f'{type(model).__name__} has none and {found}. Use a '
                'backbone that implements it (e.g. mmvitplug.DeiT) or '
                "mmengine's DefaultOptimWrapperConstructor.")

        depths = {}
        for name, _ in model.named_parameters():
            if name.startswith(prefix):
                depth, num_depths = provider.get_layer_depth(
                    name[len(prefix):])
                depths[name] = (depth, num_depths - 1)
        max_depths = {m for _, m in depths.values()}
        if len(max_depths) > 1:
            raise RuntimeError(
                f'{type(provider).__name__}.get_layer_depth returned '
                f'different numbers of depths {sorted(max_depths)}')
        for name, (depth, max_depth) in depths.items():
            if not 0 <= depth <= max_depth:
                raise RuntimeError(
                    f'{type(provider).__name__}.get_layer_depth({name!r}) '
                    f'gave depth {depth} outside [0, {max_depth}]')
        top = max_depths.pop() if max_depths else 0

        def depth_of(name: str) -> Tuple[int, int]:
            return depths.get(name, (top, top))

        return depth_of

    def _table(self, groups: List[dict]) -> str:
        """A compact, human-readable table of the parameter groups."""
        lines = [
            'LayerDecayOptimWrapperConstructor: layer_decay_rate='
            f'{self.layer_decay_rate:g}, {len(groups)} parameter groups',
            f"{'group':<20}{'lr_scale':>10}{'lr':>11}{'weight_decay':>14}"
            f"{'#tensors':>10}{'#params':>12}"
        ]
        for group in groups:
            wd = group.get('weight_decay')
            lines.append(
                f"{group['group_name']:<20}{group['lr_scale']:>10.4g}"
                f"{group['lr']:>11.3g}"
                f"{'default' if wd is None else format(wd, '.3g'):>14}"
                f"{len(group['params']):>10}"
                f"{sum(p.numel() for p in group['params']):>12}")
        return '\n'.join(lines)
