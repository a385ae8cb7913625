# Copyright (c) mmvitplug contributors.
"""Image to patch-token embedding."""
from typing import Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn


def _pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f'{name} must be an int or a pair of ints, '
                         f'got {value!r}')
    return value


class PatchEmbed(nn.Module):
    """Split an image into non-overlapping patches and project them.

    A ``patch_size``-strided convolution ``proj`` maps (B, C, H, W) images to
    (B, H/p * W/p, embed_dims) tokens, as in
    `ViT <https://arxiv.org/abs/2010.11929>`_.

    Args:
        img_size (int | tuple[int, int]): Nominal input size; sets
            :attr:`grid_size` (the grid position embeddings are made for).
        patch_size (int | tuple[int, int]): Patch size; must divide
            ``img_size``.
        in_channels (int): Image channels.
        embed_dims (int): Token dimension.
        norm_layer (Callable[[int], nn.Module], optional): Norm applied to
            the tokens. Defaults to None (no norm).
        strict_img_size (bool): Raise when the input is not exactly
            ``img_size``. Otherwise any size divisible by the patch size is
            accepted. Defaults to False.
    """

    def __init__(self,
                 img_size: Union[int, Sequence[int]],
                 patch_size: Union[int, Sequence[int]],
                 in_channels: int,
                 embed_dims: int,
                 norm_layer: Optional[Callable[[int], nn.Module]] = None,
                 strict_img_size: bool = False):
        super().__init__()
        self.img_size = _pair(img_size, 'img_size')
        self.patch_size = _pair(patch_size, 'patch_size')
        if any(s % p for s, p in zip(self.img_size, self.patch_size)):
            raise ValueError(
                f'img_size {self.img_size} is not divisible by the patch '
                f'size {self.patch_size}')
        self.grid_size = tuple(
            s // p for s, p in zip(self.img_size, self.patch_size))
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.strict_img_size = strict_img_size

        self.proj = nn.Conv2d(
            in_channels,
            embed_dims,
            kernel_size=self.patch_size,
            stride=self.patch_size)
        self.norm = norm_layer(embed_dims) if norm_layer else nn.Identity()

    def forward(self,
                x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Embed images.

        Args:
            x (torch.Tensor): Images of shape (B, C, H, W).

        Returns:
            tuple: Tokens of shape (B, Hp * Wp, embed_dims) in row-major
            order and the patch grid ``(Hp, Wp)``.
        """
        H, W = x.shape[-2:]
        if self.strict_img_size and (H, W) != self.img_size:
            raise ValueError(f'Input size {H}x{W} differs from img_size '
                             f'{self.img_size[0]}x{self.img_size[1]} '
                             '(strict_img_size=True)')
        if H % self.patch_size[0] or W % self.patch_size[1]:
            raise ValueError(
                f'Input size {H}x{W} is not divisible by the patch size '
                f'{self.patch_size[0]}x{self.patch_size[1]}')
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        return self.norm(x), hw
