# Copyright (c) mmvitplug contributors.
"""A frozen backbone as an embedding model, for k-NN evaluation."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import MODELS


@MODELS.register_module()
class EmbeddingModel(BaseModel):
    """A backbone (and optional neck) whose predictions are one embedding
    per image, for :class:`mmvitplug.evaluation.KNNAccuracy`.

    The embedding is the last output of the backbone (or neck): a (B, C)
    vector as is (``out_type='cls_token'`` / ``'avg_featmap'`` /
    ``'raw'`` pooled outputs), an NCHW map average-pooled over space, or
    tokens (B, N, C) averaged over tokens. It is stored in each data sample
    as ``embedding``; the vote normalises it.

    Args:
        backbone (dict): Backbone config (built in the current default
            scope, so mmpretrain's backbones work as well as ours).
        neck (dict, optional): Neck config. Defaults to None.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``ClsDataPreprocessor`` without arguments.
        init_cfg (dict, optional): Initialisation config, e.g. the
            ``Pretrained`` backbone weights of an exported checkpoint.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
        data_preprocessor = MMPRETRAIN_MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = MMPRETRAIN_MODELS.build(backbone)
        self.neck = MMPRETRAIN_MODELS.build(neck) if neck else None

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) -> embeddings (B, C)."""
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        x = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if isinstance(x, (list, tuple)):  # e.g. (patch map, cls token)
            x = x[-1]
        if x.dim() == 4:
            x = x.mean(dim=(2, 3))
        elif x.dim() == 3:
            x = x.mean(dim=1)
        if x.dim() != 2:
            raise ValueError('EmbeddingModel needs (B, C) vectors, NCHW '
                             'maps or (B, N, C) tokens from the backbone; '
                             f'got shape {tuple(x.shape)}')
        return x

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.embed(inputs)
        if mode == 'predict':
            embeddings = self.embed(inputs)
            if data_samples is None:
                data_samples = [DataSample() for _ in range(len(inputs))]
            for sample, embedding in zip(data_samples, embeddings):
                sample.set_field(embedding, 'embedding', field_type='data')
            return data_samples
        raise ValueError(f'EmbeddingModel only embeds (mode "tensor" or '
                         f'"predict"), got mode {mode!r}: train the backbone '
                         'with a pretraining algorithm')
