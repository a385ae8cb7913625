# Copyright (c) mmvitplug contributors.
"""Data preprocessors: what the model does to a batch before the backbone."""
from typing import Union

import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmpretrain.models.utils import ClsDataPreprocessor

from mmvitplug.layers import Sobel
from mmvitplug.registry import MODELS


@MODELS.register_module()
class SobelDataPreprocessor(BaseDataPreprocessor):
    """Any data preprocessor, then DeepCluster's Sobel filter on its images.

    `DeepCluster <https://arxiv.org/abs/1807.05520>`_ trains its networks on
    the grey-level gradients of the normalised image (Sec. 4: "a Sobel
    filtering to remove color and increase local contrast"); the filter is
    fixed (:class:`mmvitplug.layers.Sobel`). The backbone then takes 2
    input channels (``in_channels=2``). A backbone pretrained this way keeps
    this input downstream: give its k-NN, linear-probe or fine-tuning
    config the same wrapper around that task's preprocessor.

    Args:
        preprocessor (dict): The wrapped preprocessor (``ClsDataPreprocessor``
            with the dataset's mean / std, ``SelfSupDataPreprocessor``,
            ``DetDataPreprocessor``, ...), built in the default scope as
            a model's own ``data_preprocessor``; without a type, mmpretrain's
            ``ClsDataPreprocessor`` (as mmpretrain's models default). Its
            ``inputs`` (a batch, or a list of views) are filtered; the rest
            of its output is kept.
    """

    def __init__(self, preprocessor: Union[dict, BaseDataPreprocessor]):
        super().__init__()
        if isinstance(preprocessor, dict):
            preprocessor = dict(preprocessor)
            preprocessor.setdefault('type', 'ClsDataPreprocessor')
            preprocessor = MMENGINE_MODELS.build(preprocessor)
        if not isinstance(preprocessor, BaseDataPreprocessor):
            raise TypeError('preprocessor must be a data preprocessor (or '
                            'its config), got '
                            f'{type(preprocessor).__name__}')
        self.preprocessor = preprocessor
        self.sobel = Sobel()

    # the model moves its preprocessors (BaseModel._set_device); a direct
    # move of this one moves the wrapped one too
    def to(self, *args, **kwargs) -> 'SobelDataPreprocessor':
        self.preprocessor.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def cuda(self, *args, **kwargs) -> 'SobelDataPreprocessor':
        self.preprocessor.cuda(*args, **kwargs)
        return super().cuda(*args, **kwargs)

    def cpu(self, *args, **kwargs) -> 'SobelDataPreprocessor':
        self.preprocessor.cpu(*args, **kwargs)
        return super().cpu(*args, **kwargs)

    def forward(self, data: dict, training: bool = False) -> dict:
        out = self.preprocessor(data, training)
        inputs = out['inputs']
        if isinstance(inputs, (list, tuple)):
            out['inputs'] = [self.sobel(x) for x in inputs]
        else:
            out['inputs'] = self.sobel(inputs)
        return out


@MODELS.register_module()
class MultiViewClsDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` for batches of several views of
    each image, mixed together.

    A pipeline with ``MultiView`` gives each sample a list of views (e.g.
    two independent crops, or one crop with and without colour jitter); the
    batch then arrives as a list of views. Each view is normalised (and
    stacked) as by ``ClsDataPreprocessor``; the batch augments (Mixup /
    CutMix) are then applied *once* to all views together: the views are
    concatenated along the channels, mixed with one draw of the mixing
    ratio, the partner permutation and the box, and split again, so that
    every view of a sample is mixed with the same partner in the same way
    and the labels are mixed once. This is the one place a multi-view batch
    is mixed, e.g. for `function matching
    <https://arxiv.org/abs/2106.05237>`_ (Beyer et al. 2022, teacher and
    student see different crops in its "inconsistent" ablation, mixed the
    same way). A batch that is a single tensor (no ``MultiView``) is
    processed exactly as by ``ClsDataPreprocessor``. Views must have the
    same spatial size to be mixed together.

    Args:
        **kwargs: The arguments of mmpretrain's ``ClsDataPreprocessor``
            (``mean``, ``std``, ``to_rgb``, ``num_classes``,
            ``batch_augments``, ...).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        views = data['inputs']
        if not (isinstance(views, (list, tuple)) and views
                and isinstance(views[0], (list, tuple))):
            return super().forward(data, training)
        processed = [
            super(MultiViewClsDataPreprocessor, self).forward(
                dict(data, inputs=view), training=False)
            for view in views
        ]
        inputs = [out['inputs'] for out in processed]
        samples = processed[-1]['data_samples']
        if (training and self.batch_augments is not None
                and samples is not None and 'gt_score' in samples[0]):
            shapes = {tuple(x.shape[2:]) for x in inputs}
            if len(shapes) > 1:
                raise ValueError(
                    f'the views have the sizes {sorted(shapes)}; views mixed '
                    'together must have one size (crop them to one size)')
            scores = torch.stack([s.gt_score for s in samples])
            channels = [x.size(1) for x in inputs]
            mixed, scores = self.batch_augments(
                torch.cat(inputs, dim=1), scores)
            inputs = list(mixed.split(channels, dim=1))
            for sample, score in zip(samples, scores):
                sample.set_gt_score(score)
        return {'inputs': inputs, 'data_samples': samples}
