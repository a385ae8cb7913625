# Copyright (c) mmvitplug contributors.
"""RevCol's classifier and intermediate supervision (classification of
intermediate columns and reconstruction of the image).

`Cai et al. 2023, "Reversible Column Networks"
<https://arxiv.org/abs/2212.11696>`_; official code: megvii-research/RevCol
(``models/revcol.py`` ``Classifier``, ``models/modules.py`` ``Decoder``,
``loss.py`` ``compound_loss``).
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample

from mmvitplug.layers import ConvNeXtBlock, LayerNorm2d
from mmvitplug.registry import MODELS


class RevColDecoder(nn.Module):
    """The official image decoder of a level-3 map: three times a 1x1
    convolution + LayerNorm + GELU to the next lower level's channels, a
    bilinear 2x upsampling and a ConvNeXt block (MLP ratio 1), then a 1x1
    convolution to 4 x 4 x 3 channels and a pixel shuffle: an image of the
    input's size (as logits).

    Args:
        channels (Sequence[int]): Channels of the backbone's 4 levels,
            from the first (stride 4) to the last (stride 32).
        kernel_size (int): Depth-wise kernel of the blocks. Defaults to 3.
    """

    def __init__(self, channels: Sequence[int], kernel_size: int = 3):
        super().__init__()
        dims = list(channels)[::-1]
        self.proj_layers = nn.ModuleList([
            nn.Sequential(
                nn.Conv2d(dims[i], dims[i + 1], 1), LayerNorm2d(dims[i + 1]),
                nn.GELU()) for i in range(3)
        ])
        self.normal_layers = nn.ModuleList([
            nn.Sequential(
                ConvNeXtBlock(dims[i + 1], dims[i + 1], kernel_size))
            for i in range(3)
        ])
        self.projback = nn.Sequential(
            nn.Conv2d(dims[-1], 4 * 4 * 3, 1), nn.PixelShuffle(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_3, H / 32, W / 32) -> (B, 3, H, W) logits."""
        for proj, blocks in zip(self.proj_layers, self.normal_layers):
            x = F.interpolate(
                proj(x), scale_factor=2., mode='bilinear',
                align_corners=True)
            x = blocks(x)
        return self.projback(x)


@MODELS.register_module()
class RevColClsHead(ClsHead):
    """RevCol's classification head, with the intermediate supervision of
    its ImageNet training.

    The inputs are level-3 maps of ``num_outputs`` columns, in column order
    (the backbone's ``out_columns``, ``out_indices=-1``); each is average-
    pooled, layer-normalised and classified (official ``Classifier``); the
    last one's logits are the prediction. With ``decoder_channels`` the
    first ``n - 1`` maps are also decoded back to the image
    (:class:`RevColDecoder`), and the loss is the official compound loss::

        sum_{i < n-1} [ image_coef * (1 - i / (n-1)) * BCE(decoded_i, image)
                        + cls_coef * (i + 1) / n * CE(logits_i) ]
        + CE(logits_{n-1})

    with the image in [0, 1], clamped to [0.01, 0.99], and CE the ``loss``
    config (soft targets of Mixup / CutMix as usual). It is reported as
    ``loss_cls`` (the classification terms) and ``loss_image``. The images
    come from :class:`~mmvitplug.models.classifiers.RevColClassifier`.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the level-3 maps.
        num_outputs (int): Supervised columns (1: the plain classifier; 4
            in the official ImageNet training). Defaults to 1.
        decoder_channels (Sequence[int], optional): The backbone's 4 level
            channels: build ``num_outputs - 1`` image decoders. Defaults to
            None (no reconstruction).
        decoder_kernel_size (int): Depth-wise kernel of the decoders'
            blocks. Defaults to 3.
        image_coef (float): Weight of the reconstruction terms (official
            ``FCOE``). Defaults to 3.0 (RevCol-T).
        cls_coef (float): Weight of the intermediate classification terms
            (official ``CCOE``). Defaults to 0.7 (RevCol-T).
        loss (dict): Classification loss config. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        **kwargs: The other ``ClsHead`` arguments (``topk``, ``cal_acc``,
            ``init_cfg``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 num_outputs: int = 1,
                 decoder_channels: Optional[Sequence[int]] = None,
                 decoder_kernel_size: int = 3,
                 image_coef: float = 3.0,
                 cls_coef: float = 0.7,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 **kwargs):
        super().__init__(loss=loss, **kwargs)
        if not isinstance(num_outputs, int) or num_outputs < 1:
            raise ValueError(
                f'num_outputs must be a positive int, got {num_outputs!r}')
        if decoder_channels is not None:
            if num_outputs < 2:
                raise ValueError(
                    'decoder_channels needs num_outputs >= 2: the decoders '
                    'read the intermediate columns')
            if len(decoder_channels) != 4 or \
                    decoder_channels[-1] != in_channels:
                raise ValueError(
                    f'decoder_channels must be the 4 level channels ending '
                    f'with in_channels ({in_channels}), got '
                    f'{list(decoder_channels)}')
        self.num_classes = num_classes
        self.num_outputs = num_outputs
        self.image_coef = image_coef
        self.cls_coef = cls_coef
        self.classifiers = nn.ModuleList([
            nn.Sequential(
                OrderedDict(
                    norm=nn.LayerNorm(in_channels, eps=1e-6),
                    fc=nn.Linear(in_channels, num_classes)))
            for _ in range(num_outputs)
        ])
        self.decoders = None if decoder_channels is None else nn.ModuleList([
            RevColDecoder(decoder_channels, decoder_kernel_size)
            for _ in range(num_outputs - 1)
        ])

    def _maps(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor]:
        if len(feats) != self.num_outputs:
            raise ValueError(
                f'RevColClsHead expects {self.num_outputs} level-3 maps '
                f'(num_outputs; the backbone out_columns), got {len(feats)}')
        return feats

    def all_logits(self, feats: Tuple[torch.Tensor]) -> List[torch.Tensor]:
        """The logits of every supervised column."""
        return [
            classifier(x.mean((2, 3)))
            for classifier, x in zip(self.classifiers, self._maps(feats))
        ]

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The last column's logits."""
        x = self._maps(feats)[-1]
        return self.classifiers[-1](x.mean((2, 3)))

    def loss(self,
             feats: Tuple[torch.Tensor],
             data_samples: List[DataSample],
             images: Optional[torch.Tensor] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """The compound loss.

        Args:
            feats (tuple[Tensor]): Level-3 maps of the supervised columns.
            data_samples (list[DataSample]): Labels (or Mixup scores).
            images (Tensor, optional): The input images in [0, 1], (B, 3,
                H, W); needed with decoders.

        Returns:
            dict[str, Tensor]: ``loss_cls`` and, with decoders,
            ``loss_image``.
        """
        logits = self.all_logits(feats)
        n = self.num_outputs
        terms = [
            self._get_loss(score, data_samples, **kwargs)['loss']
            for score in logits
        ]
        loss_cls = terms[-1] + sum(
            self.cls_coef * (i + 1) / n * term
            for i, term in enumerate(terms[:-1]))
        losses = dict(loss_cls=loss_cls)
        if self.decoders is not None:
            if images is None:
                raise ValueError(
                    'RevColClsHead with decoders needs the images: use '
                    'mmvitplug.RevColClassifier')
            target = images.clamp(0.01, 0.99)
            H, W = target.shape[-2:]
            losses['loss_image'] = sum(
                self.image_coef * (1 - i / (n - 1)) *
                F.binary_cross_entropy_with_logits(
                    decoder(x)[..., :H, :W], target)
                for i, (decoder, x) in enumerate(zip(self.decoders, feats)))
        return losses
