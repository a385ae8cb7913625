# Copyright (c) mmvitplug contributors.
"""The mmpretrain backbone contract shared by the mmvitplug backbones.

Argument parsing (``arch``, ``out_indices``, ``out_type``,
``frozen_stages``), ViT-style layer initialisation, layer depths for
layer-wise lr decay, and :class:`BackboneContractMixin`: frozen stages,
``init_weights`` with the ``Pretrained`` init_cfg and gradient
checkpointing.
"""
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model.weight_init import trunc_normal_

from .pretrained import load_pretrained


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
                      num_layers: int,
                      unit: str = 'layers') -> Tuple[int, ...]:
    """Sorted, unique, non-negative block indices.

    Args:
        out_indices (int | Sequence[int]): Indices, negative ones counted
            from the end.
        num_layers (int): Number of blocks.
        unit (str): What the blocks are called in the error message.
            Defaults to 'layers'.

    Returns:
        tuple[int]: The indices in ``[0, num_layers)``.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    n = num_layers
    parsed = []
    for idx in out_indices:
        if not isinstance(idx, int) or not -n <= idx < n:
            raise ValueError(f'out_indices entry {idx!r} is out of range;'
                             f' valid indices are {-n}..{n - 1} '
                             f'({n} {unit})')
        parsed.append(idx % n)
    return tuple(sorted(set(parsed)))


def check_out_type(out_type: str, out_types: Sequence[str], hint: str = ''):
    """Raise a ValueError naming the choices if ``out_type`` is unknown.

    Args:
        out_type (str): The requested output type.
        out_types (Sequence[str]): The supported ones.
        hint (str): Text put after the bad value. Defaults to ''.
    """
    if out_type not in out_types:
        raise ValueError(f"Unknown out_type '{out_type}'{hint}; choose "
                         f'from {list(out_types)}')


def check_frozen_stages(frozen_stages: int, num_layers: int):
    """Raise a ValueError unless ``-1 <= frozen_stages <= num_layers``.

    Args:
        frozen_stages (int): -1 (nothing frozen) up to ``num_layers``.
        num_layers (int): Number of blocks.
    """
    if not -1 <= frozen_stages <= num_layers:
        raise ValueError(f'frozen_stages must be in [-1, '
                         f'{num_layers}], got {frozen_stages}')


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


def block_layer_depth(param_name: str,
                      prefix: str,
                      num_layers: int,
                      stem_names: Iterable[str] = (),
                      stem_prefix: str = 'patch_embed') -> Tuple[int, int]:
    """Layer depth of a parameter of a backbone with ``blocks.i``.

    Args:
        param_name (str): Parameter name.
        prefix (str): Prefix of the backbone parameters in ``param_name``.
        num_layers (int): Number of blocks.
        stem_names (Iterable[str]): Names (after ``prefix``) at depth 0.
            Defaults to ().
        stem_prefix (str): Names (after ``prefix``) starting with it are at
            depth 0. Defaults to 'patch_embed'.

    Returns:
        tuple[int, int]: The depth (0 for the stem, ``i + 1`` for
        ``blocks.i``, ``num_layers + 1`` for everything else) and the number
        of depths (``num_layers + 2``).
    """
    num_depths = num_layers + 2
    if not param_name.startswith(prefix):
        return num_depths - 1, num_depths
    name = param_name[len(prefix):]
    if name in stem_names or name.startswith(stem_prefix):
        depth = 0
    elif name.startswith('blocks.'):
        depth = int(name.split('.')[1]) + 1
    else:
        depth = num_depths - 1
    return depth, num_depths


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


class FrozenStagesMixin:
    """Freezing of ``frozen_stages`` for a backbone.

    The class defines ``_frozen_modules()`` (the modules to freeze, empty if
    ``frozen_stages < 0``) and may override ``_frozen_params()`` (loose
    parameters such as tokens). Frozen modules stay in eval mode in
    ``train()``.
    """

    def _frozen_modules(self) -> List[nn.Module]:
        raise NotImplementedError

    def _frozen_params(self) -> List[Optional[nn.Parameter]]:
        return []

    def _freeze_stages(self):
        if self.frozen_stages < 0:
            return
        for p in self._frozen_params():
            if p is not None:
                p.requires_grad = False
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        """Set train mode, keeping frozen parts in eval mode."""
        super().train(mode)
        if mode:
            for m in self._frozen_modules():
                m.eval()
        return self



class BackboneContractMixin(FrozenStagesMixin):
    """Frozen stages, weight initialisation and gradient checkpointing of
    the mmvitplug backbones.

    A backbone puts this class before ``BaseBackbone`` in its bases, sets
    :attr:`converter` to ``staticmethod(<official-layout converter>)``,
    defines ``_frozen_modules()`` (see :class:`FrozenStagesMixin`) and may
    override :meth:`_init_default_weights`. It needs the ``with_cp``
    attribute for :meth:`_run_block`.
    """
    #: Official / timm checkpoint layout to mmvitplug layout (a pure
    #: function, see :mod:`mmvitplug.converters`).
    converter: Optional[Callable] = None

    def init_weights(self):
        """Initialise the weights, then load the ``Pretrained`` init_cfg.

        The family's default initialisation comes first
        (:meth:`_init_default_weights`). With ``init_cfg=dict(
        type='Pretrained', checkpoint=..., prefix=...)`` the checkpoint
        (mmvitplug layout, or the official / timm layout, which is
        converted) is then loaded by
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
        self._init_default_weights()
        if cfg is None:
            return super().init_weights()
        load_pretrained(
            self,
            cfg['checkpoint'],
            prefix=cfg.get('prefix'),
            converter=self.converter,
            map_location=cfg.get('map_location', 'cpu'))
        self._is_init = True

    def _init_default_weights(self):
        """The family's initialisation; ViT-style by default."""
        self.apply(init_linear_norm)

    def _run_block(self, block: nn.Module, *args) -> torch.Tensor:
        """``block(*args)``, gradient-checkpointed in training when
        ``with_cp``."""
        if self.with_cp and self.training:
            return cp.checkpoint(block, *args, use_reentrant=False)
        return block(*args)
