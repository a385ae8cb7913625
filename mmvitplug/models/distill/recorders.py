# Copyright (c) mmvitplug contributors.
"""Recorders: what a module of the student or the teacher computed.

A recorder addresses one module by its path in the algorithm, e.g.
``'head.head_dist'`` (student) or ``'teacher.backbone.layer4'`` (teacher),
and records, while its distiller is recording, what that module returned
(:class:`ModuleOutputsRecorder`) or received (:class:`ModuleInputsRecorder`)
through a forward hook, as mmrazor's recorders do.
"""
import difflib
from typing import Any, Dict, List, Optional, Union

import torch.nn as nn

_NEARBY = 12  # module names listed in a bad-path error


class ModuleOutputsRecorder:
    """Record the output of a module.

    Args:
        source (str): Path of the module in the algorithm: a student module
            (``'backbone.blocks.3'``, ``'head.head'``) or a teacher module
            under ``'teacher.'`` (``'teacher.head'``; ``'teacher'`` is the
            whole teacher, whose tensor-mode output is its logits).
        index (int | str, optional): Element of the recorded value to keep,
            for modules returning a tuple / list (an int) or a dict (a key),
            e.g. ``index=-1`` for the last output of a backbone. Defaults to
            None (the whole value).
    """

    def __init__(self, source: str, index: Optional[Union[int, str]] = None):
        if not isinstance(source, str) or not source:
            raise TypeError('a recorder needs source=<module path>, e.g. '
                            f"'teacher.head', got {source!r}")
        if index is not None and not isinstance(index, (int, str)):
            raise TypeError(f'index must be an int or a str, got {index!r}')
        self.source = source
        self.index = index
        self.calls: List[Any] = []
        self.active = False
        self._handle = None

    def attach(self, module: nn.Module):
        """Hook ``module`` (the module at :attr:`source`)."""
        if self._handle is not None:
            self._handle.remove()
        self._handle = self._register(module)

    def _register(self, module: nn.Module):
        return module.register_forward_hook(self._forward_hook)

    def _forward_hook(self, module, args, output):
        if self.active:
            self.calls.append(self._pick(output))

    def _pick(self, value):
        if self.index is None:
            return value
        try:
            return value[self.index]
        except (IndexError, KeyError, TypeError) as err:
            raise IndexError(
                f'recorder of {self.source!r}: cannot take element '
                f'{self.index!r} of a {type(value).__name__} ({err})'
            ) from None

    def reset(self):
        """Forget what was recorded."""
        self.calls = []

    @property
    def data(self):
        """The value recorded in this forward; the module must have run
        exactly once."""
        if len(self.calls) != 1:
            what = ('did not run' if not self.calls else
                    f'ran {len(self.calls)} times')
            raise RuntimeError(
                f'the recorder of {self.source!r} needs the module to run '
                f'once per forward, but it {what}; record a module on the '
                'path of the forward pass (and one called once)')
        return self.calls[0]


class ModuleInputsRecorder(ModuleOutputsRecorder):
    """Record the positional inputs (a tuple) of a module; ``index=0``
    keeps the first one. Arguments as :class:`ModuleOutputsRecorder`."""

    def _register(self, module: nn.Module):
        return module.register_forward_pre_hook(self._forward_pre_hook)

    def _forward_pre_hook(self, module, args):
        if self.active:
            self.calls.append(self._pick(args))


#: Recorder types, by their config name.
RECORDERS = dict(
    ModuleOutputs=ModuleOutputsRecorder, ModuleInputs=ModuleInputsRecorder)


def build_recorder(cfg: dict) -> ModuleOutputsRecorder:
    """A recorder from ``dict(type='ModuleOutputs', source=..., ...)``;
    ``type`` defaults to ``'ModuleOutputs'``."""
    if not isinstance(cfg, dict):
        raise TypeError('a recorder config is a dict such as '
                        "dict(source='teacher.head'), got "
                        f'{type(cfg).__name__}')
    cfg = dict(cfg)
    kind = cfg.pop('type', 'ModuleOutputs')
    if kind not in RECORDERS:
        raise ValueError(f'Unknown recorder type {kind!r}; choose from '
                         f'{sorted(RECORDERS)}')
    return RECORDERS[kind](**cfg)


def find_module(roots: Dict[str, nn.Module], path: str) -> nn.Module:
    """The module at ``path`` among named roots.

    Args:
        roots (dict[str, nn.Module]): Roots by prefix; ``''`` is the root of
            unprefixed paths (the student), ``'teacher'`` the root of
            ``'teacher.*'`` paths.
        path (str): Dotted module path.

    Returns:
        nn.Module: The module.

    Raises:
        ValueError: No module has this path; the message names the deepest
            existing parent, its children and the closest module names.
    """
    names = {}
    for prefix, root in roots.items():
        for name, module in root.named_modules():
            full = '.'.join(p for p in (prefix, name) if p)
            if full:
                names.setdefault(full, module)
    if path in names:
        return names[path]
    parent = path
    while parent and parent not in names:
        parent = parent.rpartition('.')[0]
    children = [
        n for n in names if n.rpartition('.')[0] == parent and n != parent
    ]
    where = (f"'{parent}' ({type(names[parent]).__name__})"
             if parent else 'the model')
    close = difflib.get_close_matches(path, list(names), n=5, cutoff=0.5)
    shown = ', '.join(children[:_NEARBY]) + (
        f', ... ({len(children) - _NEARBY} more)'
        if len(children) > _NEARBY else '')
    raise ValueError(
        f'No module {path!r} to record: {where} has the children '
        f'[{shown}]' + (f'; closest names: {close}' if close else '') +
        ". Student modules are addressed from the model ('backbone...', "
        "'head...'), teacher modules under 'teacher.'")
