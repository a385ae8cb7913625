# Copyright (c) mmvitplug contributors.
"""The connectors of `TransKD <https://arxiv.org/abs/2202.13393>`_ (Liu et
al., "Transformer Knowledge Distillation for Efficient Semantic
Segmentation"): Cross Selective Fusion of the student's stage maps, and the
Global-Local Mixer and Embedding Assistant of its patch embeddings (the
Patch Embedding Alignment itself is a
:class:`~mmvitplug.models.distill.LinearConnector` per stage).

Distiller parts: the student network is not changed, and inference never
runs them.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

from mmvitplug.layers import Attention
from mmvitplug.registry import MODELS


def _channels(value, name: str) -> Tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or any(
            isinstance(c, bool) or not isinstance(c, int) or c < 1
            for c in value):
        raise ValueError(
            f'{name} must be a non-empty list of positive ints, got {value!r}')
    return tuple(value)


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')
    return value


def _check_tokens(x, name: str, channels: int):
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.size(
            -1) != channels:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(f'{name} takes tokens (N, L, {channels}), got '
                         f'{shape}')


class SelectiveFusion(nn.Module):
    """Fuse two maps by channel-wise selective-kernel attention (`SKNet
    <https://arxiv.org/abs/1903.06586>`_), as the CSF of TransKD.

    ``s = GAP(x + y)``, ``z = ReLU(BN(W s))`` (1x1 convolution without
    bias to ``attn_channels``), one 1x1 convolution per input giving its
    logits, a softmax over the two inputs per channel, and
    ``a_x * x + a_y * y``.

    Args:
        channels (int): Channels of both maps.
        attn_channels (int): Width of the squeezed descriptor ``z``.
        norm_cfg (dict): Norm of ``z``. Defaults to ``dict(type='BN')``.
    """

    def __init__(self, channels: int, attn_channels: int,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        self.squeeze = nn.Conv2d(channels, attn_channels, 1, bias=False)
        self.norm = build_norm_layer(norm_cfg, attn_channels)[1]
        self.select = nn.ModuleList(
            [nn.Conv2d(attn_channels, channels, 1) for _ in range(2)])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if (self.training and x.size(0) == 1
                and type(self.norm) is nn.BatchNorm2d):
            raise ValueError(
                'SelectiveFusion normalises pooled (N, C, 1, 1) descriptors '
                'over the batch, so it trains with at least 2 images per '
                'process with BatchNorm; use a larger batch or '
                "norm_cfg=dict(type='SyncBN') in distributed training")
        z = F.relu(self.norm(self.squeeze((x + y).mean((2, 3),
                                                       keepdim=True))))
        logits = torch.stack([fc(z) for fc in self.select], dim=1)
        a_x, a_y = logits.softmax(dim=1).unbind(1)
        return a_x * x + a_y * y


@MODELS.register_module()
class CSFConnector(nn.Module):
    """Cross Selective Fusion (CSF) of `TransKD
    <https://arxiv.org/abs/2202.13393>`_: the student's stage maps fused top
    down as ReviewKD's attention-based fusion, then mapped to the teacher's
    channels, to be compared with the teacher's stage maps by
    :class:`~mmvitplug.models.losses.HCLLoss` (or
    :class:`~mmvitplug.models.losses.ChannelWiseDivergenceLoss`).

    For stage ``i`` from the deepest: ``x_i = BN(conv1x1(f_i))`` to
    ``mid_channels``; below the deepest, ``x_i = SK(x_i, up(x_{i+1}))``
    (:class:`SelectiveFusion`, ``up`` the nearest-neighbour resize to
    stage ``i``'s size); the output of stage ``i`` is
    ``BN(conv3x3(x_i))`` with the teacher's channels. Convolutions have no
    bias; the two per-stage convolutions start as
    ``kaiming_uniform_(a=1)`` (the official init), every other weight as
    PyTorch's default.

    The official SK switches to a second, BatchNorm-free squeeze branch for
    a batch of one image; that branch is never trained at the official
    batch of 2 and is not built here: with BatchNorm, training needs 2
    images per process (or ``norm_cfg=dict(type='SyncBN')``).

    Args:
        in_channels (Sequence[int]): Student channels of the stages, stage
            1 first, e.g. MiT-B0's ``[32, 64, 160, 256]``.
        out_channels (Sequence[int]): Teacher channels of the same stages,
            e.g. MiT-B2's ``[64, 128, 320, 512]``.
        mid_channels (int): Channels of the fusion. Defaults to 64 (the
            official).
        attn_channels (int, optional): Width of the SK descriptor.
            Defaults to None: ``max(mid_channels // 16, 32)`` (official).
        norm_cfg (dict): Norm of every convolution and SK descriptor.
            Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: Sequence[int],
                 mid_channels: int = 64,
                 attn_channels: Optional[int] = None,
                 norm_cfg: dict = dict(type='BN')):
        super().__init__()
        in_channels = _channels(in_channels, 'in_channels')
        out_channels = _channels(out_channels, 'out_channels')
        if len(in_channels) != len(out_channels):
            raise ValueError(
                f'in_channels {list(in_channels)} and out_channels '
                f'{list(out_channels)} pair the student and teacher stages '
                'and must be as long')
        mid_channels = _positive(mid_channels, 'mid_channels')
        attn_channels = (
            max(mid_channels // 16, 32) if attn_channels is None else
            _positive(attn_channels, 'attn_channels'))
        self.in_channels = in_channels
        self.out_channels = out_channels

        def conv_norm(cin, cout, kernel):
            conv = nn.Conv2d(
                cin, cout, kernel, padding=kernel // 2, bias=False)
            nn.init.kaiming_uniform_(conv.weight, a=1)
            return nn.Sequential(conv, build_norm_layer(norm_cfg, cout)[1])

        self.lateral = nn.ModuleList(
            [conv_norm(c, mid_channels, 1) for c in in_channels])
        # stage i fuses with stage i + 1; the deepest has nothing above it
        self.fuse = nn.ModuleList([
            SelectiveFusion(mid_channels, attn_channels, norm_cfg)
            for _ in in_channels[:-1]
        ])
        self.output = nn.ModuleList(
            [conv_norm(mid_channels, c, 3) for c in out_channels])

    def forward(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Fuse the stage maps.

        Args:
            feats (Sequence[Tensor]): Student maps (N, C_i, H_i, W_i),
                stage 1 first, e.g. a backbone's outputs.

        Returns:
            list[Tensor]: The fused maps (N, out_channels[i], H_i, W_i),
            stage 1 first.
        """
        if not isinstance(feats, (list, tuple)) or len(feats) != len(
                self.in_channels):
            raise ValueError(
                f'CSFConnector takes the {len(self.in_channels)} stage maps '
                'of the student (e.g. its backbone outputs), got '
                + (f'{len(feats)} items' if isinstance(feats, (list, tuple))
                   else type(feats).__name__))
        for i, (f, c) in enumerate(zip(feats, self.in_channels)):
            if not isinstance(f, torch.Tensor) or f.dim() != 4 or f.size(
                    1) != c:
                shape = tuple(f.shape) if isinstance(f, torch.Tensor) else \
                    type(f).__name__
                raise ValueError(f'stage {i + 1}: expected a map (N, {c}, H, '
                                 f'W), got {shape}')
        outs = [None] * len(feats)
        above = None
        for i in reversed(range(len(feats))):
            x = self.lateral[i](feats[i])
            if above is not None:
                above = F.interpolate(above, size=x.shape[-2:],
                                      mode='nearest')
                x = self.fuse[i](x, above)
            outs[i] = self.output[i](x)
            above = x
        return outs


@MODELS.register_module()
class GLMixerConnector(nn.Module):
    """Global-Local Mixer of TransKD-GL (`TransKD
    <https://arxiv.org/abs/2202.13393>`_): student patch-embedding tokens
    mixed globally by multi-head self-attention and locally by a gated 1-D
    convolution over the token sequence (GLU, as Lite Transformer), before
    their projection to the teacher's width (chain it with a
    :class:`~mmvitplug.models.distill.LinearConnector`)::

        out = attn_weight * MHSA(x)
              + conv_weight * conv_a(x) * sigmoid(conv_b(x))
              (+ x with add=True)

    ``conv_a`` / ``conv_b`` are 3-tap ``Conv1d`` over the tokens in raster
    order, channels to channels; the attention has no qkv bias. The
    official code leaves both scalar weights uninitialised
    (``torch.FloatTensor(1)``); here they start at ``attn_weight`` and
    ``conv_weight`` and are trained.

    Args:
        channels (int): Token channels C.
        num_heads (int): Attention heads; must divide ``channels``.
        attn_weight (float): Initial weight of the attention branch.
            Defaults to 1.0.
        conv_weight (float): Initial weight of the convolution branch.
            Defaults to 1.0.
        add (bool): Whether to add the input tokens (the official
            ``--add``, off by default). Defaults to False.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 attn_weight: float = 1.0,
                 conv_weight: float = 1.0,
                 add: bool = False):
        super().__init__()
        self.channels = _positive(channels, 'channels')
        _positive(num_heads, 'num_heads')
        if channels % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide '
                             f'channels={channels}')
        for name, value in (('attn_weight', attn_weight),
                            ('conv_weight', conv_weight)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not math.isfinite(value):
                raise ValueError(f'{name} must be a finite number, got '
                                 f'{value!r}')
        if not isinstance(add, bool):
            raise TypeError(f'add must be True or False, got {add!r}')
        self.add = add
        self.attn = Attention(channels, num_heads, qkv_bias=False)
        self.conv_a = nn.Conv1d(channels, channels, 3, padding=1)
        self.conv_b = nn.Conv1d(channels, channels, 3, padding=1)
        self.attn_weight = nn.Parameter(torch.tensor([float(attn_weight)]))
        self.conv_weight = nn.Parameter(torch.tensor([float(conv_weight)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_tokens(x, 'GLMixerConnector', self.channels)
        t = x.transpose(1, 2)
        local = (self.conv_a(t) * torch.sigmoid(self.conv_b(t))).transpose(
            1, 2)
        out = self.attn_weight * self.attn(x) + self.conv_weight * local
        return out + x if self.add else out


@MODELS.register_module()
class EmbeddingAssistantConnector(nn.Module):
    """Embedding Assistant of TransKD-EA (`TransKD
    <https://arxiv.org/abs/2202.13393>`_) for one stage: the student's
    patch-embedding tokens projected to the teacher's width, blended with a
    second, distillation-only patch embedding of the same input (the image
    for stage 1, the previous stage's map otherwise)::

        out = w_proj * Linear(tokens) + w_embed * LN(conv(input))

    The connector takes ``[tokens, input]``: a distiller source
    ``dict(recorder=[embedding_outputs, embedding_inputs],
    connector=...)``. The convolution (``patch_size`` kernel, ``stride``,
    ``patch_size // 2`` padding, the student's own patch embedding's
    geometry) starts as ``N(0, sqrt(2 / fan_out))`` with a zero bias, the
    LayerNorm at 1 / 0 (official); ``w_proj`` and ``w_embed`` are trained
    scalars, officially ``0.1 * i`` and ``0.1 * (i + 4)`` for stage ``i``.

    Args:
        in_channels (int): Channels of the student's embedding tokens.
        out_channels (int): Teacher channels.
        input_channels (int): Channels of the embedding's input (3 for the
            image).
        patch_size (int): Kernel of the assistant embedding.
        stride (int): Its stride.
        weights (tuple[float, float]): Initial ``(w_proj, w_embed)``.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 input_channels: int, patch_size: int, stride: int,
                 weights: Tuple[float, float]):
        super().__init__()
        self.in_channels = _positive(in_channels, 'in_channels')
        _positive(out_channels, 'out_channels')
        self.input_channels = _positive(input_channels, 'input_channels')
        _positive(patch_size, 'patch_size')
        _positive(stride, 'stride')
        if not isinstance(weights, (list, tuple)) or len(weights) != 2 or any(
                isinstance(w, bool) or not isinstance(w, (int, float))
                for w in weights):
            raise ValueError('weights must be the two initial blend weights '
                             f'(w_proj, w_embed), got {weights!r}')
        self.proj = nn.Linear(in_channels, out_channels)
        self.embed = nn.Conv2d(
            input_channels, out_channels, patch_size, stride=stride,
            padding=patch_size // 2)
        fan_out = patch_size * patch_size * out_channels
        nn.init.normal_(self.embed.weight, 0, math.sqrt(2. / fan_out))
        nn.init.zeros_(self.embed.bias)
        self.norm = nn.LayerNorm(out_channels)
        self.w_proj = nn.Parameter(torch.tensor([float(weights[0])]))
        self.w_embed = nn.Parameter(torch.tensor([float(weights[1])]))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        if not isinstance(feats, (list, tuple)) or len(feats) != 2:
            raise ValueError(
                'EmbeddingAssistantConnector takes [tokens, input]: the '
                "student's patch-embedding tokens and that embedding's "
                'input map, e.g. dict(recorder=[embed, embed_input], '
                'connector=...)')
        tokens, x = feats
        if isinstance(x, (list, tuple)):  # a module's positional inputs
            x = x[0]
        _check_tokens(tokens, 'EmbeddingAssistantConnector', self.in_channels)
        if x.dim() != 4 or x.size(1) != self.input_channels:
            raise ValueError(
                'EmbeddingAssistantConnector: the embedding input must be a '
                f'map (N, {self.input_channels}, H, W), got '
                f'{tuple(x.shape)}')
        assist = self.norm(self.embed(x).flatten(2).transpose(1, 2))
        if assist.shape[1] != tokens.shape[1]:
            raise ValueError(
                f'the assistant embedding gives {assist.shape[1]} tokens and '
                f"the student's embedding {tokens.shape[1]}: give the "
                "student embedding's patch_size and stride")
        return self.w_proj * self.proj(tokens) + self.w_embed * assist
