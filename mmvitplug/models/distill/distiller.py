# Copyright (c) mmvitplug contributors.
"""The distiller: recorders, connectors and losses, wired by a config."""
import inspect
from contextlib import contextmanager
from typing import Any, Dict, Iterator, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmvitplug.registry import MODELS
from ..losses.utils import call_loss
from .recorders import ModuleOutputsRecorder, build_recorder, find_module

#: Loss input sources that are not recorders.
TARGETS = 'targets'


class _Source(NamedTuple):
    """One parsed loss input: a recorder (or :data:`TARGETS`), or a tuple
    of recorders whose values form a list, the key taken from each recorded
    value (or None) and the connectors applied in order."""
    recorder: Union[str, Tuple[str, ...]]
    key: Optional[Union[str, int]]
    connectors: Tuple[str, ...]

    @property
    def recorders(self) -> Tuple[str, ...]:
        return (self.recorder, ) if isinstance(self.recorder,
                                               str) else self.recorder


def _build(cfg: Union[dict, nn.Module], what: str) -> nn.Module:
    if isinstance(cfg, nn.Module):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'{what} must be a config dict with a type, got '
                        f'{cfg!r}')
    return MMPRETRAIN_MODELS.build(cfg)


@MODELS.register_module()
class ConfigurableDistiller(nn.Module):
    """Record module outputs of a student and a teacher, adapt them with
    connectors, and compute the losses they feed: the roles of mmrazor's
    ``ConfigurableDistiller``.

    Every input of every loss is named in ``loss_inputs``: a recorder, a
    recorder through a connector, or ``'targets'`` (the batch's labels or
    mixed scores, :func:`mmvitplug.models.losses.get_targets`). Losses
    follow the protocol of :mod:`mmvitplug.models.losses.utils`: called
    with keyword arguments, they return a tensor (named by its key in
    ``losses``) or a dict of named terms; their state lives in their
    buffers. Losses and connectors are sub-modules, so their parameters are
    trained and their parameters and buffers follow ``.to()`` and are saved
    in the state dict (``distiller.losses.<name>.*``,
    ``distiller.connectors.<name>.*``; none for parameter-free losses).

    Example (DeiT hard distillation)::

        distiller=dict(
            recorders=dict(
                cls_logits=dict(source='head.head'),
                dist_logits=dict(source='head.head_dist'),
                teacher_logits=dict(source='teacher.head')),
            losses=dict(
                loss_deit=dict(type='mmvitplug.DeiTDistillLoss',
                               distill_type='hard', alpha=0.5)),
            loss_inputs=dict(
                loss_deit=dict(cls_logits='cls_logits',
                               dist_logits='dist_logits',
                               teacher_logits='teacher_logits',
                               target='targets')))

    Args:
        recorders (dict[str, dict]): Recorders by name, e.g.
            ``dict(feat=dict(type='ModuleOutputs', source='backbone',
            index=-1))`` (see :mod:`mmvitplug.models.distill.recorders`;
            ``type`` defaults to ``'ModuleOutputs'``). Student paths start
            at the model (``'backbone...'``, ``'head...'``), teacher paths
            with ``'teacher'``.
        losses (dict[str, dict]): Loss configs by name, built in the
            default scope (``'CrossEntropyLoss'``,
            ``'mmvitplug.DeiTDistillLoss'``, ...). A loss returning a single
            tensor is logged under its name, which must contain ``'loss'``.
        loss_inputs (dict[str, dict]): For each loss, its keyword arguments:
            ``{argument: source}``, the source being a recorder name,
            ``'targets'``, ``dict(recorder=name, connector=name)`` or
            ``dict(recorder=name, connector=[name, ...])`` (connectors
            applied in order), or a list of sources (the loss gets a list,
            e.g. the logits of several networks or the maps of several
            stages). ``dict(recorder=name, key=key)`` takes one entry of a
            recorder that records a dict (before any connector), so that
            several losses share one recording, e.g. the ``'qk'`` and
            ``'vv'`` relations of one ``AttentionRelations`` recorder.
            ``dict(recorder=[name, ...], connector=...)`` gives the
            recorders' values as one list to the connectors, for a
            connector that combines several features (e.g.
            :class:`~mmvitplug.models.distill.EmbeddingAssistantConnector`:
            a patch embedding and that embedding's input).
        connectors (dict[str, dict], optional): Connector configs by name,
            e.g. ``dict(type='mmvitplug.LinearConnector', in_channels=192,
            out_channels=512)``. Defaults to None.
    """

    def __init__(self,
                 recorders: Dict[str, dict],
                 losses: Dict[str, dict],
                 loss_inputs: Dict[str, Dict[str, Union[str, dict]]],
                 connectors: Optional[Dict[str, dict]] = None):
        super().__init__()
        for arg, value in (('recorders', recorders), ('losses', losses),
                           ('loss_inputs', loss_inputs)):
            if not isinstance(value, dict) or not value:
                raise TypeError(f'distiller.{arg} must be a non-empty dict, '
                                f'got {value!r}')
        connectors = connectors or {}
        if TARGETS in recorders:
            raise ValueError(f'{TARGETS!r} is the batch targets, not a '
                             'recorder name; rename the recorder')
        self.recorders: Dict[str, ModuleOutputsRecorder] = {
            name: build_recorder(cfg) for name, cfg in recorders.items()
        }
        self.connectors = nn.ModuleDict({
            name: _build(cfg, f'distiller.connectors.{name}')
            for name, cfg in connectors.items()
        })
        self.losses = nn.ModuleDict({
            name: _build(cfg, f'distiller.losses.{name}')
            for name, cfg in losses.items()
        })
        self.loss_inputs = {
            name: self._parse_inputs(name, loss_inputs)
            for name in self.losses
        }
        unused = sorted(set(loss_inputs) - set(self.losses))
        if unused:
            raise ValueError(
                f'distiller.loss_inputs names {unused}, which are not '
                f'losses; the losses are {sorted(self.losses)}')
        used = set()
        for inputs in self.loss_inputs.values():
            for value in inputs.values():
                for source in (value
                               if isinstance(value, list) else [value]):
                    used.update(source.recorders + source.connectors)
        for kind, names in (('recorders', self.recorders),
                            ('connectors', self.connectors)):
            idle = sorted(set(names) - used)
            if idle:  # an idle connector would be an untrained parameter
                raise ValueError(
                    f'distiller.{kind} {idle} feed no loss: use them in '
                    'distiller.loss_inputs or remove them')
        self._prepared = False

    def _parse_source(self, where: str, source) -> _Source:
        """The recorder(s) (or 'targets'), key and connectors of one
        source."""
        connectors, key = (), None
        if isinstance(source, dict):
            unknown = set(source) - {'recorder', 'key', 'connector'}
            if 'recorder' not in source or unknown:
                raise ValueError(
                    f'{where}: a dict source has the keys recorder and '
                    f'(optionally) key and connector, got {sorted(source)}')
            connector = source.get('connector')
            connectors = ((connector, ) if isinstance(connector, str) else
                          tuple(connector or ()))
            key = source.get('key')
            if key is not None and (isinstance(key, bool)
                                    or not isinstance(key, (str, int))):
                raise TypeError(f'{where}: key must be a str or an int, got '
                                f'{key!r}')
            source = source['recorder']
            if isinstance(source, (list, tuple)):
                if not source or not connectors:
                    raise ValueError(
                        f'{where}: a list of recorders ({list(source)}) is '
                        'given as one list to connectors that combine them; '
                        'name at least one recorder and one connector (for '
                        'separate inputs, give a list of sources instead)')
                source = tuple(source)
        names = source if isinstance(source, tuple) else (source, )
        for name in names:
            if name == TARGETS and len(names) > 1:
                raise ValueError(f'{where}: {TARGETS!r} cannot be combined '
                                 'with recorders')
            if name != TARGETS and name not in self.recorders:
                raise ValueError(
                    f'{where}: unknown recorder {name!r}; the recorders '
                    f'are {sorted(self.recorders)} (or {TARGETS!r} for the '
                    'batch targets)')
        if key is not None and source == TARGETS:
            raise ValueError(f'{where}: the batch targets have no keys; '
                             'key is for a recorder that records a dict')
        for connector in connectors:
            if connector not in self.connectors:
                raise ValueError(
                    f'{where}: unknown connector {connector!r}; the '
                    f'connectors are {sorted(self.connectors)}')
        return _Source(source, key, connectors)

    def _parse_inputs(self, name: str, loss_inputs: dict) -> Dict[str, Any]:
        """``{argument: source or [sources]}`` of loss ``name``, each a
        :class:`_Source`, checked against the recorders, the connectors and
        the loss's ``forward``."""
        if name not in loss_inputs:
            raise ValueError(
                f'distiller.loss_inputs has no entry for loss {name!r}: '
                "give its arguments, e.g. dict(preds='student_logits', "
                "target='targets')")
        parsed = {}
        for arg, source in loss_inputs[name].items():
            where = f'distiller.loss_inputs.{name}.{arg}'
            if isinstance(source, (list, tuple)):
                if not source:
                    raise ValueError(f'{where}: an empty list of sources')
                parsed[arg] = [
                    self._parse_source(f'{where}[{i}]', s)
                    for i, s in enumerate(source)
                ]
            else:
                parsed[arg] = self._parse_source(where, source)
        loss = self.losses[name]
        try:
            inspect.signature(loss.forward).bind(**parsed)
        except TypeError as err:
            raise TypeError(
                f'distiller.loss_inputs.{name} does not fit '
                f'{type(loss).__name__}.forward'
                f'{inspect.signature(loss.forward)}: {err}') from None
        return parsed

    def prepare(self, roots: Dict[str, nn.Module]):
        """Address every recorder's module (once); nothing is hooked until
        :meth:`recording`.

        Args:
            roots (dict[str, nn.Module]): The roots of the module paths,
                ``{'': student, 'teacher': teacher}``.
        """
        if self._prepared:
            raise RuntimeError('the distiller is already prepared')
        for recorder in self.recorders.values():
            recorder.bind(find_module(roots, recorder.source))
        self._prepared = True

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record inside the block: the recorders' hooks exist only inside
        it, and the records are dropped when it ends (also on an error)."""
        if not self._prepared:
            raise RuntimeError('call prepare() before recording')
        try:
            for recorder in self.recorders.values():
                recorder.start()
            yield
        finally:
            for recorder in self.recorders.values():
                recorder.stop()

    def _input(self, source, targets: torch.Tensor):
        if isinstance(source, list):
            return [self._input(s, targets) for s in source]
        if source.recorder == TARGETS:
            value = targets
        else:
            value = [
                self._read(name, source.key) for name in source.recorders
            ]
            if isinstance(source.recorder, str):
                value = value[0]
        for connector in source.connectors:
            value = self.connectors[connector](value)
        return value

    def _read(self, recorder: str, key):
        """What ``recorder`` recorded, or its entry ``key``."""
        value = self.recorders[recorder].data
        if key is None:
            return value
        try:
            if not isinstance(value, (dict, list, tuple)):
                raise TypeError
            return value[key]
        except (IndexError, KeyError, TypeError):
            what = (f'a dict with the keys {sorted(value)}' if isinstance(
                value, dict) else f'a {type(value).__name__}')
            raise IndexError(
                f'recorder {recorder!r} recorded {what}, which has no '
                f'entry {key!r}') from None

    def compute_losses(self,
                       targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The losses of what was recorded (call inside
        :meth:`recording`).

        Args:
            targets (Tensor): The batch's labels (N,) or scores (N, C).

        Returns:
            dict[str, Tensor]: Every loss term, by name.
        """
        losses = {}
        for name, loss in self.losses.items():
            inputs = {
                arg: self._input(source, targets)
                for arg, source in self.loss_inputs[name].items()
            }
            for key, value in call_loss(name, loss, inputs).items():
                if key in losses:
                    raise ValueError(
                        f'loss {name!r} gives the term {key!r}, which '
                        'another loss gives too; rename one of them')
                losses[key] = value
        return losses


def build_distiller(
        cfg: Union[dict, ConfigurableDistiller]) -> ConfigurableDistiller:
    """The distiller of an algorithm's ``model.distiller`` config (``type``
    defaults to ``'mmvitplug.ConfigurableDistiller'``), or the distiller
    itself."""
    if isinstance(cfg, dict):
        cfg = MODELS.build(
            dict(type='mmvitplug.ConfigurableDistiller', **cfg)
            if 'type' not in cfg else cfg)
    if not isinstance(cfg, ConfigurableDistiller):
        raise TypeError('model.distiller must be a ConfigurableDistiller '
                        f'config, got {type(cfg).__name__}')
    return cfg
