# Copyright (c) mmvitplug contributors.
"""mmvitplug.SobelDataPreprocessor: any preprocessor, then DeepCluster's
Sobel filter."""
import pytest
import torch
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.models import ClsDataPreprocessor, SelfSupDataPreprocessor
from mmpretrain.structures import DataSample

from mmvitplug.layers import Sobel
from mmvitplug.models.data_preprocessors import SobelDataPreprocessor

MEAN, STD = [10., 20., 30.], [2., 4., 8.]


@pytest.fixture
def images():
    torch.manual_seed(0)
    return torch.randint(0, 255, (2, 3, 6, 5), dtype=torch.uint8)


def test_wraps_a_classification_preprocessor(images):
    init_default_scope('mmpretrain')
    # no type: ClsDataPreprocessor, as mmpretrain's models default
    cfg = dict(mean=MEAN, std=STD, to_rgb=True)
    # as a config names it, the wrapped type in the default scope
    pre = MODELS.build(
        dict(type='mmvitplug.SobelDataPreprocessor', preprocessor=cfg))
    assert isinstance(pre.preprocessor, ClsDataPreprocessor)
    samples = [DataSample().set_gt_label(1), DataSample().set_gt_label(7)]
    out = pre(dict(inputs=images, data_samples=samples))
    normalised = (images.flip(1).float() - torch.tensor(MEAN)[:, None, None]
                  ) / torch.tensor(STD)[:, None, None]
    torch.testing.assert_close(out['inputs'], Sobel()(normalised))
    assert out['inputs'].shape == (2, 2, 6, 5)
    assert out['data_samples'] is samples


def test_wraps_multi_view_preprocessors(images):
    inner = SelfSupDataPreprocessor(mean=MEAN, std=STD, to_rgb=False)
    pre = SobelDataPreprocessor(inner)
    views = [images, images[:, :, :4, :4]]
    out = pre(dict(inputs=views, data_samples=None))
    expected = inner(dict(inputs=views, data_samples=None))['inputs']
    assert [x.shape for x in out['inputs']] == [(2, 2, 6, 5), (2, 2, 4, 4)]
    for ours, view in zip(out['inputs'], expected):
        torch.testing.assert_close(ours, Sobel()(view))


def test_moving_it_moves_the_wrapped_preprocessor():
    pre = SobelDataPreprocessor(ClsDataPreprocessor())
    pre.preprocessor._device = torch.device('meta')
    pre.to('cpu')
    assert pre.device == pre.preprocessor.device == torch.device('cpu')
    pre.preprocessor._device = torch.device('meta')
    pre.cpu()
    assert pre.preprocessor.device == torch.device('cpu')


def test_rejects_what_is_not_a_preprocessor():
    with pytest.raises(TypeError, match='preprocessor must be a data '
                       r'preprocessor \(or its config\), got Sobel'):
        SobelDataPreprocessor(Sobel())
