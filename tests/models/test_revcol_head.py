# Copyright (c) mmvitplug contributors.
"""RevCol's classification head and intermediate supervision: golden
parity of the official classifiers, image decoders and compound loss
(``tests/data/revcol_golden.pt``, see ``test_revcol.py``), the classifier
that feeds the images, errors."""
import os.path as osp

import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.converters import convert_revcol
from _builders import TEST_DATA

CHANNELS = (8, 16, 24, 32)
ARCH = dict(channels=CHANNELS, depths=(1, 1, 2, 1), num_columns=4)
#: the official normalisation (ImageNet mean / std), in 0-255 units
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


@pytest.fixture(scope='module')
def golden():
    return torch.load(osp.join(TEST_DATA, 'revcol_golden.pt'),
                      weights_only=True)


def classifier(num_outputs=4, decoders=True, **head):
    columns = tuple(range(4 - num_outputs, 4))
    return MODELS.build(
        dict(
            type='mmvitplug.RevColClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor', mean=MEAN, std=STD),
            backbone=dict(type='mmvitplug.RevCol', arch=ARCH,
                          out_columns=columns),
            head=dict(
                type='mmvitplug.RevColClsHead', num_classes=10,
                in_channels=32, num_outputs=num_outputs,
                decoder_channels=CHANNELS if decoders else None, **head)))


def samples(labels):
    return [DataSample().set_gt_label(int(label)) for label in labels]


def test_golden_logits_decoded_images_and_loss(golden):
    """The official checkpoint (all heads) converts and loads completely;
    the 4 classifiers, 3 decoders and the compound loss (3.0 / 0.7,
    hard labels, plain cross entropy) equal the official ones."""
    model = classifier().eval()
    model.load_state_dict(convert_revcol({'model': golden['state_dict']}))
    x = golden['x']
    with torch.no_grad():
        feats = model.extract_feat(x)
        for logits, ref in zip(model.head.all_logits(feats),
                               golden['cls_logits']):
            assert (logits - ref).abs().max() <= 1e-4
        for decoder, feat, ref in zip(model.head.decoders, feats,
                                      golden['decoded']):
            assert (decoder(feat) - ref).abs().max() <= 1e-4
        predicted = model(x, mode='tensor')
        assert (predicted - golden['cls_logits'][-1]).abs().max() <= 1e-4
        losses = model.loss(x, samples(golden['targets']))
    assert set(losses) == {'loss_cls', 'loss_image'}
    total = losses['loss_cls'] + losses['loss_image']
    assert total.item() == pytest.approx(golden['loss_total'], abs=1e-4)


def test_loss_weights_follow_the_official_schedule():
    """Term i < n-1: image_coef (1 - i/(n-1)) BCE + cls_coef (i+1)/n CE;
    the last classifier's CE unweighted."""
    torch.manual_seed(0)
    model = classifier(image_coef=2.0, cls_coef=0.5).train()
    head = model.head
    feats = tuple(torch.randn(2, 32, 2, 3) for _ in range(4))
    images = torch.rand(2, 3, 64, 96)
    data = samples([1, 2])
    losses = head.loss(feats, data, images=images)
    ce = torch.nn.functional.cross_entropy
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    labels = torch.tensor([1, 2])
    logits = head.all_logits(feats)
    expected_cls = ce(logits[3], labels) + sum(
        0.5 * (i + 1) / 4 * ce(logits[i], labels) for i in range(3))
    target = images.clamp(0.01, 0.99)
    expected_image = sum(
        2.0 * (1 - i / 3) * bce(head.decoders[i](feats[i]), target)
        for i in range(3))
    torch.testing.assert_close(losses['loss_cls'], expected_cls)
    torch.testing.assert_close(losses['loss_image'], expected_image)


def test_images_are_the_unnormalised_inputs():
    model = classifier()
    images = torch.rand(2, 3, 32, 32)
    inputs = (images * 255 - torch.tensor(MEAN).view(3, 1, 1)) / \
        torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(model.unnormalized(inputs), images)


def test_plain_head_and_intermediate_classifiers_only():
    """One output: the official fine-tuned classifier (LayerNorm + Linear
    on the pooled map), a plain cross entropy; several without decoders:
    classification terms only."""
    single = classifier(num_outputs=1, decoders=False)
    assert single.head.decoders is None
    x = torch.randn(2, 3, 32, 32)
    losses = single.loss(x, samples([0, 1]))
    assert set(losses) == {'loss_cls'}
    feats = single.extract_feat(x)
    torch.testing.assert_close(
        losses['loss_cls'],
        torch.nn.functional.cross_entropy(single.head(feats),
                                          torch.tensor([0, 1])))
    assert set(classifier(decoders=False).loss(x, samples([0, 1]))) == {
        'loss_cls'}


def test_bad_arguments():
    with pytest.raises(ValueError, match='needs num_outputs >= 2'):
        classifier(num_outputs=1)
    with pytest.raises(ValueError, match=r'the 4 level channels ending with '
                       r'in_channels \(32\), got \[8, 16, 24\]'):
        MODELS.build(dict(type='mmvitplug.RevColClsHead', num_classes=10,
                          in_channels=32, num_outputs=4,
                          decoder_channels=(8, 16, 24)))
    head = MODELS.build(dict(type='mmvitplug.RevColClsHead', num_classes=10,
                             in_channels=32, num_outputs=4,
                             decoder_channels=CHANNELS))
    feats = tuple(torch.randn(2, 32, 2, 2) for _ in range(4))
    with pytest.raises(ValueError, match='expects 4 level-3 maps'):
        head(feats[:1])
    with pytest.raises(ValueError, match='needs the images: use '
                       'mmvitplug.RevColClassifier'):
        head.loss(feats, samples([0, 1]))


@pytest.mark.parametrize('arch', ['revcol-t', 'revcol-s', 'revcol-b',
                                  'revcol-l', 'revcol-xl'])
@pytest.mark.parametrize('variant', ['single', 'inter_supv'])
def test_param_counts_equal_official(golden, arch, variant):
    """Backbone + head (one classifier, or 4 classifiers and 3 decoders);
    the official model also counts the first column's 4 shortcuts (sum of
    the channels), not built here."""
    from mmvitplug.models.backbones import RevCol
    from mmvitplug.models.heads import RevColClsHead
    with torch.device('meta'):
        backbone = RevCol(arch)
        channels = backbone.channels
        head = RevColClsHead(
            1000, channels[-1], num_outputs=4 if variant != 'single' else 1,
            decoder_channels=channels if variant != 'single' else None)
    total = sum(p.numel() for m in (backbone, head) for p in m.parameters())
    official = {'revcol-t': 'revcol_tiny', 'revcol-s': 'revcol_small',
                'revcol-b': 'revcol_base', 'revcol-l': 'revcol_large',
                'revcol-xl': 'revcol_xlarge'}[arch]
    assert round((total + sum(channels)) / 1e6, 3) == \
        golden['num_params'][official][variant]
