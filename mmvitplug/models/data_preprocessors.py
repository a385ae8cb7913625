# Copyright (c) mmvitplug contributors.
"""Data preprocessors: what the model does to a batch before the backbone."""
from typing import Union

from mmengine.model import BaseDataPreprocessor
from mmengine.registry import MODELS as MMENGINE_MODELS

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
