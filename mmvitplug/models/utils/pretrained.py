# Copyright (c) mmvitplug contributors.
"""Loading pretrained weights that cannot fail silently."""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmvitplug.converters.registry import (Converter, converter_for_type,
                                           converter_of_function,
                                           get_converter, prepare_state_dict,
                                           recognising_converters,
                                           unwrap_state_dict)
from mmvitplug.layers import resize_pos_embed

__all__ = [
    'LoadReport', 'convert_if_official', 'find_converter',
    'is_official_layout', 'load_pretrained', 'unwrap_state_dict'
]

StateDict = Dict[str, torch.Tensor]
ConverterLike = Union[Converter, Callable[[StateDict], StateDict]]


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did.

    Attributes:
        checkpoint (str): Checkpoint path / URL (or '<dict>').
        loaded (list[str]): Module keys that received a checkpoint tensor.
        missing_keys (list[str]): Module keys the checkpoint lacks (shape
            mismatches excluded).
        unexpected_keys (list[str]): Checkpoint keys the module lacks.
        mismatched (list[tuple]): ``(key, checkpoint_shape, module_shape)``
            of tensors skipped because their shapes differ.
        resized (list[tuple]): ``(key, old_shape, new_shape)`` of grid-tied
            weights (position embeddings, cross-patch layers, attention
            biases) interpolated to the module's grid.
        converted (bool): Whether the official layout was converted.
        converter (str, optional): Name of the converter that was applied
            (the backbone type it is registered for, or the function name
            of an unregistered one); None if nothing was converted.
    """
    checkpoint: str
    loaded: List[str] = field(default_factory=list)
    missing_keys: List[str] = field(default_factory=list)
    unexpected_keys: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    converted: bool = False
    converter: Optional[str] = None

    @property
    def num_loaded(self) -> int:
        """Number of tensors loaded."""
        return len(self.loaded)

    @property
    def complete(self) -> bool:
        """True when every module tensor was loaded and nothing was left."""
        return not (self.missing_keys or self.unexpected_keys
                    or self.mismatched)


def _read_checkpoint(checkpoint: Union[str, dict], map_location) -> dict:
    if isinstance(checkpoint, dict):
        return checkpoint
    if checkpoint.startswith(('http://', 'https://')):
        return torch.hub.load_state_dict_from_url(
            checkpoint, map_location=map_location, weights_only=True)
    # Downloaded files may come from anywhere: never unpickle code.
    return torch.load(checkpoint, map_location=map_location, weights_only=True)


def _not_mmvitplug_classifier_layout(keys) -> bool:
    """Recogniser of an unregistered explicit converter without a
    registered one for the module: anything but mmvitplug classifier keys."""
    return not any(k.startswith('backbone.') for k in keys)


def find_converter(module: nn.Module,
                   converter: Optional[ConverterLike] = None
                   ) -> Optional[Converter]:
    """The converter :func:`load_pretrained` uses for ``module``.

    Args:
        module (nn.Module): The module loaded into.
        converter (Callable, optional): An explicit converter; it wins over
            the registry. A registered one (e.g.
            :func:`mmvitplug.converters.convert_deit`) comes with its
            recogniser; an unregistered function gets the recogniser of the
            converter registered for ``module``, or else accepts every
            checkpoint without ``backbone.`` keys. Defaults to None.

    Returns:
        Converter | None: ``converter``; else the converter registered for
        ``type(module)`` (the first registered name in its MRO, so
        subclasses use their base's); else, for a module with a
        ``backbone`` child (a classifier, e.g. a distillation teacher), the
        one registered for ``type(module.backbone)``; else None.
    """
    found = converter_for_type(type(module))
    backbone = getattr(module, 'backbone', None)
    if found is None and isinstance(backbone, nn.Module):
        found = converter_for_type(type(backbone))
    if converter is None:
        return found
    registered = converter_of_function(converter)
    if registered is not None:
        return registered
    if not callable(converter):
        raise TypeError(f'converter must be callable, got {converter!r}')
    return Converter(
        name=getattr(converter, '__name__', repr(converter)),
        fn=converter,
        recognise=found.recognise
        if found is not None else _not_mmvitplug_classifier_layout,
        function=converter)


def is_official_layout(checkpoint: dict,
                       backbone: Union[None, str, type, nn.Module] = None
                       ) -> bool:
    """Whether a checkpoint is in an official / timm layout.

    The checkpoint is unwrapped and stripped of DDP's ``module.`` prefix
    (:func:`mmvitplug.converters.prepare_state_dict`), then judged by the
    recogniser declared by the converter of ``backbone``.

    Args:
        checkpoint (dict): A checkpoint or a state dict.
        backbone (str | type | nn.Module, optional): A registered backbone
            type name, a backbone class, or a module (see
            :func:`find_converter`). Defaults to None: any registered
            converter.

    Returns:
        bool: Whether the recogniser (any, for None) accepts the keys; False
        if ``backbone`` has no converter.
    """
    state_dict = prepare_state_dict(checkpoint)
    if backbone is None:
        return bool(recognising_converters(state_dict))
    if isinstance(backbone, str):
        converter = get_converter(backbone)
    elif isinstance(backbone, type):
        converter = converter_for_type(backbone)
    else:
        converter = find_converter(backbone)
    return converter is not None and converter.recognises(state_dict)


def _in_module_layout(state_dict: StateDict, module: nn.Module,
                      prefix: Optional[str]) -> bool:
    """Whether ``state_dict`` is already in ``module``'s layout: every key
    (with a ``prefix``: every key that starts with it, stripped) is a key of
    ``module``. A bare mmvitplug backbone state dict can look like the
    official layout (DeiT's names are timm's) and must not be
    converted."""
    own = set(module.state_dict())
    if prefix:
        keys = [k[len(prefix):] for k in state_dict if k.startswith(prefix)]
    else:
        keys = list(state_dict)
    return bool(keys) and all(k in own for k in keys)


def _convert(checkpoint: dict, converter: Optional[ConverterLike],
             module: nn.Module, prefix: Optional[str]
             ) -> Tuple[StateDict, Optional[str], Optional[Converter]]:
    """:func:`convert_if_official`, returning the applied converter."""
    state_dict = prepare_state_dict(checkpoint)
    found = find_converter(module, converter)
    if found is None or not found.recognises(state_dict) or \
            _in_module_layout(state_dict, module, prefix):
        return state_dict, prefix, None
    state_dict = found.fn(state_dict)
    if prefix is None and not hasattr(module, 'backbone'):
        prefix = 'backbone.'
    return state_dict, prefix, found


def convert_if_official(
        checkpoint: dict, converter: Optional[ConverterLike],
        module: nn.Module,
        prefix: Optional[str]) -> Tuple[StateDict, Optional[str], bool]:
    """Convert an official-layout checkpoint for ``module``.

    The checkpoint is unwrapped and stripped of DDP's ``module.`` prefix
    once (:func:`mmvitplug.converters.prepare_state_dict`). The converter
    is ``converter`` or the one registered for ``module`` (see
    :func:`find_converter`); the checkpoint is converted when that
    converter's recogniser accepts its keys, unless it is already in the
    module's layout (every key, after ``prefix``, is a module key: a bare
    mmvitplug state dict). Converters produce classifier keys
    (``backbone.*``, ``head.*``). When the caller gave no ``prefix`` and
    ``module`` is a bare backbone (it has no ``backbone`` child), the
    prefix becomes ``'backbone.'``.

    Args:
        checkpoint (dict): A checkpoint or a state dict.
        converter (Callable, optional): An explicit converter (wins over
            the registry), or None.
        module (nn.Module): The module loaded into.
        prefix (str, optional): Prefix of the wanted keys.

    Returns:
        tuple: The state dict, the prefix to strip and whether it was
        converted.
    """
    state_dict, prefix, applied = _convert(checkpoint, converter, module,
                                           prefix)
    return state_dict, prefix, applied is not None


def _warn_foreign_layout(state_dict: StateDict, module: nn.Module,
                         converter: Optional[ConverterLike], logger):
    """Warn when an unconverted checkpoint is in the official layout of
    other backbones only (e.g. CaiT weights loaded into a DeiT); returns
    their names."""
    own = find_converter(module, converter)
    if own is not None and own.recognises(state_dict):
        return []  # its own layout, already the module's keys
    others = recognising_converters(state_dict)
    if others:
        print_log(
            f'The checkpoint is in the official layout of {others}, which '
            f'is not converted for {type(module).__name__} (converter: '
            f'{own.name if own is not None else None}); loading it as is',
            logger=logger,
            level=30)
    return others


def _resize_pos_embeds(module: nn.Module, state_dict: StateDict,
                       module_sd: StateDict, report: LoadReport, logger):
    for key, value in list(state_dict.items()):
        if not key.endswith('pos_embed') or key not in module_sd:
            continue
        target = module_sd[key]
        if value.shape == target.shape or value.ndim != 3 or \
                value.shape[-1] != target.shape[-1]:
            continue
        owner = module.get_submodule(key.rpartition('.')[0])
        # leading non-grid entries (class tokens) of the position embedding
        extra = getattr(owner, 'num_pos_embed_extra_tokens',
                        getattr(owner, 'num_extra_tokens', 1))
        patch_embed = getattr(owner, 'patch_embed', None)
        side = math.isqrt(max(value.shape[1] - extra, 0))
        if patch_embed is None or side * side + extra != value.shape[1]:
            continue  # left to the shape-mismatch report
        state_dict[key] = resize_pos_embed(
            value, (side, side),
            patch_embed.grid_size,
            mode=getattr(owner, 'interpolate_mode', 'bicubic'),
            num_extra_tokens=extra)
        report.resized.append(
            (key, tuple(value.shape), tuple(state_dict[key].shape)))
        print_log(
            f'Resized {key} from {tuple(value.shape)} (grid {side}x{side})'
            f' to {tuple(target.shape)} (grid {patch_embed.grid_size[0]}x'
            f'{patch_embed.grid_size[1]})',
            logger=logger)


def _resize_grid_tied(module: nn.Module, state_dict: StateDict,
                      report: LoadReport):
    """Grid-tied weights other than (B, N, C) position embeddings (ResMLP's
    cross-patch layers, spatial position embeddings, attention-bias
    tables): every submodule with a ``resize_pretrained_state_dict``
    method resizes its own keys, so a whole classifier (e.g. a
    distillation teacher) resizes its backbone's too. Resized keys are
    reported."""
    for name, sub in module.named_modules():
        resize = getattr(sub, 'resize_pretrained_state_dict', None)
        if resize is None:
            continue
        prefix = f'{name}.' if name else ''
        own = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        if not own:
            continue
        shapes = {k: tuple(v.shape) for k, v in own.items()}
        for key, value in resize(dict(own)).items():
            state_dict[prefix + key] = value
            if key in shapes and tuple(value.shape) != shapes[key]:
                report.resized.append(
                    (prefix + key, shapes[key], tuple(value.shape)))


def load_pretrained(module: nn.Module,
                    checkpoint: Union[str, dict],
                    prefix: Optional[str] = None,
                    converter: Optional[ConverterLike] = None,
                    map_location='cpu',
                    logger='current') -> LoadReport:
    """Load a checkpoint into ``module`` and report exactly what happened.

    Steps: read the file with ``torch.load(weights_only=True)``; unwrap
    ``state_dict`` / ``model`` and strip DDP's ``module.`` prefix (once,
    :func:`mmvitplug.converters.prepare_state_dict`); convert an official
    layout with ``converter`` or else the converter registered for the
    module's type (or its ``backbone`` child's), when the converter's
    recogniser accepts the keys (see :func:`convert_if_official`,
    :func:`find_converter`); warn when the checkpoint is only another
    backbone's official layout; keep the keys starting
    with ``prefix`` and strip it; resize position embeddings to the
    module's patch grid, and let a module with a
    ``resize_pretrained_state_dict(state_dict)`` method resize its other
    grid-tied weights; skip tensors whose shapes differ; load with
    ``strict=False``; log the number of loaded tensors and every missing,
    unexpected and mismatched key (as warnings).

    Args:
        module (nn.Module): Module to load into.
        checkpoint (str | dict): Path, URL or an already loaded checkpoint.
        prefix (str, optional): Prefix of the wanted keys, e.g.
            ``'backbone.'``. Defaults to None (all keys).
        converter (Callable, optional): Official-layout converter, e.g.
            :func:`mmvitplug.converters.convert_deit`; it wins over the
            registry. Defaults to None: the converter registered for
            ``type(module)`` (or a base class), else for
            ``type(module.backbone)``.
        map_location: Passed to :func:`torch.load`. Defaults to 'cpu'.
        logger: mmengine logger (name or instance). Defaults to 'current'.

    Returns:
        LoadReport: The loaded, missing, unexpected, mismatched and resized
        keys.

    Raises:
        ValueError: If no checkpoint key starts with ``prefix`` or no
            tensor at all could be loaded.
    """
    name = checkpoint if isinstance(checkpoint, str) else '<dict>'
    raw = _read_checkpoint(checkpoint, map_location)
    state_dict, prefix, applied = _convert(raw, converter, module, prefix)
    converted = applied is not None
    report = LoadReport(
        checkpoint=name,
        converted=converted,
        converter=applied.name if converted else None)
    foreign = [] if converted else _warn_foreign_layout(
        state_dict, module, converter, logger)

    if prefix:
        selected = {
            k[len(prefix):]: v
            for k, v in state_dict.items() if k.startswith(prefix)
        }
        if not selected:
            raise ValueError(
                f"No key of {name} starts with prefix '{prefix}'; its keys "
                f'look like {list(state_dict)[:5]}')
        state_dict = selected
    else:
        state_dict = dict(state_dict)

    module_sd = module.state_dict()
    _resize_pos_embeds(module, state_dict, module_sd, report, logger)
    _resize_grid_tied(module, state_dict, report)
    for key in list(state_dict):
        if key in module_sd and state_dict[key].shape != module_sd[key].shape:
            report.mismatched.append((key, tuple(state_dict.pop(key).shape),
                                      tuple(module_sd[key].shape)))

    result = module.load_state_dict(state_dict, strict=False)
    skipped = {k for k, _, _ in report.mismatched}
    report.loaded = [k for k in state_dict if k in module_sd]
    report.missing_keys = [k for k in result.missing_keys if k not in skipped]
    report.unexpected_keys = list(result.unexpected_keys)
    if not report.loaded:
        raise ValueError(
            f'No tensor of {name} matches {type(module).__name__} '
            f'(prefix={prefix!r}); checkpoint keys look like '
            f'{list(state_dict)[:5]}, module keys like {list(module_sd)[:5]}'
            + (f'; it is in the official layout of {foreign}'
               if foreign else ''))

    print_log(
        f'Loaded {report.num_loaded}/{len(module_sd)} tensors of '
        f'{type(module).__name__} from {name}' +
        (f' (converted from the official layout by the {applied.name} '
         'converter)' if converted else ''),
        logger=logger)
    if report.missing_keys:
        print_log(
            f'{len(report.missing_keys)} missing key(s) (left at their '
            f'initialisation): {report.missing_keys}',
            logger=logger,
            level=30)
    if report.unexpected_keys:
        print_log(
            f'{len(report.unexpected_keys)} unexpected key(s) (ignored): '
            f'{report.unexpected_keys}',
            logger=logger,
            level=30)
    for key, src, dst in report.mismatched:
        print_log(
            f'Shape mismatch, NOT loaded: {key} checkpoint {src} vs '
            f'module {dst}',
            logger=logger,
            level=30)
    return report
