# Copyright (c) mmvitplug contributors.
"""DRLoc (dense relative localisation, Liu et al. 2021): pair sampling,
target offsets, the l1 / ce / cbr losses, the MLP head, the weight schedule
and the classifier's token map from any backbone.

Expected values are computed by hand in the comments."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.engine.hooks.drloc import DRLocWeightHook, drloc_weight_factor
from mmvitplug.models.classifiers.drloc import DRLocClassifier
from mmvitplug.models.heads.drloc_head import DRLocHead
from mmvitplug.models.losses.drloc import (DRLocLoss, drloc_targets,
                                           gather_tokens, num_bins,
                                           sample_pairs,
                                           variance_aware_regression)
from _builders import TINY_ARCHS

# three fixed pairs on a 3 x 4 grid (rows 0..2, columns 0..3)
HW = (3, 4)
POS_I = torch.tensor([[0, 0], [2, 3], [1, 2]])
POS_J = torch.tensor([[2, 3], [0, 0], [1, 0]])
# p_i - p_j = (-2, -3), (2, 3), (0, 2); shifted by (H - 1, W - 1) = (2, 3)
SIGNED = [[0, 0], [4, 6], [2, 5]]
ABS = [[2, 3], [2, 3], [0, 2]]


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


# ------------------------------------------------------------------ targets


def test_targets_signed_and_abs_on_a_3x4_grid():
    assert drloc_targets(POS_I, POS_J, HW).tolist() == SIGNED
    assert drloc_targets(POS_I, POS_J, HW, use_abs=True).tolist() == ABS
    # bins per axis: 2H - 1 = 5 rows, 2W - 1 = 7 columns; H, W if absolute
    assert num_bins(HW) == (5, 7)
    assert num_bins(HW, use_abs=True) == (3, 4)
    # batched (B, m, 2) positions give the same per-pair targets
    batched = drloc_targets(POS_I.view(1, 3, 2), POS_J.view(1, 3, 2), HW)
    assert batched.tolist() == [SIGNED]


def test_l1_targets_normalised_per_axis():
    # signed: divided by 2 (H - 1) = 4 rows, 2 (W - 1) = 6 columns
    loss = DRLocLoss(mode='l1', normalize=True)
    t = loss.targets(POS_I, POS_J, HW)
    torch.testing.assert_close(
        t, torch.tensor([[0., 0.], [1., 1.], [0.5, 5 / 6]]))
    # absolute: divided by H - 1 = 2, W - 1 = 3
    loss = DRLocLoss(mode='l1', normalize=True, use_abs=True)
    t = loss.targets(POS_I, POS_J, HW)
    torch.testing.assert_close(
        t, torch.tensor([[1., 1.], [1., 1.], [0., 2 / 3]]))
    # unnormalised l1 targets are the float offsets
    assert DRLocLoss().targets(POS_I, POS_J, HW).tolist() == SIGNED


def test_sampling_covers_each_axis_of_a_non_square_grid():
    g = torch.Generator().manual_seed(0)
    pos_i, pos_j = sample_pairs(8, (2, 7), 64, generator=g)
    assert pos_i.shape == pos_j.shape == (8, 64, 2)
    both = torch.cat([pos_i, pos_j])
    # rows in [0, 2), columns in [0, 7): the official code would draw the
    # columns in [0, H) = [0, 2) too
    assert set(both[..., 0].unique().tolist()) == {0, 1}
    assert set(both[..., 1].unique().tolist()) == set(range(7))


def test_sampling_uses_the_default_generator_and_is_reproducible():
    torch.manual_seed(3)
    a = sample_pairs(2, HW, 5)
    torch.manual_seed(3)
    b = sample_pairs(2, HW, 5)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    g = torch.Generator().manual_seed(3)
    c = sample_pairs(2, HW, 5, generator=g)
    assert all(torch.equal(x, y) for x, y in zip(a, c))


def test_import_leaves_the_global_rng_alone():
    """The official module calls ``torch.manual_seed(12345)`` at import.
    Each DRLoc module is executed again (registration disabled) between a
    seed and a draw: the draw must be the one the seed gives."""
    import importlib.util
    from unittest import mock

    from mmvitplug.engine.hooks import drloc as hook_module
    from mmvitplug.models.classifiers import drloc as classifier_module
    from mmvitplug.models.heads import drloc_head as head_module
    from mmvitplug.models.losses import drloc as loss_module
    from mmvitplug.registry import HOOKS
    from mmvitplug.registry import MODELS as OUR_MODELS

    def no_registration(*args, **kwargs):
        return lambda cls: cls

    for module in (loss_module, head_module, classifier_module,
                   hook_module):
        spec = importlib.util.spec_from_file_location(
            module.__name__ + '_again', module.__file__)
        again = importlib.util.module_from_spec(spec)
        again.__package__ = module.__package__
        torch.manual_seed(7)
        expected = torch.rand(3)
        torch.manual_seed(7)
        with mock.patch.object(OUR_MODELS, 'register_module',
                               no_registration), \
                mock.patch.object(HOOKS, 'register_module', no_registration):
            spec.loader.exec_module(again)
        assert torch.equal(torch.rand(3), expected), module.__name__


def test_gather_tokens_picks_row_major_positions():
    # a 2 x 3 map whose channel 0 holds the flat index, channel 1 its negative
    idx = torch.arange(6.).view(1, 1, 2, 3)
    featmap = torch.cat([idx, -idx], dim=1)
    pos = torch.tensor([[[0, 0], [1, 2], [0, 2], [1, 0]]])
    # (r, c) -> 3 r + c: 0, 5, 2, 3
    out = gather_tokens(featmap, pos)
    assert out.tolist() == [[[0., 0.], [5., -5.], [2., -2.], [3., -3.]]]


def test_bad_grids_and_modes_are_refused():
    with pytest.raises(ValueError, match='at least 2 positions'):
        sample_pairs(1, (1, 1), 4)
    with pytest.raises(ValueError, match="choose from \\['l1', 'ce', 'cbr'"):
        DRLocLoss(mode='l2')
    with pytest.raises(ValueError, match="only for mode='l1'"):
        DRLocLoss(mode='ce', normalize=True)


# ------------------------------------------------------------------- losses


def test_l1_loss_on_hand_made_predictions():
    pred = torch.tensor([[0.5, 0.], [4., 4.], [2., 5.]])
    # |pred - SIGNED| = 0.5, 0, 0, 2, 0, 0: mean 2.5 / 6; times lambda 0.5
    loss = DRLocLoss(mode='l1', loss_weight=0.5)
    torch.testing.assert_close(
        loss(pred, POS_I, POS_J, HW), torch.tensor(0.5 * 2.5 / 6))
    # the schedule factor multiplies lambda
    loss.weight_factor = 0.25
    torch.testing.assert_close(
        loss(pred, POS_I, POS_J, HW), torch.tensor(0.125 * 2.5 / 6))


def test_ce_loss_on_hand_made_scores():
    # 2 x 2 grid: 3 bins per axis; pairs (0,0)-(1,1) and (1,1)-(0,0):
    # targets (-1 + 1, -1 + 1) = (0, 0) and (2, 2)
    hw = (2, 2)
    pos_i = torch.tensor([[0, 0], [1, 1]])
    pos_j = torch.tensor([[1, 1], [0, 0]])
    l2, l3 = math.log(2), math.log(3)
    rows = torch.tensor([[0., 0., 0.], [0., 0., l2]])
    cols = torch.tensor([[l3, 0., 0.], [0., 0., 0.]])
    # rows: -log(1/3) = log 3, -log(2/4) = log 2
    # cols: -log(3/5) = log(5/3), -log(1/3) = log 3
    # loss = mean(rows) + mean(cols) = (log 3 + log 2 + log 5) / 2
    loss = DRLocLoss(mode='ce', loss_weight=1.0)
    torch.testing.assert_close(
        loss((rows, cols), pos_i, pos_j, hw),
        torch.tensor(math.log(30) / 2))


def test_ce_loss_has_separate_bins_per_axis_on_non_square_grids():
    # 1 x 3 grid: rows have 1 bin, columns 5; pair (0,0)-(0,2): column
    # target -2 + 2 = 0
    loss = DRLocLoss(mode='ce', loss_weight=1.0)
    assert loss.num_outputs((1, 3)) == (1, 5)
    rows = torch.zeros(1, 1)  # one bin: CE 0
    cols = torch.tensor([[math.log(4), 0., 0., 0., 0.]])  # 4 / 8 on bin 0
    out = loss((rows, cols), torch.tensor([[0, 0]]), torch.tensor([[0, 2]]),
               (1, 3))
    torch.testing.assert_close(out, torch.tensor(math.log(2)))


def test_cbr_variance_aware_regression_by_hand():
    # uniform over 3 bins: mu = 1, var = (1 + 0 + 1) / 3 = 2/3; target 2:
    # (1 - 2)^2 / (2/3) + 1e-3 log(2/3)
    uniform = variance_aware_regression(torch.zeros(1, 3), torch.tensor([2]))
    torch.testing.assert_close(uniform,
                               torch.tensor(1.5 + 1e-3 * math.log(2 / 3)))
    # beta = (1/4, 1/4, 1/2): mu = 1.25, var = (1.5625 + 0.0625) / 4 +
    # 0.5625 / 2 = 0.6875; target 0: 1.5625 / 0.6875 + 1e-3 log 0.6875
    skewed = torch.tensor([[0., 0., math.log(2)]])
    torch.testing.assert_close(
        variance_aware_regression(skewed, torch.tensor([0])),
        torch.tensor(1.5625 / 0.6875 + 1e-3 * math.log(0.6875)))
    # var_weight 0: only the scaled squared error
    torch.testing.assert_close(
        variance_aware_regression(skewed, torch.tensor([0]), var_weight=0.),
        torch.tensor(1.5625 / 0.6875))
    # the loss sums rows and columns: both axes of a 2 x 2 grid, pair
    # (1,1)-(0,0): targets (2, 2)
    loss = DRLocLoss(mode='cbr', loss_weight=1.0, cbr_var_weight=0.)
    out = loss((torch.zeros(1, 3), skewed), torch.tensor([[1, 1]]),
               torch.tensor([[0, 0]]), (2, 2))
    # rows: 1 / (2/3) = 1.5; cols: (1.25 - 2)^2 / 0.6875
    torch.testing.assert_close(
        out, torch.tensor(1.5 + 0.5625 / 0.6875))


# --------------------------------------------------------------------- head


def test_head_outputs_per_mode_and_grid():
    head = DRLocHead(in_channels=8, hidden_channels=16)
    assert head.out.out_features == 2
    head = DRLocHead(
        in_channels=8, hidden_channels=16, grid_size=(3, 4),
        loss=dict(type='mmvitplug.DRLocLoss', mode='ce'))
    assert [m.out_features for m in head.out] == [5, 7]
    head = DRLocHead(
        in_channels=8, hidden_channels=16, grid_size=(3, 4),
        loss=dict(type='mmvitplug.DRLocLoss', mode='cbr', use_abs=True))
    assert [m.out_features for m in head.out] == [3, 4]
    assert head.trunk[0].in_features == 16  # [e_i, e_j]
    with pytest.raises(ValueError, match='set grid_size'):
        DRLocHead(in_channels=8,
                  loss=dict(type='mmvitplug.DRLocLoss', mode='ce'))
    with pytest.raises(TypeError, match='must build a DRLocLoss'):
        DRLocHead(in_channels=8, loss=dict(type='CrossEntropyLoss'))


def test_head_loss_is_the_loss_of_its_sampled_pairs():
    head = DRLocHead(in_channels=4, num_pairs=5, hidden_channels=8,
                     loss=dict(type='mmvitplug.DRLocLoss', loss_weight=0.1))
    featmap = torch.randn(2, 4, 3, 4)
    torch.manual_seed(0)
    out = head.loss(featmap)
    torch.manual_seed(0)
    pos_i, pos_j = sample_pairs(2, (3, 4), 5)
    assert pos_i.shape == (2, 5, 2)  # num_pairs per image
    pred = head(gather_tokens(featmap, pos_i), gather_tokens(featmap, pos_j))
    target = drloc_targets(pos_i, pos_j, (3, 4)).float()
    torch.testing.assert_close(out['loss_drloc'],
                               0.1 * (pred - target).abs().mean())
    assert out['drloc_weight'].item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match='built for a \\(3, 3\\) token grid'):
        DRLocHead(in_channels=4, grid_size=(3, 3)).loss(featmap)


# ----------------------------------------------------------------- schedule


@pytest.mark.parametrize('epoch,factor', [
    (0, 0.), (5, 0.25), (10, 0.5), (20, 1.),
    (21, 1 - 1 / 280), (160, 0.5), (299, 1 / 280), (300, 0.), (310, 0.)])
def test_weight_factor_official_schedule(epoch, factor):
    # warm-up 20 epochs, zero at 300: ramp e / 20, then 1 - (e - 20) / 280
    assert drloc_weight_factor(epoch, 20, 300) == pytest.approx(factor)


def test_weight_factor_without_warmup():
    assert drloc_weight_factor(0, 0, 10) == 1.0
    assert drloc_weight_factor(5, 0, 10) == 0.5


def test_hook_sets_the_factor_of_every_drloc_loss():
    losses = [DRLocLoss(loss_weight=0.5), DRLocLoss(loss_weight=0.1)]
    model = nn.Sequential(*losses)
    runner = SimpleNamespace(model=model, epoch=0, max_epochs=15)
    hook = DRLocWeightHook(warmup_epochs=2)
    hook.before_train(runner)
    for epoch, factor in [(0, 0.), (1, 0.5), (2, 1.), (8.5, 0.5)]:
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        # decay: 1 - (e - 2) / (15 - 2), 0.5 at e = 8.5
        assert [m.weight for m in losses] == pytest.approx(
            [0.5 * factor, 0.1 * factor])
    # total_epochs overrides max_epochs (official: schedule to 300, run 101)
    hook = DRLocWeightHook(warmup_epochs=2, total_epochs=6)
    runner.epoch = 4
    hook.before_train_epoch(runner)
    assert losses[0].weight == pytest.approx(0.25)  # 0.5 (1 - 2 / 4)
    with pytest.raises(RuntimeError, match='no DRLocLoss'):
        hook.before_train(SimpleNamespace(model=nn.Linear(2, 2)))
    with pytest.raises(ValueError, match='must be less than'):
        DRLocWeightHook(warmup_epochs=20).before_train(runner)
    with pytest.raises(ValueError, match='greater than'):
        DRLocWeightHook(warmup_epochs=5, total_epochs=5)


# --------------------------------------------------------------- classifier


def classifier(backbone, in_channels, head_channels=None, **drloc):
    return MODELS.build(
        dict(
            type='mmvitplug.DRLocClassifier',
            backbone=backbone,
            neck=drloc.pop('neck', None),
            head=dict(type='LinearClsHead', num_classes=3,
                      in_channels=head_channels or in_channels),
            drloc_head=dict(type='mmvitplug.DRLocHead',
                            in_channels=in_channels, num_pairs=6,
                            hidden_channels=16, **drloc)))


def featmap_backbone(cfg):
    """The same backbone with out_type='featmap'."""
    return MODELS.build(dict(cfg, out_type='featmap'))


def deit(**kwargs):
    return dict(type='mmvitplug.DeiT', arch=TINY_ARCHS['DeiT'],
                img_size=32, patch_size=8, **kwargs)


@pytest.mark.parametrize('cfg,channels,img', [
    (deit(), 32, (32, 32)),
    (deit(distilled=True), 32, (32, 32)),  # two extra tokens dropped
    (deit(), 32, (24, 40)),  # non-square: a 3 x 5 grid
    (dict(type='mmvitplug.CvT', arch=TINY_ARCHS['CvT']), 32, (32, 32)),
    (dict(type='mmvitplug.PiT', arch=TINY_ARCHS['PiT'], img_size=32), 64,
     (32, 32)),
    # LeViT overrides forward (stem maps first); pooled output by default
    (dict(type='mmvitplug.LeViT', arch=TINY_ARCHS['LeViT'], img_size=96),
     32, (96, 96)),
    (deit(out_type='featmap'), 32, (32, 32)),  # the head's own map
], ids=['deit', 'deit-distilled', 'deit-non-square', 'cvt', 'pit', 'levit',
        'deit-featmap'])
def test_classifier_map_is_the_backbones_featmap(cfg, channels, img):
    torch.manual_seed(0)
    model = classifier(cfg, channels)
    model.eval()
    x = torch.randn(2, 3, *img)
    out_type = model.backbone.out_type
    feats, featmap = model.extract_feat_and_map(x)
    reference = featmap_backbone(cfg)
    # (a CvT built for maps has no class-token norm)
    reference.load_state_dict(model.backbone.state_dict(), strict=False)
    reference.eval()
    with torch.no_grad():
        expected = reference(x)[-1]
        plain = model.extract_feat(x)
    # the map: patch tokens only (no class / distillation token), last stage
    torch.testing.assert_close(featmap, expected)
    assert featmap.shape[:2] == (2, channels)
    # the head's features are those of the plain forward
    for a, b in zip(feats, plain):
        a, b = (a, b) if torch.is_tensor(a) else (a[0], b[0])
        torch.testing.assert_close(a, b)
    # the extra output is gone after the pass; out_type unchanged
    assert model.backbone._also_outputs == []
    assert model.backbone.out_type == out_type


def test_classifier_on_a_non_square_map_with_ce():
    # 24 x 40 images, patch 8: a 3 x 5 grid, 5 row bins and 9 column bins
    model = classifier(deit(), 32, grid_size=(3, 5),
                       loss=dict(type='mmvitplug.DRLocLoss', mode='ce'))
    assert [m.out_features for m in model.drloc_head.out] == [5, 9]
    x = torch.randn(2, 3, 24, 40)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    losses = model.loss(x, samples)
    assert set(losses) == {'loss', 'loss_drloc', 'drloc_weight'}
    assert torch.isfinite(losses['loss_drloc'])


def test_drloc_gradient_reaches_the_backbone():
    model = classifier(deit(), 32)
    x = torch.randn(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    model.loss(x, samples)['loss_drloc'].backward()
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None for g in grads)
    first = next(model.backbone.patch_embed.parameters())
    assert first.grad.abs().sum() > 0
    assert model.head.fc.weight.grad is None  # the DRLoc term only


def test_classifier_loss_adds_the_drloc_term_of_the_same_pass():
    torch.manual_seed(0)
    model = classifier(deit(), 32)
    model.eval()  # no dropout: the pairs are the only random draws
    x = torch.randn(2, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in (0, 2)]
    torch.manual_seed(1)
    losses = model.loss(x, samples)
    featmap = model.extract_feat_and_map(x)[1]
    torch.manual_seed(1)
    expected = model.drloc_head.loss(featmap)['loss_drloc']
    torch.testing.assert_close(losses['loss_drloc'], expected)
    torch.testing.assert_close(
        losses['loss'], model.head.loss(model.extract_feat(x),
                                        samples)['loss'])


def test_mmpretrain_backbones_map_or_clear_error():
    # a map backbone (ResNet) with a pooling neck: its last map is used
    model = classifier(
        dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, )),
        64, neck=dict(type='GlobalAveragePooling'))
    feats, featmap = model.extract_feat_and_map(torch.randn(2, 3, 64, 64))
    assert featmap.shape == (2, 64, 2, 2) and feats[-1].shape == (2, 64)
    # a class-token output is no map
    vit = dict(type='VisionTransformer',
               arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                         feedforward_channels=32),
               img_size=32, patch_size=8)
    model = classifier(vit, 32)
    with pytest.raises(ValueError, match='not a \\(B, C, H, W\\) map'):
        model.extract_feat_and_map(torch.randn(2, 3, 32, 32))


def test_classifier_refuses_other_heads():
    with pytest.raises(TypeError, match='must build a DRLocHead'):
        MODELS.build(
            dict(type='mmvitplug.DRLocClassifier', backbone=deit(),
                 head=dict(type='LinearClsHead', num_classes=3,
                           in_channels=32),
                 drloc_head=dict(type='LinearClsHead', num_classes=3,
                                 in_channels=32)))
    assert DRLocClassifier  # registered under mmvitplug
