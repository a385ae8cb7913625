# Copyright (c) mmvitplug contributors.
"""SplitMask's shallow decoder and its pluggable reconstruction targets.

`SplitMask <https://arxiv.org/abs/2112.10740>`_ (El-Nouby et al. 2021,
"Are large-scale datasets necessary for self-supervised pre-training?")
inpaints the patches of one random half of an image from the encoding of the
other half with a shallow decoder. The paper predicts BEiT's DALL-E visual
tokens; the DALL-E tokenizer cannot be downloaded here, so this module ships
two targets computed from the image itself, selected by config:

- :class:`SplitMaskPixelTarget`: the patch pixels, normalised per patch as
  MAE's ``norm_pix_loss`` (`He et al. 2021
  <https://arxiv.org/abs/2111.06377>`_);
- :class:`SplitMaskHOGTarget`: the HOG descriptor of each patch, mmpretrain's
  :class:`~mmpretrain.models.selfsup.maskfeat.HOGGenerator` of MaskFeat
  (`Wei et al. 2021 <https://arxiv.org/abs/2112.09133>`_), cut along the
  patch grid of any input size.

A target is any module with ``forward(images, grid) -> Tensor``, an int
``out_channels`` and a ``kind``: ``'regression'`` targets are (B, N, C)
float tensors (the loss is a mean squared error), ``'classification'``
targets are (B, N) token indices in ``[0, out_channels)`` (the loss is a
cross-entropy), which is where a discrete tokenizer (DALL-E, VQ-KD) plugs in.
"""
import math
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.selfsup.maskfeat import HOGGenerator
from mmpretrain.models.utils import build_2d_sincos_position_embedding

from mmvitplug.layers import Block
from mmvitplug.registry import MODELS
from ..backbones.base import init_linear_norm

TARGET_KINDS = ('regression', 'classification')


def _check_grid(images: torch.Tensor, grid: Tuple[int, int],
                patch_size: int, name: str):
    H, W = images.shape[-2:]
    h, w = grid
    if (H, W) != (h * patch_size, w * patch_size):
        raise ValueError(
            f'{name}: a {H}x{W} image is not the {h}x{w} patch grid of the '
            f'backbone at patch_size={patch_size}; set the target\'s '
            "patch_size to the backbone's patch size (and crop inputs to a "
            'multiple of it)')


@MODELS.register_module()
class SplitMaskPixelTarget(nn.Module):
    """Patch pixels as SplitMask's reconstruction target (a regression).

    The image (B, C, H, W) is cut into the backbone's ``p x p`` patches, each
    flattened row-major over (row, column, channel) like MAE's ``patchify``;
    with ``norm_pix=True`` each patch is standardised by its own mean and
    variance (MAE's ``norm_pix_loss``: ``(x - mean) / sqrt(var + eps)``,
    unbiased=False). Not the paper's target (DALL-E tokens, see the module
    docstring).

    Args:
        patch_size (int): The backbone's patch size.
        in_channels (int): Image channels. Defaults to 3.
        norm_pix (bool): Standardise each patch. Defaults to True.
        eps (float): Added to the patch variance. Defaults to 1e-6 (MAE).
    """
    kind = 'regression'

    def __init__(self,
                 patch_size: int,
                 in_channels: int = 3,
                 norm_pix: bool = True,
                 eps: float = 1e-6):
        super().__init__()
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(
                f'patch_size must be a positive int, got {patch_size!r}')
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.norm_pix = norm_pix
        self.eps = eps
        self.out_channels = patch_size * patch_size * in_channels

    @torch.no_grad()
    def forward(self, images: torch.Tensor,
                grid: Tuple[int, int]) -> torch.Tensor:
        """Images (B, C, H, W) -> targets (B, h * w, p * p * C)."""
        _check_grid(images, grid, self.patch_size, type(self).__name__)
        B, C = images.shape[:2]
        h, w = grid
        p = self.patch_size
        x = images.float().reshape(B, C, h, p, w, p)
        x = x.permute(0, 2, 4, 3, 5, 1).reshape(B, h * w, p * p * C)
        if self.norm_pix:
            mean = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, unbiased=False, keepdim=True)
            x = (x - mean) / (var + self.eps).sqrt()
        return x


class _PatchHOG(HOGGenerator):
    """mmpretrain's HOGGenerator, its output cut along a given patch grid
    (upstream assumes a 14x14 grid)."""

    def __init__(self, cells_per_patch: int, **kwargs):
        super().__init__(**kwargs)
        self.cells_per_patch = cells_per_patch

    def _reshape(self, hog_feat: torch.Tensor) -> torch.Tensor:
        # (B, C, nbins, h * k, w * k) -> (B, h * w, C * nbins * k * k)
        k = self.cells_per_patch
        hog_feat = hog_feat.flatten(1, 2).permute(0, 2, 3, 1)
        hog_feat = hog_feat.unfold(1, k, k).unfold(2, k, k)
        return hog_feat.flatten(1, 2).flatten(2)


@MODELS.register_module()
class SplitMaskHOGTarget(nn.Module):
    """HOG descriptors of the patches as SplitMask's target (a regression).

    The histograms are mmpretrain's MaskFeat ``HOGGenerator``: Sobel
    gradients per colour channel, ``nbins`` unsigned orientation bins
    weighted by the gradient magnitude (and a Gaussian window), summed over
    ``pool x pool`` cells and L2-normalised per cell and channel. A patch's
    target is the concatenation of its ``(patch_size / pool) ** 2`` cells:
    ``in_channels * nbins * (patch_size // pool) ** 2`` values (MaskFeat's
    ViT-B/16: 3 x 9 x 4 = 108). Not the paper's target (DALL-E tokens, see
    the module docstring).

    Args:
        patch_size (int): The backbone's patch size.
        nbins (int): Orientation bins. Defaults to 9 (MaskFeat).
        pool (int): Cell size in pixels; must divide ``patch_size``.
            Defaults to 8 (MaskFeat).
        gaussian_window (int): Size of the Gaussian weighting window, tiled
            over the image (the image height must be a multiple of it); 0
            disables it. Defaults to 16 (MaskFeat).
        in_channels (int): Image channels; HOGGenerator works on 3.
            Defaults to 3.
    """
    kind = 'regression'

    def __init__(self,
                 patch_size: int,
                 nbins: int = 9,
                 pool: int = 8,
                 gaussian_window: int = 16,
                 in_channels: int = 3):
        super().__init__()
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(
                f'patch_size must be a positive int, got {patch_size!r}')
        if not isinstance(pool, int) or pool < 1 or patch_size % pool:
            raise ValueError(f'pool (the HOG cell size, {pool!r}) must be a '
                             f'positive divisor of patch_size={patch_size}')
        if in_channels != 3:
            raise ValueError('SplitMaskHOGTarget (mmpretrain HOGGenerator) '
                             f'works on 3-channel images, got in_channels='
                             f'{in_channels}')
        self.patch_size = patch_size
        self.hog = _PatchHOG(
            patch_size // pool,
            nbins=nbins,
            pool=pool,
            gaussian_window=gaussian_window)
        self.out_channels = in_channels * nbins * (patch_size // pool)**2

    @torch.no_grad()
    def forward(self, images: torch.Tensor,
                grid: Tuple[int, int]) -> torch.Tensor:
        """Images (B, 3, H, W) -> targets (B, h * w, out_channels)."""
        _check_grid(images, grid, self.patch_size, type(self).__name__)
        window = self.hog.gaussian_window
        if window and images.shape[-2] % window:
            raise ValueError(
                f'SplitMaskHOGTarget: image height {images.shape[-2]} is '
                f'not a multiple of gaussian_window={window}; change it or '
                'set gaussian_window=0')
        return self.hog(images.float())


@MODELS.register_module()
class SplitMaskHead(BaseModule):
    """SplitMask's shallow decoder: inpaint a whole patch grid from the
    encoded tokens of one subset of it.

    The encoded visible tokens are projected to ``embed_dims`` and put at
    their grid positions, every other position gets a shared learnable mask
    token, a fixed 2D sin-cos position embedding of the grid (any size) is
    added and ``num_layers`` pre-norm transformer blocks and a final norm
    follow (as MAE's decoder). A linear layer maps every output token to
    ``out_channels`` target values (or token logits).

    From the paper: a shallow decoder (about 2 layers) inpaints the patches
    of one subset from the patch representations of the other, and the
    global descriptor of a branch is the average-pooled decoder output.
    Inferred (not in the text we could read): the width, heads, MLP ratio,
    the MAE-style mask token and fixed sin-cos position embedding, that the
    pooled outputs are the normalised block outputs before the prediction
    layer, over every position of the grid (visible and inpainted), and
    ViT-style initialisation.

    Args:
        in_channels (int): Width of the encoder tokens.
        out_channels (int): Values per patch of the target (or vocabulary
            size of a token target); the algorithm fills it from its target
            generator.
        embed_dims (int): Decoder width (a multiple of 4, for the sin-cos
            embedding). Defaults to 256.
        num_layers (int): Decoder blocks. Defaults to 2 (the paper's).
        num_heads (int): Attention heads. Defaults to 8.
        mlp_ratio (float): MLP width / ``embed_dims``. Defaults to 4.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 embed_dims: int = 256,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.,
                 init_cfg=None):
        super().__init__(init_cfg)
        if embed_dims % 4:
            raise ValueError('embed_dims must be a multiple of 4 (2D sin-cos '
                             f'position embedding), got {embed_dims}')
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.embed_dims = embed_dims
        self.embed = nn.Linear(in_channels, embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.blocks = nn.ModuleList([
            Block(embed_dims, num_heads, mlp_ratio=mlp_ratio)
            for _ in range(num_layers)
        ])
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.pred = nn.Linear(embed_dims, out_channels)
        self._pos_cache = {}

    def init_weights(self):
        """Truncated normal (std 0.02) mask token, ViT-style linear layers
        and norms, unless ``init_cfg`` says otherwise."""
        super().init_weights()
        if self.init_cfg is None:
            trunc_normal_(self.mask_token, std=.02)
            self.apply(init_linear_norm)

    def pos_embed(self, grid: Tuple[int, int], ref: torch.Tensor):
        """Fixed 2D sin-cos embedding (1, h * w, embed_dims) of ``grid``."""
        key = (tuple(grid), ref.device, ref.dtype)
        if key not in self._pos_cache:
            self._pos_cache[key] = build_2d_sincos_position_embedding(
                tuple(grid), self.embed_dims).to(ref.device, ref.dtype)
        return self._pos_cache[key]

    def forward(self, tokens: torch.Tensor, index: torch.Tensor,
                grid: Tuple[int, int]):
        """Decode a whole grid from the tokens at ``index``.

        Args:
            tokens (torch.Tensor): Encoded tokens (B, n, in_channels).
            index (torch.Tensor): Their grid positions (B, n), row-major
                indices in ``[0, h * w)``.
            grid (tuple[int, int]): The patch grid (h, w).

        Returns:
            tuple[torch.Tensor, torch.Tensor]: Predictions
            (B, h * w, out_channels) at every position and the decoder
            outputs (B, h * w, embed_dims) they are made from.
        """
        B, n = index.shape
        N = math.prod(grid)
        x = self.embed(tokens)
        full = self.mask_token.to(x.dtype).expand(B, N, -1)
        full = full.scatter(
            1, index.unsqueeze(-1).expand(-1, -1, self.embed_dims), x)
        x = full + self.pos_embed(grid, x)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.pred(x), x
