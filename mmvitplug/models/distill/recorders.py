# Copyright (c) mmvitplug contributors.
"""Recorders: what a module of the student or the teacher computed.

A recorder addresses one module by its path in the algorithm, e.g.
``'head.head_dist'`` (student) or ``'teacher.backbone.layer4'`` (teacher),
and records, while its distiller is recording, what that module returned
(:class:`ModuleOutputsRecorder`), received (:class:`ModuleInputsRecorder`)
or, for an attention module, the token relations of its input
(:class:`AttentionRelationsRecorder`), as mmrazor's recorders do.

Hooks exist only while recording: :meth:`Recorder.start` registers the
recorder's hook and :meth:`Recorder.stop` removes it, so no hook outlives a
distillation step (an exception included), deleting the algorithm leaves
nothing behind, and a model that is copied, saved or used for inference
carries no hook. A recorder holds its module through a weak reference: it
does not own it, and deep copies of the model (an EMA) do not copy a
teacher's modules through it.
"""
import difflib
import weakref
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
        self._module = None  # weak reference, set by bind()
        self._handle = None

    def bind(self, module: nn.Module):
        """Address ``module`` (the module at :attr:`source`); checks that
        this recorder can record it."""
        self._module = weakref.ref(module)

    @property
    def module(self) -> nn.Module:
        """The recorded module."""
        module = self._module() if self._module is not None else None
        if module is None:
            raise RuntimeError(
                f'the recorder of {self.source!r} is not bound to a live '
                'module: prepare the distiller with the model first')
        return module

    @property
    def recording(self) -> bool:
        """Whether the hook is registered."""
        return self._handle is not None

    def start(self):
        """Forget earlier records and register the hook."""
        self.stop()
        self._handle = self._register(self.module)

    def stop(self):
        """Remove the hook and forget the records."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        self.calls = []

    def _register(self, module: nn.Module):
        return module.register_forward_hook(self._forward_hook)

    def _forward_hook(self, module, args, output):
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
        self.calls.append(self._pick(args))


class AttentionRelationsRecorder(ModuleOutputsRecorder):
    r"""Record the token relations of a multi-head self-attention module,
    as `TinyMIM <https://arxiv.org/abs/2301.01296>`_ distils them.

    From the module's input :math:`x` (N, L, C) (in a pre-norm block, the
    normalised block input), its own ``qkv`` projection gives per head
    :math:`Q, K, V` (N, heads, L, d), and the recorder keeps the relation
    *logits* (pre-softmax, so that losses take log-softmaxes in float32)::

        dict(qk=Q @ K^T / sqrt(d), vv=V @ V^T / sqrt(d))

    each (N, heads, L, L); ``index='qk'`` or ``'vv'`` keeps one. To feed
    both to losses, record the dict once and select each in the distiller's
    ``loss_inputs`` (``dict(recorder=name, key='qk')``): each recorder runs
    ``qkv`` again. The module
    must have a fused ``qkv`` linear layer (C -> 3 * heads * d, in the
    q, k, v order) and ``num_heads``, as :class:`mmvitplug.layers.Attention`
    and mmpretrain's ``MultiheadAttention`` (the MAE / BEiT backbones).
    The relations run the module's ``qkv`` once more, so gradients reach
    the student's projection.

    TinyMIM's student gives its distilled (last) block the teacher's head
    count (``last_heads``) so that the relations of both have the same
    shape; that block's attention output is never used in pre-training,
    only its relations. ``num_heads`` does the same without another
    architecture: the relations split ``qkv`` into ``num_heads`` heads of
    ``C / num_heads`` dims (scale ``(C / num_heads)^-1/2``, as the official
    ``Attention`` of ``last_heads`` heads), whatever head count the module
    itself computes with, so the loss and its gradients are those of the
    official student and the pre-trained weights fit the plain backbone.

    Args:
        source (str): Path of the attention module, e.g.
            ``'backbone.layers.11.attn'``.
        index (str, optional): ``'qk'`` or ``'vv'``. Defaults to None (the
            dict of both).
        num_heads (int, optional): Heads the relations are computed with,
            e.g. the teacher's in a student's distilled block; must divide
            the module's q / k / v width. Defaults to None (the module's
            own ``num_heads``).
    """

    RELATIONS = ('qk', 'vv')

    def __init__(self,
                 source: str,
                 index: Optional[str] = None,
                 num_heads: Optional[int] = None):
        if index is not None and index not in self.RELATIONS:
            raise ValueError(f'Unknown relation {index!r}; choose from '
                             f'{", ".join(map(repr, self.RELATIONS))}')
        if num_heads is not None and (isinstance(num_heads, bool)
                                      or not isinstance(num_heads, int)
                                      or num_heads < 1):
            raise ValueError('num_heads must be a positive int (or None for '
                             f"the module's own), got {num_heads!r}")
        super().__init__(source, index)
        self.num_heads = num_heads

    def bind(self, module: nn.Module):
        qkv = getattr(module, 'qkv', None)
        heads = getattr(module, 'num_heads', None)
        if not isinstance(qkv, nn.Linear) or not isinstance(heads, int):
            raise TypeError(
                f'AttentionRelations needs an attention module with a fused '
                f'qkv nn.Linear and num_heads; {self.source!r} is a '
                f'{type(module).__name__}. Record the attention of a block, '
                "e.g. 'backbone.layers.11.attn'")
        if qkv.out_features % (3 * heads):
            raise ValueError(
                f'{self.source!r}: qkv gives {qkv.out_features} features, '
                f'not 3 x {heads} heads x head dims')
        width = qkv.out_features // 3
        if self.num_heads is not None and width % self.num_heads:
            divisors = [d for d in range(1, width + 1) if width % d == 0]
            raise ValueError(
                f'{self.source!r}: num_heads={self.num_heads} does not divide '
                f'the q / k / v width {width}; choose from {divisors}')
        super().bind(module)

    def _register(self, module: nn.Module):
        return module.register_forward_pre_hook(self._forward_pre_hook)

    def _forward_pre_hook(self, module, args):
        x = args[0]
        if x.dim() != 3:
            raise ValueError(
                f'{self.source!r}: AttentionRelations records tokens '
                f'(N, L, C), got an input of shape {tuple(x.shape)}')
        n, length = x.shape[:2]
        heads = self.num_heads or module.num_heads
        q, k, v = module.qkv(x).reshape(n, length, 3, heads,
                                        -1).permute(2, 0, 3, 1, 4)
        scale = q.size(-1)**-0.5
        relations = dict(
            qk=q @ k.transpose(-2, -1) * scale,
            vv=v @ v.transpose(-2, -1) * scale)
        self.calls.append(self._pick(relations))


#: Recorder types, by their config name.
RECORDERS = dict(
    ModuleOutputs=ModuleOutputsRecorder,
    ModuleInputs=ModuleInputsRecorder,
    AttentionRelations=AttentionRelationsRecorder)


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
    roots_hint = ', '.join(f"'{p}.'" for p in roots if p)
    raise ValueError(
        f'No module {path!r} to record: {where} has the children '
        f'[{shown}]' + (f'; closest names: {close}' if close else '') +
        ". Student modules are addressed from the model ('backbone...', "
        "'head...')" +
        (f', the others under {roots_hint}' if roots_hint else ''))
