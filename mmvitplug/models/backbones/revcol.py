# Copyright (c) mmvitplug contributors.
"""RevCol: reversible column networks.

`Cai et al. 2023, "Reversible Column Networks"
<https://arxiv.org/abs/2212.11696>`_; official code: megvii-research/RevCol.
"""
import contextlib
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.layers import ConvNeXtBlock, LayerNorm2d
from mmvitplug.registry import MODELS
from .base import (Parts, VisionBackbone, drop_path_rates, format_featmap,
                   init_conv_linear, parse_out_indices)

Maps = List[Optional[torch.Tensor]]


class RevColLevel(nn.Module):
    """One level of one column: the fusion of the level below (this
    column's new map, downsampled) and the level above (the previous
    column's map, upsampled), then ConvNeXt blocks.

    ``forward`` returns the level's function F; the column adds the
    reversible shortcut ``alpha * c`` of the previous column's map.

    Args:
        level (int): 0 .. 3 (stride 4 .. 32).
        channels (Sequence[int]): Channels of the 4 levels.
        depth (int): ConvNeXt blocks.
        kernel_size (int): Depth-wise kernel of the blocks.
        first_column (bool): The first column has no previous column: no
            upsampling branch, no shortcut (no ``alpha``).
        drop_path (Sequence[float]): Rates of the blocks.
    """

    def __init__(self, level: int, channels: Sequence[int], depth: int,
                 kernel_size: int, first_column: bool,
                 drop_path: Sequence[float]):
        super().__init__()
        dims = channels[level]
        self.alpha = None if first_column else nn.Parameter(
            torch.full((1, dims, 1, 1), 0.5))
        self.down = nn.Sequential(
            nn.Conv2d(channels[level - 1], dims, 2, stride=2),
            LayerNorm2d(dims)) if level else None
        self.up = None if first_column or level == 3 else nn.Sequential(
            nn.Linear(channels[level + 1], dims), nn.LayerNorm(dims,
                                                               eps=1e-6))
        self.blocks = nn.Sequential(*[
            ConvNeXtBlock(dims, kernel_size=kernel_size, drop_path=rate)
            for rate in drop_path
        ])
        assert len(self.blocks) == depth

    def forward(self, below: torch.Tensor,
                above: Optional[torch.Tensor]) -> torch.Tensor:
        x = below if self.down is None else self.down(below)
        if self.up is not None:
            up = self.up(above.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            x = x + F.interpolate(up, scale_factor=2., mode='nearest')
        return self.blocks(x)


def run_column(levels: Sequence[RevColLevel],
               x: torch.Tensor,
               maps: Maps,
               run: Callable = lambda level, *args: level(*args),
               before_level: Optional[Callable[[int], None]] = None) -> Maps:
    """One column: c_l <- F_l(c_{l-1} (new), c_{l+1} (old)) + alpha_l *
    c_l (old), level by level; ``run(level, below, above)`` computes F_l
    (e.g. checkpointed), ``before_level(l)`` is called before it."""
    new = []
    for i, level in enumerate(levels):
        if before_level is not None:
            before_level(i)
        c = run(level, new[-1] if new else x,
                maps[i + 1] if i < 3 else None)
        if level.alpha is not None:
            c = c + level.alpha * maps[i]
        new.append(c)
    return new


def _devices(tensors) -> List[int]:
    return sorted({t.get_device() for t in tensors if t.is_cuda})


class ReversibleColumn(torch.autograd.Function):
    """A column whose backward reconstructs its inputs from its outputs.

    The forward runs without a graph and keeps only the column's outputs;
    the backward goes down the levels (3 to 0), recomputing each F_l from
    the outputs below it and the reconstructed previous-column map above
    it, under the RNG state (CPU and CUDA) and autocast settings of the
    forward, so stochastic depth draws the same masks, and inverts the
    shortcut: ``c_l (old) = (c_l (new) - F_l) / alpha_l``. Parameter
    gradients accumulate inside the backward; the gradients of the inputs
    (stem output and previous column) are returned. Equal to the plain
    column's gradients up to rounding.
    """

    @staticmethod
    def forward(ctx, levels, x, *maps_and_params):
        # the trainable parameters are inputs only so that the outputs
        # require grad (and the backward runs) when nothing else does
        maps = maps_and_params[:4]
        ctx.num_params = len(maps_and_params) - 4
        ctx.levels = levels
        ctx.first = maps[0] is None
        ctx.devices = _devices([x, *[m for m in maps if m is not None]])
        ctx.autocast = {
            device: (torch.is_autocast_enabled(device),
                     torch.get_autocast_dtype(device))
            for device in ('cpu', 'cuda')
        }
        ctx.rng = []
        with torch.no_grad():
            new = run_column(
                levels, x, maps,
                before_level=lambda _: ctx.rng.append(
                    (torch.get_rng_state(),
                     [torch.cuda.get_rng_state(d) for d in ctx.devices])))
        ctx.save_for_backward(x, *new)
        return tuple(new)

    @staticmethod
    def backward(ctx, *grads):
        x, *new = ctx.saved_tensors
        levels = ctx.levels
        x = x.detach().requires_grad_(ctx.needs_input_grad[1])
        below = [c.detach().requires_grad_() for c in new[:3]]
        grads = [torch.zeros_like(c) if g is None else g
                 for c, g in zip(new, grads)]
        old_grads: Maps = [None] * 4
        above = None  # the reconstructed previous-column map of level + 1
        with contextlib.ExitStack() as stack:
            stack.enter_context(torch.enable_grad())
            stack.enter_context(torch.random.fork_rng(devices=ctx.devices))
            for device, (enabled, dtype) in ctx.autocast.items():
                if device == 'cpu' or torch.cuda.is_available():
                    stack.enter_context(
                        torch.autocast(device, enabled=enabled, dtype=dtype))
            for i in (3, 2, 1, 0):
                level = levels[i]
                cpu_state, cuda_states = ctx.rng[i]
                torch.set_rng_state(cpu_state)
                for device, state in zip(ctx.devices, cuda_states):
                    torch.cuda.set_rng_state(state, device)
                down = below[i - 1] if i else x
                g = grads[i]
                if i < 3 and below[i].grad is not None:
                    g = g + below[i].grad  # through F_{i+1}
                f = level(down, above)
                if f.requires_grad:
                    torch.autograd.backward(f, g)
                if above is not None:
                    old_grads[i + 1] = old_grads[i + 1] + above.grad
                if ctx.first:
                    continue
                with torch.no_grad():
                    old = (new[i] - f.detach()) / level.alpha
                if level.alpha.requires_grad:
                    torch.autograd.backward(level.alpha * old, g)
                old_grads[i] = g * level.alpha.detach()
                above = old.requires_grad_()
        return (None, x.grad if ctx.needs_input_grad[1] else None,
                *old_grads, *[None] * ctx.num_params)


@MODELS.register_module()
class RevCol(VisionBackbone):
    """RevCol: a stem, then columns of four levels (strides 4 to 32) of
    ConvNeXt blocks. Level ``l`` of column ``i`` fuses level ``l - 1`` of
    column ``i`` (downsampled) with level ``l + 1`` of column ``i - 1``
    (upsampled) and adds ``alpha_l`` times its own map of column ``i - 1``,
    a reversible connection: column ``i - 1`` can be recomputed from
    column ``i``, so with ``reversible=True`` training keeps only the
    columns' outputs and reconstructs the rest in the backward.

    The outputs are levels of the last column (``out_indices`` counts
    levels 0 .. 3, as the official detection backbone) or of several
    columns (``out_columns``, e.g. the columns read by the intermediate
    supervision of the official ImageNet training). Any input works:
    it is padded (bottom, right) to a multiple of 32 and each map is
    cropped to ``ceil(side / stride)``. The official code takes multiples
    of 32 only (mmdet pads them).

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` or a dict with keys
            ``channels`` (4), ``depths`` (4: blocks per level) and
            ``num_columns``. Defaults to 'revcol-t'.
        kernel_size (int): Depth-wise kernel of the blocks. Defaults to 3.
        in_channels (int): Image channels. Defaults to 3.
        out_indices (int | Sequence[int]): Levels to output. Defaults to
            -1.
        out_columns (int | Sequence[int]): Columns whose levels are output
            (negative: from the end), column by column, each with every
            level of ``out_indices``; later columns are not run.
            Defaults to -1.
        out_type (str): 'featmap' (B, C_l, H_l, W_l) or 'avg_featmap'
            (B, C_l) means. Defaults to 'featmap'.
        reversible (bool): Reconstruct the columns in the backward instead
            of storing their activations (the official ``save_memory``).
            Defaults to True.
        drop_path_rate (float): Stochastic depth, linear over the blocks of
            a column (0 at its first block), the same in every column as
            officially. Defaults to 0.
        frozen_stages (int): -1 freezes nothing; 0 the stem; k the first k
            levels of every column too. Defaults to -1.
        with_cp (bool): Gradient checkpointing of every level of every
            column; for ``reversible=False`` only (the reversible backward
            already recomputes). Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """
    arch_zoo: Dict[str, dict] = {
        'revcol-t': dict(channels=(64, 128, 256, 512), depths=(2, 2, 4, 2),
                         num_columns=4),
        'revcol-s': dict(channels=(64, 128, 256, 512), depths=(2, 2, 4, 2),
                         num_columns=8),
        'revcol-b': dict(channels=(72, 144, 288, 576), depths=(1, 1, 3, 2),
                         num_columns=16),
        'revcol-l': dict(channels=(128, 256, 512, 1024),
                         depths=(1, 2, 6, 2), num_columns=8),
        'revcol-xl': dict(channels=(224, 448, 896, 1792),
                          depths=(1, 2, 6, 2), num_columns=8),
    }
    arch_keys = ('channels', 'depths', 'num_columns')
    out_types = ('featmap', 'avg_featmap')
    stage_unit = 'levels'
    num_stages_key = 'depths'
    parts = Parts(stem=('stem', ), stages='levels')
    #: The stride of the last level: inputs are padded to its multiples.
    stride = 32

    def __init__(self,
                 arch: Union[str, dict] = 'revcol-t',
                 kernel_size: int = 3,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_columns: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 reversible: bool = True,
                 drop_path_rate: float = 0.,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(arch, out_indices, out_type, frozen_stages, with_cp,
                         init_cfg)
        lists = self.stage_settings('channels', num_stages=4)
        channels, depths = lists['channels'], lists['depths']
        num_columns = self.arch_settings['num_columns']
        if not isinstance(num_columns, int) or num_columns < 1:
            raise ValueError(
                f'RevCol num_columns must be a positive int, got '
                f'{num_columns!r}')
        if reversible and with_cp:
            raise ValueError(
                'RevCol: with_cp=True applies to reversible=False; the '
                'reversible backward already recomputes every column')
        self.out_columns = parse_out_indices(out_columns, num_columns,
                                             'columns', 'out_columns')
        self.channels, self.depths = channels, depths
        self.embed_dims = channels
        self.patch_size = 4  # the stem's stride
        self.num_columns = num_columns
        self.reversible = reversible
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 4, stride=4),
            LayerNorm2d(channels[0]))
        rates = drop_path_rates(drop_path_rate, sum(depths), 'linear')
        starts = [sum(depths[:i]) for i in range(4)]
        # levels[l][i]: level l of column i (declared per level so that
        # frozen_stages freezes levels, as in any pyramid)
        self.levels = nn.ModuleList([
            nn.ModuleList([
                RevColLevel(level, channels, depths[level], kernel_size,
                            column == 0,
                            rates[starts[level]:starts[level] + depths[level]])
                for column in range(num_columns)
            ]) for level in range(4)
        ])

    def init_default_weights(self):
        """The official initialisation: truncated normal (std 0.02)
        convolution and linear weights, zero biases; unit norms, layer
        scales 1e-6, shortcuts 0.5 (as built)."""
        self.apply(init_conv_linear)

    # ------------------------------------------------------------ depths
    def trunk_depths(self) -> Tuple[Dict[str, int], int]:
        """Level ``l`` of column ``i`` enters after the stem through ``i``
        columns and the blocks of the levels below: its fusion has depth
        ``i + sum(depths[:l]) + 1``, its block ``j`` that plus ``j``, its
        ``alpha`` ``i + 1`` (the official layer-wise decay ids)."""
        depths = {}
        for level, columns in enumerate(self.levels):
            start = sum(self.depths[:level])
            for column, module in enumerate(columns):
                for name, _ in module.named_parameters():
                    key = f'levels.{level}.{column}.{name}'
                    if name == 'alpha':
                        depths[key] = column + 1
                    elif name.startswith('blocks.'):
                        block = int(name.split('.')[1])
                        depths[key] = column + start + block + 1
                    else:
                        depths[key] = column + start + 1
        return depths, self.num_columns + sum(self.depths) - 1

    # ----------------------------------------------------------- forward
    def embed(self, x: torch.Tensor):
        H, W = x.shape[-2:]
        pad_h, pad_w = -H % self.stride, -W % self.stride
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return self.stem(x), (H, W)

    def clamp_alphas(self):
        """Keep every ``|alpha| >= 1e-3`` (in place, sign kept), as the
        official model does before every forward: the shortcut must stay
        invertible."""
        with torch.no_grad():
            for columns in self.levels:
                for level in columns:
                    if level.alpha is not None:
                        alpha = level.alpha
                        alpha.copy_(torch.where(alpha < 0, -1., 1.) *
                                    alpha.abs().clamp(min=1e-3))

    def forward_columns(self, x: torch.Tensor) -> List[Maps]:
        """The stem output through the columns: the maps of each of
        :attr:`out_columns`."""
        maps: Maps = [None] * 4
        outs = []
        reversible = self.reversible and self.training and \
            torch.is_grad_enabled()
        for column in range(self.out_columns[-1] + 1):
            levels = [self.levels[level][column] for level in range(4)]
            if reversible:
                params = [
                    p for level in levels for p in level.parameters()
                    if p.requires_grad
                ]
                maps = list(
                    ReversibleColumn.apply(levels, x, *maps, *params))
            else:
                maps = self.forward_column(levels, x, maps)
            if column in self.out_columns:
                outs.append(maps)
        return outs

    def forward_column(self, levels: Sequence[RevColLevel], x: torch.Tensor,
                       maps: Maps) -> Maps:
        """One column, plainly (each level checkpointed with
        ``with_cp``): c_l <- F_l(c_{l-1} (new), c_{l+1} (old)) + alpha_l *
        c_l (old)."""
        return run_column(levels, x, maps, self.run_layer)

    def forward(self, x: torch.Tensor) -> tuple:
        """Levels ``out_indices`` of the columns ``out_columns``.

        Args:
            x (torch.Tensor): Images (B, C, H, W).

        Returns:
            tuple: For each of ``out_columns``, one output per
            ``out_indices`` entry.
        """
        self.clamp_alphas()
        x, size = self.embed(x)
        outs = []
        for maps in self.forward_columns(x):
            for i in self.out_indices:
                outs.append(self.format_output(maps[i], i, size))
                for out_type, extra in self._also_outputs:
                    extra.append(outs[-1] if out_type == self.out_type else
                                 self.format_as(maps[i], i, size, out_type))
        return tuple(outs)

    def forward_stage(self, index: int, x, context):
        """Not defined: a level runs in every column, not once in a
        sequence of stages (see :meth:`forward_columns`)."""
        raise NotImplementedError(
            'RevCol runs its levels column by column (forward_columns), '
            'not stage after stage: it cannot be run, nor continued, one '
            'stage at a time (e.g. by MixSKD\'s auxiliary branches)')

    def drop_front(self, num_stages: int) -> None:
        """Not defined for RevCol (see :meth:`forward_stage`)."""
        self.forward_stage(num_stages, None, None)

    def format_output(self, x: torch.Tensor, index: int,
                      size: Tuple[int, int]):
        stride = 4 * 2**index
        x = x[..., :math.ceil(size[0] / stride), :math.ceil(size[1] / stride)]
        return format_featmap(x, self.out_type)
