# Copyright (c) mmvitplug contributors.
"""Image classification with RevCol's intermediate supervision."""
from typing import List

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS


@MODELS.register_module()
class RevColClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` that also gives its head the input
    images, in [0, 1], for the image reconstruction of RevCol's
    intermediate supervision (:class:`~mmvitplug.models.heads.
    RevColClsHead` with decoders; `Cai et al. 2023
    <https://arxiv.org/abs/2212.11696>`_).

    The images are the network's inputs (after Mixup / CutMix, as
    officially) with the data preprocessor's normalisation undone, then
    divided by 255. Prediction is the plain classifier's.
    """

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Losses of the head on the backbone's maps and the images."""
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples,
                              images=self.unnormalized(inputs))

    def unnormalized(self, inputs: torch.Tensor) -> torch.Tensor:
        """The inputs in [0, 1] (clipped), from the data preprocessor's
        ``mean`` / ``std`` (0-255 units)."""
        preprocessor = self.data_preprocessor
        if not getattr(preprocessor, '_enable_normalize', False):
            raise ValueError(
                'RevColClassifier needs a data preprocessor that '
                'normalises (mean / std) to recover the images')
        images = inputs * preprocessor.std + preprocessor.mean
        return (images / 255.).clamp(0., 1.)
