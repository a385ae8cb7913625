# Copyright (c) mmvitplug contributors.
"""Fixed Sobel input filter (grey level, then horizontal and vertical
derivatives), the input of DeepCluster's networks.

`Caron et al. 2018 <https://arxiv.org/abs/1807.05520>`_, Sec. 4: "we use a
Sobel filtering to remove color and increase local contrast".
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Sobel(nn.Module):
    """Grey-level image gradients: (B, C, H, W) -> (B, 2, H, W).

    The grey level is the mean of the C channels (the official code: a 1x1
    convolution with weights 1 / 3 and bias 0); the two output channels are
    its cross-correlation with the Sobel kernels ``[[1, 0, -1], [2, 0, -2],
    [1, 0, -1]]`` (horizontal derivative) and its transpose (vertical),
    zero-padded to keep the size. Nothing is learned and nothing is saved in
    state dicts.
    """

    def __init__(self):
        super().__init__()
        gx = torch.tensor([[1., 0., -1.], [2., 0., -2.], [1., 0., -1.]])
        self.register_buffer(
            'kernels', torch.stack([gx, gx.t()])[:, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f'Sobel takes images (B, C, H, W), got shape '
                             f'{tuple(x.shape)}')
        grey = x.mean(dim=1, keepdim=True)
        return F.conv2d(grey, self.kernels.to(grey.dtype), padding=1)
