# Copyright (c) mmvitplug contributors.
"""Loading pretrained weights that cannot fail silently."""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from mmvitplug.layers import resize_pos_embed

StateDict = Dict[str, torch.Tensor]
_DEIT_LIKE = ('cls_token', 'pos_embed', 'patch_embed.', 'blocks.')


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
        resized (list[tuple]): ``(key, old_shape, new_shape)`` of position
            embeddings interpolated to the module's grid.
        converted (bool): Whether the official layout was converted.
    """
    checkpoint: str
    loaded: List[str] = field(default_factory=list)
    missing_keys: List[str] = field(default_factory=list)
    unexpected_keys: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    resized: List[Tuple[str, tuple, tuple]] = field(default_factory=list)
    converted: bool = False

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


def unwrap_state_dict(checkpoint: dict) -> StateDict:
    """Return the state dict inside a ``{'state_dict'|'model': ...}`` dict."""
    for wrapper in ('state_dict', 'model'):
        if isinstance(checkpoint.get(wrapper), dict):
            return checkpoint[wrapper]
    return checkpoint


def is_official_layout(checkpoint: dict) -> bool:
    """Whether a checkpoint is in the official / timm layout.

    True for ``{'model': ...}`` wrappers (official repositories) and for
    state dicts with top-level ViT keys (``cls_token``, ``pos_embed``,
    ``patch_embed.*``, ``blocks.*``) and no ``backbone.`` key (timm).
    """
    if isinstance(checkpoint.get('model'), dict):
        return True
    keys = list(unwrap_state_dict(checkpoint))
    if any(k.startswith('backbone.') for k in keys):
        return False
    return any(k.startswith(_DEIT_LIKE) for k in keys)


def _has_module_keys(state_dict: StateDict, module: nn.Module,
                     prefix: Optional[str]) -> bool:
    """Whether every key of ``state_dict`` (after ``prefix``) is a key of
    ``module``: a bare mmvitplug state dict, which can look like the
    official layout (top-level ``blocks.*``) but must not be converted."""
    own = set(module.state_dict())
    keys = [
        k[len(prefix):] if prefix and k.startswith(prefix) else k
        for k in state_dict
    ]
    return bool(keys) and all(k in own for k in keys)


def convert_if_official(
        checkpoint: dict, converter: Optional[Callable[[StateDict],
                                                       StateDict]],
        module: nn.Module,
        prefix: Optional[str]) -> Tuple[StateDict, Optional[str], bool]:
    """Convert an official-layout checkpoint with ``converter``.

    A checkpoint whose keys are all keys of ``module`` already (a bare
    mmvitplug state dict) is not converted. Converters produce classifier
    keys (``backbone.*``, ``head.*``). When
    the caller gave no ``prefix`` and ``module`` is a bare backbone (it has
    no ``backbone`` child), the prefix becomes ``'backbone.'``.

    Returns:
        tuple: The state dict, the prefix to strip and whether it was
        converted.
    """
    state_dict = unwrap_state_dict(checkpoint)
    wrapped_official = isinstance(checkpoint.get('model'), dict)
    if converter is None or not is_official_layout(checkpoint) or (
            not wrapped_official
            and _has_module_keys(state_dict, module, prefix)):
        return state_dict, prefix, False
    state_dict = converter(state_dict)
    if prefix is None and not hasattr(module, 'backbone'):
        prefix = 'backbone.'
    return state_dict, prefix, True


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


def load_pretrained(module: nn.Module,
                    checkpoint: Union[str, dict],
                    prefix: Optional[str] = None,
                    converter: Optional[Callable[[StateDict],
                                                 StateDict]] = None,
                    map_location='cpu',
                    logger='current') -> LoadReport:
    """Load a checkpoint into ``module`` and report exactly what happened.

    Steps: read the file with ``torch.load(weights_only=True)``; unwrap
    ``state_dict`` / ``model``; convert the official layout with
    ``converter`` (see :func:`convert_if_official`); keep the keys starting
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
            :func:`mmvitplug.converters.convert_deit`. Defaults to None.
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
    state_dict, prefix, converted = convert_if_official(
        raw, converter, module, prefix)
    report = LoadReport(checkpoint=name, converted=converted)

    if all(k.startswith('module.') for k in state_dict):
        state_dict = {k[len('module.'):]: v for k, v in state_dict.items()}
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
    # grid-tied weights other than position embeddings (ResMLP)
    resize = getattr(module, 'resize_pretrained_state_dict', None)
    if resize is not None:
        state_dict = resize(state_dict)
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
            f'{list(state_dict)[:5]}, module keys like {list(module_sd)[:5]}')

    print_log(
        f'Loaded {report.num_loaded}/{len(module_sd)} tensors of '
        f'{type(module).__name__} from {name}' +
        (' (converted from the official layout)' if converted else ''),
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
