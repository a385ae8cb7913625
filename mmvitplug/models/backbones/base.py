# Copyright (c) mmvitplug contributors.
"""The declarative base of every mmvitplug backbone.

:class:`VisionBackbone` owns the whole mmpretrain backbone contract, so a
family file keeps only its arch zoo, its own blocks and its token forward:

- ``arch`` parsing against the family's ``arch_zoo`` / ``arch_keys``;
- ``out_indices`` (which stages give an output), ``out_type`` (how an output
  is formatted), ``frozen_stages`` and ``with_cp``, all validated with
  errors that name the valid choices;
- layer depths for layer-wise lr decay and freezing, derived from the
  declared parts (below), never typed per family;
- ``init_weights`` with the ``Pretrained`` init_cfg through
  :func:`mmvitplug.models.utils.load_pretrained` (official layouts are
  converted, every key reported);
- the forward loop over the stages, with gradient checkpointing.

A family declares, in its class attribute ``parts`` (a :class:`Parts`),
which of its top-level attributes (modules or loose ``nn.Parameter`` s,
``None`` allowed) form

- ``stem``: what enters the computation before the
  first stage (patch embedding, tokens prepended to the patches, position
  embedding): layer depth 0, frozen from ``frozen_stages=0``;
- ``stages``: the name of an ``nn.ModuleList`` with one
  entry per stage. A stage is one layer (a block of a flat ViT trunk) or an
  ``nn.ModuleList`` / ``nn.Sequential`` of layers (a Swin / PVT / PiT /
  LeViT stage, a RevCol level of every column). Layer ``j`` of the whole
  trunk (counted over the stages) has depth ``j + 1`` unless the family's
  :meth:`~VisionBackbone.trunk_depths` says otherwise (RevCol's columns
  run side by side); stage ``i`` is frozen by ``frozen_stages > i``;
- ``top``: what enters after the last stage (final
  norm, class-attention blocks and a late class token as in CaiT, attention
  pooling): depth ``num_layers + 1``, frozen only with every stage;
- ``joins``: what enters in the middle of the trunk, each as a pair
  (attribute, name of an int attribute of the backbone giving the index
  ``j`` of the trunk layer *before which* it joins), e.g. ConViT's class
  token, concatenated before its first self-attention block:
  ``joins=(('cls_token', 'local_up_to_layer'), )``. It has the depth of
  layer ``j``, ``j + 1`` (the top's when ``j`` is the number of trunk
  layers), and is frozen with the stage holding layer ``j``; joining before
  layer 0 is joining the stem (depth 0, frozen with the stem).

The rule is one: **a module's depth is where it enters the computation.**
Every top-level module and parameter must be declared in exactly one part;
a family that forgets one fails at construction, so nothing is silently
left at the wrong depth or out of ``frozen_stages``.

A family implements :meth:`~VisionBackbone.embed` (images to the first
stage's input and a context such as the patch grid) and
:meth:`~VisionBackbone.format_output` (one output per ``out_indices``
entry), and overrides :meth:`~VisionBackbone.forward_stage` only when a
stage is more than its layers applied in order.

A family whose trunk and top run correctly on a subset of its patch tokens
declares it in :attr:`~VisionBackbone.prunable_out_types` (token pruning,
:class:`mmvitplug.DynamicViT`): every attention from the first block on
honours :func:`mmvitplug.layers.keep_tokens`, nothing needs the full patch
grid after the stem, and those outputs summarise the tokens through
attention (a class token, sequence pooling). A family that cannot says why
in :attr:`~VisionBackbone.token_pruning_note`.
"""
import itertools
from abc import ABCMeta
from contextlib import contextmanager
from dataclasses import dataclass
from typing import (Any, Dict, Iterable, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
import torch.nn as nn
import torch.utils.checkpoint
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from mmvitplug.layers import bind_keep, tokens_to_featmap
from ..utils.pretrained import load_pretrained

Part = Union[nn.Module, nn.Parameter]


@dataclass(frozen=True)
class Parts:
    """The declared parts of a backbone (see the module docstring).

    Args:
        stem (tuple[str]): Top-level attributes entering before the first
            stage (depth 0).
        stages (str): The ``nn.ModuleList`` of stages.
        top (tuple[str]): Top-level attributes entering after the last
            stage (depth ``num_trunk_layers + 1``).
        joins (tuple[tuple[str, str]]): Top-level attributes entering
            inside the trunk: pairs (attribute, name of the backbone's int
            attribute giving the trunk layer before which it joins).
    """
    stem: Tuple[str, ...] = ()
    stages: str = 'blocks'
    top: Tuple[str, ...] = ()
    joins: Tuple[Tuple[str, str], ...] = ()


def parse_arch(arch: Union[str, dict], arch_zoo: dict,
               required_keys: Sequence[str], optional_keys: Sequence[str],
               family: str) -> dict:
    """Settings of a zoo name or a dict of settings.

    Args:
        arch (str | dict): A key of ``arch_zoo`` or a dict with every key of
            ``required_keys`` and only keys of ``required_keys`` and
            ``optional_keys``.
        arch_zoo (dict): Named settings.
        required_keys (Sequence[str]): Keys an arch dict must have.
        optional_keys (Sequence[str]): Keys an arch dict may have.
        family (str): Backbone class name, used in error messages.

    Returns:
        dict: A copy of the settings.
    """
    if isinstance(arch, str):
        if arch not in arch_zoo:
            raise ValueError(f"Unknown arch '{arch}'; choose from "
                             f'{sorted(arch_zoo)} or pass a dict '
                             f'with keys {list(required_keys)}')
        return dict(arch_zoo[arch])
    if not isinstance(arch, dict):
        raise ValueError(f'arch must be a name of {family}.arch_zoo or a '
                         f'dict, got {type(arch).__name__}')
    missing = [k for k in required_keys if k not in arch]
    unknown = set(arch) - set(required_keys) - set(optional_keys)
    if missing or unknown:
        raise ValueError(
            f'arch dict must have keys {list(required_keys)} (and '
            f'optionally {list(optional_keys)}); missing '
            f'{missing}, unknown {sorted(unknown)}')
    return dict(arch)


def parse_out_indices(out_indices: Union[int, Sequence[int]],
                      num_stages: int,
                      unit: str = 'layers',
                      name: str = 'out_indices') -> Tuple[int, ...]:
    """Sorted, unique, non-negative stage indices.

    Args:
        out_indices (int | Sequence[int]): Indices, negative ones counted
            from the end.
        num_stages (int): Number of stages.
        unit (str): What the stages are called in the error message.
            Defaults to 'layers'.
        name (str): The argument's name, for the error message. Defaults
            to 'out_indices'.

    Returns:
        tuple[int]: The indices in ``[0, num_stages)``.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    n = num_stages
    parsed = []
    for idx in out_indices:
        if not isinstance(idx, int) or not -n <= idx < n:
            raise ValueError(f'{name} entry {idx!r} is out of range;'
                             f' valid indices are {-n}..{n - 1} '
                             f'({n} {unit})')
        parsed.append(idx % n)
    return tuple(sorted(set(parsed)))


def drop_path_rates(rate: float, num_layers: int,
                    mode: str = 'uniform') -> List[float]:
    """Stochastic-depth rate of each of ``num_layers`` layers.

    Args:
        rate (float): The (largest) rate.
        num_layers (int): Number of layers.
        mode (str): 'uniform': every layer uses ``rate``; 'linear' (DeiT,
            timm): layer ``i`` uses ``rate * i / (num_layers - 1)``.
            Defaults to 'uniform'.

    Returns:
        list[float]: One rate per layer.
    """
    if mode == 'uniform':
        return [rate] * num_layers
    if mode == 'linear':
        return [rate * i / max(num_layers - 1, 1) for i in range(num_layers)]
    raise ValueError(f'Unknown drop_path_mode {mode!r}; choose from '
                     "['linear', 'uniform']")


def format_tokens(x: torch.Tensor, out_type: str, hw: Tuple[int, int],
                  num_extra_tokens: int = 0) -> torch.Tensor:
    """Format tokens (B, extra + H * W, C) as a dense ``out_type``.

    Args:
        x (torch.Tensor): Tokens, ``num_extra_tokens`` first, then the
            patches in row-major order.
        out_type (str): 'raw' (``x`` itself), 'avg_featmap' (B, C) mean of
            the patches, or 'featmap' (B, C, H, W) contiguous NCHW maps.
        hw (tuple[int, int]): The patch grid.
        num_extra_tokens (int): Tokens before the patches. Defaults to 0.

    Returns:
        torch.Tensor: The formatted output.
    """
    if out_type == 'raw':
        return x
    patches = x[:, num_extra_tokens:]
    if out_type == 'avg_featmap':
        return patches.mean(dim=1)
    if out_type == 'featmap':
        return tokens_to_featmap(patches, hw)
    raise ValueError(f'format_tokens cannot give out_type {out_type!r}; '
                     "choose from ['raw', 'avg_featmap', 'featmap']")


def format_featmap(x: torch.Tensor, out_type: str) -> torch.Tensor:
    """Format (B, C, H, W) maps as a dense ``out_type``.

    Args:
        x (torch.Tensor): NCHW maps.
        out_type (str): 'featmap' (contiguous maps) or 'avg_featmap'
            (B, C) spatial means.

    Returns:
        torch.Tensor: The formatted output.
    """
    if out_type == 'avg_featmap':
        return x.mean((2, 3))
    if out_type == 'featmap':
        return x.contiguous()
    raise ValueError(f'format_featmap cannot give out_type {out_type!r}; '
                     "choose from ['featmap', 'avg_featmap']")


def norm_factory(norm_cfg: dict):
    """A ``dims -> nn.Module`` constructor of the norm ``norm_cfg`` builds."""

    def build(dims: int) -> nn.Module:
        return build_norm_layer(norm_cfg, dims)[1]

    return build


def init_linear_norm(m: nn.Module):
    """ViT-style initialisation of one module, for ``module.apply``.

    Linear layers get a truncated normal (std 0.02) and zero biases,
    LayerNorms ones and zeros; other modules are left alone.

    Args:
        m (nn.Module): The module.
    """
    if isinstance(m, nn.Linear):
        trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def init_conv_linear(m: nn.Module):
    """Truncated normal (std 0.02) weights and zero biases of linear and
    2-D convolution layers (the initialisation of many official models),
    for ``module.apply``; other modules are left alone.

    Args:
        m (nn.Module): The module.
    """
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(m.weight, std=.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def init_conv_bn(m: nn.Module):
    """The torchvision ResNet initialisation of one module, for
    ``module.apply``: 2-D convolutions Kaiming-normal (fan out, ReLU gain),
    BN-style norms one / zero; other modules are left alone.

    Args:
        m (nn.Module): The module.
    """
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
    elif isinstance(m, nn.modules.batchnorm._NormBase):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def pretrained_init_cfg(init_cfg, family: str) -> Optional[dict]:
    """The ``Pretrained`` init_cfg, or None if there is none.

    Args:
        init_cfg (dict | list[dict] | None): A backbone's init_cfg.
        family (str): Backbone class name, used in the error message.

    Returns:
        dict | None: ``init_cfg`` if it is a ``Pretrained`` dict.

    Raises:
        ValueError: If a ``Pretrained`` entry is inside a list.
    """
    if isinstance(init_cfg, list) and any(
            c.get('type') == 'Pretrained' for c in init_cfg):
        raise ValueError(
            f"{family}: give the 'Pretrained' init_cfg as a single "
            'dict, not inside a list')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        return init_cfg
    return None


class _DeclaredBackboneMeta(ABCMeta):
    """Finish the contract once the outermost ``__init__`` has returned."""

    def __call__(cls, *args, **kwargs):
        backbone = super().__call__(*args, **kwargs)
        backbone._finish_declaration()
        return backbone


class VisionBackbone(BaseBackbone, metaclass=_DeclaredBackboneMeta):
    """Base of the mmvitplug backbones: the mmpretrain contract, declared.

    See the module docstring for what a family declares. The constructor
    arguments below are those of every backbone; a family adds its own and
    passes these on.

    Args:
        arch (str | dict): A name of the family's :attr:`arch_zoo` or a dict
            with every key of :attr:`arch_keys` (and optionally keys of
            :attr:`optional_arch_keys`).
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end. Defaults to -1.
        out_type (str, optional): How outputs are formatted, one of the
            family's :attr:`out_types`. Defaults to None:
            :meth:`default_out_type` (the first of them unless the family
            says otherwise).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; k > 0
            also the first k stages, and k == the number of stages also the
            top. Frozen parts have ``requires_grad=False`` and stay in eval
            mode in ``train()``. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every layer (and of what a
            family runs through :meth:`run_layer`) in training.
            Defaults to False.
        init_cfg (dict | list[dict], optional): Initialisation config;
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            loads mmvitplug, official or timm checkpoints. Defaults to None.
    """
    #: Named settings of the family.
    arch_zoo: Dict[str, dict] = {}
    #: Keys an arch dict must have / may have.
    arch_keys: Tuple[str, ...] = ()
    optional_arch_keys: Tuple[str, ...] = ()
    #: Output formats; the first is the default.
    out_types: Tuple[str, ...] = ()
    #: Output formats that exist only after the last stage (e.g. a class
    #: token made by the top), each with the reason, for the error message.
    final_only_out_types: Dict[str, str] = {}
    #: Extra text after an unknown ``out_type`` in its error, per value.
    out_type_hints: Dict[str, str] = {}
    #: What a stage is called in error messages.
    stage_unit: str = 'layers'
    #: Arch key giving the number of stages (or override
    #: :meth:`num_stages_of`).
    num_stages_key: str = 'num_layers'
    #: Declared parts: top-level attribute names (see the module docstring).
    parts: Parts = Parts()
    #: Loose parameters initialised with a truncated normal (std 0.02), in
    #: this order, by the default initialisation.
    trunc_normal_params: Tuple[str, ...] = ()
    #: Keep every BN-style norm in eval mode in training (a family with a
    #: ``norm_eval`` argument sets it).
    norm_eval: bool = False
    #: The out_types that stay exact when patch tokens are pruned after the
    #: stem (see the module docstring); empty: no token pruning.
    prunable_out_types: Tuple[str, ...] = ()
    #: Why the family cannot prune tokens (for the error), if it cannot.
    token_pruning_note: str = ''

    def __init__(self,
                 arch: Union[str, dict],
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: Optional[str] = None,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg)
        name = type(self).__name__
        self.arch_settings = parse_arch(arch, self.arch_zoo, self.arch_keys,
                                        self.optional_arch_keys, name)
        if out_type is None:
            out_type = self.default_out_type()
        if out_type not in self.out_types:
            raise ValueError(
                f"Unknown out_type '{out_type}'"
                f'{self.out_type_hints.get(out_type, "")}; choose from '
                f'{list(self.out_types)}')
        self.out_type = out_type
        self.num_stages = self.num_stages_of(self.arch_settings)
        self.out_indices = parse_out_indices(out_indices, self.num_stages,
                                             self.stage_unit)
        last = self.num_stages - 1
        if out_type in self.final_only_out_types and \
                self.out_indices != (last, ):
            raise ValueError(
                f"out_type='{out_type}' needs out_indices=-1 (or {last}, "
                f'the last of the {self.num_stages} {self.stage_unit}): '
                f'{self.final_only_out_types[out_type]}; got out_indices '
                f'{list(self.out_indices)}. Use one of '
                f'{[t for t in self.out_types if t != out_type]} for the '
                f'other {self.stage_unit}')
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f'frozen_stages must be in [-1, '
                             f'{self.num_stages}], got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        # (out_type, list) of the active also_output contexts
        self._also_outputs: List[Tuple[str, list]] = []

    def default_out_type(self) -> str:
        """The ``out_type`` of ``out_type=None``, chosen once
        :attr:`arch_settings` is parsed: the first of :attr:`out_types`
        unless a family overrides it."""
        return self.out_types[0]

    def stage_settings(self,
                       *keys: str,
                       defaults: Optional[dict] = None,
                       num_stages: Optional[int] = None
                       ) -> Dict[str, list]:
        """The per-stage lists ``keys`` of :attr:`arch_settings`, checked
        to have one entry per stage (as many as the arch's ``depths``).

        Args:
            *keys (str): Arch keys of per-stage lists.
            defaults (dict, optional): Values of keys the arch may omit.
            num_stages (int, optional): The number of stages the family
                has, when it is fixed (e.g. the four of a pyramid).

        Returns:
            dict: ``'depths'`` and each key -> a list.

        Raises:
            ValueError: ``depths`` does not have ``num_stages`` entries, or
                a list has not one entry per stage.
        """
        settings = dict(defaults or {}, **self.arch_settings)
        depths = list(settings['depths'])
        if num_stages is not None and len(depths) != num_stages:
            raise ValueError(
                f'{type(self).__name__} has {num_stages} stages: arch '
                f'depths needs {num_stages} entries, got {depths}')
        lists = {'depths': depths}
        for key in keys:
            value = list(settings[key])
            if len(value) != len(depths):
                raise ValueError(
                    f'arch {key} has {len(value)} entries but depths has '
                    f'{len(depths)} (one per stage)')
            lists[key] = value
        return lists

    @classmethod
    def num_stages_of(cls, settings: dict) -> int:
        """Number of stages of parsed arch settings."""
        value = settings[cls.num_stages_key]
        return value if isinstance(value, int) else len(value)

    # -------------------------------------------------------- declaration
    def _part(self, name: str) -> Optional[Part]:
        if not hasattr(self, name):
            raise AttributeError(
                f'{type(self).__name__} declares {name!r} but has no such '
                'attribute')
        return getattr(self, name)

    def _finish_declaration(self):
        """Resolve the declared parts, derive the layer depths, check that
        every parameter and module is declared once, and freeze."""
        cls = type(self).__name__
        parts = self.parts
        container = self._part(parts.stages)
        if not isinstance(container, nn.ModuleList):
            raise TypeError(f'{cls}.{parts.stages} (the declared stages) '
                            'must be an nn.ModuleList, got '
                            f'{type(container).__name__}')
        if len(container) != self.num_stages:
            raise RuntimeError(
                f'{cls} built {len(container)} stages in {parts.stages!r} '
                f'but its arch has {self.num_stages}')
        self._stage_layers: List[List[nn.Module]] = [
            list(s) if isinstance(s, (nn.ModuleList, nn.Sequential)) else [s]
            for s in container
        ]
        self.num_trunk_layers = sum(len(s) for s in self._stage_layers)

        joins = self._joins()
        declared = [*parts.stem, parts.stages, *parts.top, *joins]
        repeated = sorted({n for n in declared if declared.count(n) > 1})
        top_level = {n for n, _ in self.named_children()} | {
            n for n, _ in self.named_parameters(recurse=False)}
        undeclared = sorted(top_level - set(declared))
        if repeated or undeclared:
            raise RuntimeError(
                f'{cls}: every top-level module and parameter must be in '
                'exactly one of stem, stages, top, joins; '
                f'undeclared {undeclared}, declared twice {repeated}')

        trunk_depths, num_trunk_depths = self.trunk_depths()
        self._num_depths = num_trunk_depths + 2
        top_depth = num_trunk_depths + 1
        depth_of_param: Dict[int, int] = {}
        for part in self._parts(parts.stem):
            for p in _params(part):
                depth_of_param[id(p)] = 0
        layer = 0
        for stage in self._stage_layers:
            for module in stage:
                layer += 1
                for p in module.parameters():
                    depth_of_param[id(p)] = layer
        params = dict(self.named_parameters())
        for name, depth in trunk_depths.items():
            depth_of_param[id(params[name])] = depth
        for part in self._parts(parts.top):
            for p in _params(part):
                depth_of_param[id(p)] = top_depth
        # a joining part freezes with the stage of the layer it joins before
        # (the stem's before layer 0, the top's after the last layer)
        stage_ends = list(itertools.accumulate(map(len, self._stage_layers)))
        self._joins_frozen_from: Dict[str, int] = {}
        for name, layer in joins.items():
            stage = sum(1 for end in stage_ends if end <= layer)
            self._joins_frozen_from[name] = \
                min(stage + 1, self.num_stages) if layer else 0
            for part in self._parts([name]):
                for p in _params(part):
                    # before layer 0: in the stem
                    depth_of_param[id(p)] = layer + 1 if layer else 0
        self._layer_depths = {
            name: depth_of_param[id(p)]
            for name, p in self.named_parameters(remove_duplicate=False)
        }
        self._freeze_stages()

    def trunk_depths(self) -> Tuple[Dict[str, int], int]:
        """Depths of trunk parameters that are not the running index of
        their layer, for trunks that are not one chain of layers (e.g. the
        columns of RevCol), and the number of trunk depths.

        Returns:
            tuple[dict[str, int], int]: Parameter name -> depth (1 ..
            number of trunk depths; by default none: layer ``j`` counted
            over the stages has depth ``j + 1``) and the number of trunk
            depths (by default the number of trunk layers). The top has
            that number + 1.
        """
        return {}, self.num_trunk_layers

    def _joins(self) -> Dict[str, int]:
        """Declared joining parts -> index of the trunk layer they join
        before, checked against the number of trunk layers."""
        joins = {}
        for name, index_attr in self.parts.joins:
            index = getattr(self, index_attr, None)
            if not isinstance(index, int) or \
                    not 0 <= index <= self.num_trunk_layers:
                raise ValueError(
                    f'{type(self).__name__}: {name!r} joins before trunk '
                    f'layer {index_attr}={index!r}, which must be an int in '
                    f'[0, {self.num_trunk_layers}]')
            joins[name] = index
        return joins

    def _parts(self, names: Iterable[str]) -> List[Part]:
        return [p for p in map(self._part, names) if p is not None]

    @property
    def layers(self) -> List[List[nn.Module]]:
        """The layers of each stage."""
        return self._stage_layers

    def drop_front(self, num_stages: int) -> None:
        """Remove the stem (its parameters), the first ``num_stages``
        stages and what joins them, so that this copy only continues a
        computation from the input of stage ``num_stages`` with
        :meth:`forward_stage` (e.g. an auxiliary branch of `MixSKD
        <https://arxiv.org/abs/2208.05768>`_ that re-runs the later stages
        with its own weights). The removed parameters leave the module (its
        state dict, optimizer and DDP); :meth:`forward` can no longer run.

        Args:
            num_stages (int): How many stages to remove, in
                ``[1, num_stages - 1]``.
        """
        if isinstance(num_stages, bool) or not isinstance(
                num_stages, int) or not 0 < num_stages < self.num_stages:
            raise ValueError(
                f'drop_front: num_stages must be an int in [1, '
                f'{self.num_stages - 1}] ({type(self).__name__} has '
                f'{self.num_stages} stages), got {num_stages!r}')
        first_kept = sum(len(s) for s in self._stage_layers[:num_stages])
        for name, layer in self._joins().items():
            if layer < first_kept:
                setattr(self, name, None)
        for name in self.parts.stem:
            part = self._part(name)
            # parameter-free parts (a dropout) may serve later stages too
            if part is not None and _params(part):
                setattr(self, name, None)
        container = self._part(self.parts.stages)
        for i in range(num_stages):
            container[i] = nn.Identity()
            self._stage_layers[i] = []

    # ------------------------------------------------------------ freezing
    def _frozen(self) -> List[Part]:
        """The parts ``frozen_stages`` freezes."""
        k = self.frozen_stages
        if k < 0:
            return []
        frozen = self._parts(self.parts.stem)
        for stage in self._stage_layers[:k]:
            frozen += stage
        if k == self.num_stages:
            frozen += self._parts(self.parts.top)
        frozen += self._parts(
            [n for n, first in self._joins_frozen_from.items() if k >= first])
        return frozen

    def _freeze_stages(self):
        for part in self._frozen():
            if isinstance(part, nn.Module):
                part.eval()
            for p in _params(part):
                p.requires_grad = False

    def train(self, mode: bool = True):
        """Set train mode, keeping frozen parts, and every norm layer of a
        family with ``norm_eval`` set (the convolutional families'
        argument: frozen BN statistics, e.g. for detection), in eval
        mode."""
        super().train(mode)
        if mode:
            for part in self._frozen():
                if isinstance(part, nn.Module):
                    part.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._NormBase):
                        m.eval()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth of a parameter for layer-wise lr decay.

        The stem is depth 0, layer ``j`` of the trunk (counted over the
        stages) ``j + 1`` (unless :meth:`trunk_depths` says otherwise), the
        top and every parameter outside the backbone (names not starting
        with ``prefix``, e.g. a head) the number of trunk depths + 1.

        Args:
            param_name (str): Parameter name.
            prefix (str): Prefix of the backbone parameters in
                ``param_name``. Defaults to ''.

        Returns:
            tuple[int, int]: The layer depth and the number of depths
            (the number of trunk depths + 2).

        Raises:
            KeyError: A name starting with ``prefix`` that is not a
                parameter of this backbone.
        """
        num_depths = self._num_depths
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        if name not in self._layer_depths:
            raise KeyError(
                f'{param_name!r} is not a parameter of '
                f'{type(self).__name__} (prefix {prefix!r}); its parameters '
                f'look like {list(self._layer_depths)[:4]}')
        return self._layer_depths[name], num_depths

    # ------------------------------------------------------------- weights
    def init_weights(self):
        """Initialise the weights, then load the ``Pretrained`` init_cfg.

        The family's default initialisation comes first
        (:meth:`init_default_weights`). With ``init_cfg=dict(
        type='Pretrained', checkpoint=..., prefix=...)`` the checkpoint
        (mmvitplug layout, or an official / timm layout, converted by the
        converter registered for this backbone) is then loaded by
        :func:`mmvitplug.models.utils.load_pretrained`, which resizes
        position embeddings and logs loaded / missing / unexpected keys;
        keys the checkpoint lacks keep the default initialisation. The
        module is then marked initialised, so later ``init_weights`` calls
        (e.g. by a detector) leave the weights alone. Other init_cfg types
        (e.g. Kaiming) are applied on top of the default initialisation.
        """
        if self.is_init:
            return super().init_weights()  # only logs the repeated call
        cfg = pretrained_init_cfg(self.init_cfg, type(self).__name__)
        self.init_default_weights()
        if cfg is None:
            return super().init_weights()
        load_pretrained(
            self,
            cfg['checkpoint'],
            prefix=cfg.get('prefix'),
            map_location=cfg.get('map_location', 'cpu'))
        self._is_init = True

    def init_default_weights(self):
        """The family's initialisation: a truncated normal (std 0.02) for
        :attr:`trunc_normal_params`, then :func:`init_linear_norm` for every
        module (LayerScale vectors keep their init value)."""
        for p in self._parts(self.trunc_normal_params):
            trunc_normal_(p, std=.02)
        self.apply(init_linear_norm)

    # ------------------------------------------------------------- forward
    def embed(self, x: torch.Tensor) -> Tuple[Any, Any]:
        """The stem: images to the first stage's input.

        Args:
            x (torch.Tensor): Images (B, C, H, W).

        Returns:
            tuple: The first stage's input and a context for the stages and
            :meth:`format_output` (e.g. the patch grid).
        """
        raise NotImplementedError

    def forward_stage(self, index: int, x, context) -> Tuple[Any, Any]:
        """Run stage ``index``: its layers in order.

        Returns:
            tuple: The stage output and the (possibly updated) context.
        """
        for layer in self._stage_layers[index]:
            x = self.run_layer(layer, x)
        return x, context

    def format_output(self, x, index: int, context):
        """The output of stage ``index`` formatted as ``out_type`` says (the
        top is applied here after the last stage)."""
        raise NotImplementedError

    def _check_out_type(self, out_type: str, what: str) -> None:
        if out_type not in self.out_types:
            raise ValueError(
                f"{what}: unknown out_type '{out_type}'"
                f'{self.out_type_hints.get(out_type, "")}; '
                f'{type(self).__name__} has {list(self.out_types)}')

    def format_as(self, x, index: int, context, out_type: str):
        """:meth:`format_output` with another ``out_type`` (one of
        :attr:`out_types`); the backbone's own ``out_type`` is unchanged
        afterwards.

        Raises:
            ValueError: ``out_type`` is not one of :attr:`out_types`.
        """
        self._check_out_type(out_type, 'format_as')
        own = self.out_type
        self.out_type = out_type
        try:
            return self.format_output(x, index, context)
        finally:
            self.out_type = own

    @contextmanager
    def also_output(self, out_type: str) -> Iterator[list]:
        """While active, :meth:`forward` also formats each ``out_indices``
        stage as ``out_type``, from the same pass, into the yielded list
        (one entry per output stage and forward call; the output itself
        when ``out_type`` is the backbone's own); what ``forward`` returns
        is unchanged. E.g. an auxiliary loss on the token map of a
        backbone that outputs class tokens (DRLoc)::

            with backbone.also_output('featmap') as maps:
                cls_tokens = backbone(images)
            token_map = maps[-1]  # (B, C, H, W) of the last output stage

        Raises:
            ValueError: ``out_type`` is not one of :attr:`out_types`, or
                is final-only and ``out_indices`` has other stages.
        """
        self._check_out_type(out_type, 'also_output')
        last = self.num_stages - 1
        if out_type in self.final_only_out_types and \
                self.out_indices != (last, ):
            raise ValueError(
                f"also_output('{out_type}'): "
                f'{self.final_only_out_types[out_type]}, but out_indices '
                f'is {list(self.out_indices)}')
        entry = (out_type, [])
        self._also_outputs.append(entry)
        try:
            yield entry[1]
        finally:
            self._also_outputs.remove(entry)

    def run_layer(self, layer: nn.Module, *args):
        """``layer(*args)``, gradient-checkpointed in training when
        ``with_cp``."""
        if self.with_cp and self.training:
            # recomputed in the backward pass: with the keep state (if any)
            # of this forward
            return torch.utils.checkpoint.checkpoint(
                bind_keep(layer), *args, use_reentrant=False)
        return layer(*args)

    def forward(self, x: torch.Tensor) -> tuple:
        """Extract features.

        Args:
            x (torch.Tensor): Images (B, C, H, W).

        Returns:
            tuple: One output per ``out_indices`` entry, formatted as
            ``out_type`` says.
        """
        x, context = self.embed(x)
        outs = []
        for i in range(self.out_indices[-1] + 1):  # later stages: unused
            x, context = self.forward_stage(i, x, context)
            if i in self.out_indices:
                out = self.format_output(x, i, context)
                outs.append(out)
                for out_type, extra in self._also_outputs:
                    extra.append(out if out_type == self.out_type else
                                 self.format_as(x, i, context, out_type))
        return tuple(outs)


def _params(part: Part) -> List[nn.Parameter]:
    if isinstance(part, nn.Parameter):
        return [part]
    return list(part.parameters())


def check_plain_vit(vit,
                    wrapper: str,
                    own_stage_loop: bool = False,
                    min_extra_tokens: Optional[int] = 1) -> None:
    """Check that ``vit`` is what a wrapper of plain ViTs (DynamicViT,
    SPViT) can run block by block: an mmvitplug :class:`VisionBackbone`
    with a flat trunk (one block per stage) and ``min_extra_tokens`` or more
    tokens (class / distillation) in front of the patch tokens out of its
    stem (:func:`check_extra_tokens`).

    Args:
        vit: The wrapped backbone.
        wrapper (str): The wrapper's name, for the errors.
        own_stage_loop (bool): Whether the wrapper runs the family's own
            ``forward_stage`` (DynamicViT); else the family must run its
            stages with the base's loop (SPViT runs the blocks itself).
            Defaults to False.
        min_extra_tokens (int, optional): The fewest tokens in front of the
            patches; None: not checked here. Defaults to 1 (a class token).

    Raises:
        TypeError: ``vit`` is not a :class:`VisionBackbone`.
        ValueError: It has its own stages, or too few extra tokens.
    """
    name = type(vit).__name__
    if not isinstance(vit, VisionBackbone):
        raise TypeError(f'{wrapper} wraps an mmvitplug VisionBackbone '
                        f'(e.g. mmvitplug.DeiT), got {name}')
    if any(len(s) != 1 for s in vit.layers) or not own_stage_loop and \
            type(vit).forward_stage is not VisionBackbone.forward_stage:
        raise ValueError(
            f'{wrapper} needs a flat trunk of blocks (one block per stage, '
            f'run in order); {name} has its own stages')
    if min_extra_tokens is not None:
        check_extra_tokens(vit, wrapper, min_extra_tokens)


def check_extra_tokens(vit, wrapper: str, minimum: int) -> None:
    """Check that ``vit`` has an int ``num_extra_tokens >= minimum``: the
    tokens (class / distillation) in front of the patch tokens out of its
    stem.

    Raises:
        ValueError: It has not.
    """
    extra = getattr(vit, 'num_extra_tokens', None)
    if isinstance(extra, bool) or not isinstance(extra, int) or \
            extra < minimum:
        what = 'class token(s) in front of the patch tokens' if minimum \
            else 'the number of tokens in front of the patch tokens out of ' \
            'the stem'
        raise ValueError(
            f'{wrapper} needs {what} (an int num_extra_tokens >= {minimum}); '
            f'{type(vit).__name__} has num_extra_tokens={extra!r}')
