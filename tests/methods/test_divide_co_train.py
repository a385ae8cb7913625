# Copyright (c) mmvitplug contributors.
"""Divide and Co-training (Zhao et al., TIP 2022,
https://arxiv.org/abs/2011.14660) as configs of the distillation machinery:
the configs' loss terms are the official formula (``model/splitnet.py`` of
FreeformRobotics/Divide-and-Co-training: each net's criterion on its own
view, mixed once, summed, + the co-training weight x the JS divergence of
the nets' softmaxes), each net sees its own view, the prediction is the mean
of the nets' logits, the divided nets have the wide one's parameters, and
the ImageNet config has the official numbers."""
import math
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.registry import HOOKS
from _builders import REPO_ROOT

BUNDLED = 'configs/bundled/divide_co_train/'
DEIT = BUNDLED + 'dct-deit-4l136d-p8_1xb16-30e_digits.py'
DEIT_WIDE = BUNDLED + 'sup-deit-4l192d-p8_1xb16-30e_digits.py'
RESNET = BUNDLED + 'dct-resnet18-w23_1xb64-6e_digits.py'
RESNET_WIDE = BUNDLED + 'sup-resnet18-w32_1xb64-6e_digits.py'
IMAGENET = 'configs/divide_co_train/dct-resnet50-w64_8xb32_in1k.py'
#: parser_params.py / script/train_split.sh (ImageNet) / checkpoints.md
OFFICIAL = dict(
    lr=0.1, batch=256, momentum=0.9, epochs=120, slow_start_epochs=5,
    slow_start_lr=5e-3, end_lr=1e-5, weight_decay=1e-4, split_factor=2,
    mix_alpha=0.2, cot_weight=0.5, cot_weight_warm_up_epochs=60,
    label_smoothing=0.1, erase_p=0.5, crop=224, params=51.4e6)


def load(config):
    return Config.fromfile(osp.join(REPO_ROOT, config))


def build(config, **kwargs):
    cfg = load(config)
    torch.manual_seed(0)
    model = MODELS.build(
        dict(cfg.model, data_preprocessor=cfg.data_preprocessor, **kwargs))
    model.init_weights()
    return cfg, model


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def two_view_batch(num_classes, size, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[[
            torch.randint(0, 256, (3, size, size), generator=g,
                          dtype=torch.uint8) for _ in range(n)
        ] for _ in range(2)],
        data_samples=[
            DataSample().set_gt_label(i % num_classes) for i in range(n)
        ])


def schedule_weights(cfg, model, epochs):
    """The co-training weight the config's LossWeightScheduleHook sets at
    each of ``epochs`` (one training: the last one stays set)."""
    (hook_cfg, ) = cfg.custom_hooks
    hook = HOOKS.build(dict(hook_cfg))
    runner = SimpleNamespace(
        model=model, epoch=0, iter=0, max_epochs=cfg.train_cfg.max_epochs,
        message_hub=MessageHub.get_instance('test_divide_co_train'))
    hook.before_train(runner)
    weights = []
    for epoch in epochs:
        runner.epoch = epoch
        hook.before_train_iter(runner, 0)
        weights.append(model.distiller.losses['loss_cot'].loss_weight)
    return weights


def official_cot_weight(epoch, warm_up_epochs, cot_weight=0.5):
    """``SplitNet._co_training_loss``'s weight at (0-based) ``epoch``."""
    if epoch < warm_up_epochs:
        return max(cot_weight * epoch / warm_up_epochs, 0.005)
    return cot_weight


def mixup_pairs(scores, labels):
    """``(y_a, y_b, lam)`` of the official ``mixup_data`` behind the mixed
    scores of a batch whose labels are ``labels``."""
    lam = None
    y_b = labels.clone()
    for i, (score, y) in enumerate(zip(scores, labels)):
        others = [c for c in score.nonzero().flatten().tolist() if c != y]
        if others:
            y_b[i] = others[0]
            lam = score[y].item()
    assert lam is not None, 'no sample was mixed with another class'
    return labels, y_b, lam


def official_losses(logits, labels, scores, weight, smoothing=0.):
    """``SplitNet.forward`` in training: ``mixup_criterion`` (lam x
    criterion(y_a) + (1 - lam) x criterion(y_b), the criterion CE or
    ``label_smoothing_CE``) of every net, and ``_co_training_loss``
    ('js_divergence') of all nets."""
    y_a, y_b, lam = mixup_pairs(scores, labels)

    def criterion(x, y):
        one_hot = F.one_hot(y, x.size(-1)).float()
        target = one_hot * (1 - smoothing) + smoothing / x.size(-1)
        return (-F.log_softmax(x, -1) * target).sum(-1).mean()

    terms = {
        f'loss_ce_{name}': lam * criterion(x, y_a) +
        (1 - lam) * criterion(x, y_b)
        for name, x in logits.items()
    }
    outputs_all = torch.stack(list(logits.values()), dim=0)
    p_all = F.softmax(outputs_all, dim=-1)
    p_mean = torch.mean(p_all, dim=0)
    h_mean = (-p_mean * torch.log(p_mean)).sum(-1).mean()
    h_sep = (-p_all * F.log_softmax(outputs_all, dim=-1)).sum(-1).mean()
    terms['loss_cot'] = weight * (h_mean - h_sep)
    return terms


def check_losses(config, num_classes, size, epoch, smoothing=0.):
    """The config's loss terms on a mixed two-view batch at ``epoch`` are
    the official formula; each net ran on its own view."""
    cfg, model = build(config)
    (weight, ) = schedule_weights(cfg, model, [epoch])
    warm_up = cfg.custom_hooks[0].end
    assert weight == pytest.approx(official_cot_weight(epoch, warm_up))
    np.random.seed(1)  # a Mixup ratio away from 0 and 1
    torch.manual_seed(1)
    data = model.data_preprocessor(
        two_view_batch(num_classes, size), training=True)
    views = data['inputs']
    seen = {}
    hooks = [
        student.backbone.register_forward_pre_hook(
            lambda m, args, name=name: seen.__setitem__(name, args[0]))
        for name, student in model.students.items()
    ]
    try:
        with torch.no_grad():
            losses = model.loss(**data)
    finally:
        for hook in hooks:
            hook.remove()
    # net i ran on view i, the views differ, Mixup mixed both with one draw
    assert list(seen) == ['net0', 'net1']
    for view, name in zip(views, seen):
        assert seen[name] is view
    assert not torch.equal(views[0], views[1])
    scores = torch.stack([s.gt_score for s in data['data_samples']])
    labels = torch.arange(len(scores)) % num_classes
    with torch.no_grad():
        logits = {
            name: student(view, mode='tensor')
            for (name, student), view in zip(model.students.items(), views)
        }
        expected = official_losses(logits, labels, scores, weight, smoothing)
    assert set(losses) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, msg=key)
    assert losses['loss_cot'] > 0
    return model, data


@pytest.mark.parametrize('config', [DEIT, RESNET])
def test_digits_losses_are_the_official_formula(config):
    # mid warm-up: 0.5 x 3 / E; after it: 0.5
    cfg = load(config)
    check_losses(config, 10, 32, epoch=1)
    check_losses(config, 10, 32, epoch=cfg.train_cfg.max_epochs - 1)


@pytest.mark.parametrize('config', [DEIT, IMAGENET])
def test_one_mixup_draw_mixes_both_views(config):
    """Two equal views stay equal after Mixup: one ratio and partner for
    all nets, as the official mixes once before splitting the views."""
    cfg = load(config)
    preprocessor = MODELS.build(cfg.data_preprocessor)
    batch = two_view_batch(10, 32)
    batch['inputs'][1] = [x.clone() for x in batch['inputs'][0]]
    np.random.seed(1)
    torch.manual_seed(1)
    data = preprocessor(batch, training=True)
    torch.testing.assert_close(data['inputs'][0], data['inputs'][1])
    scores = torch.stack([s.gt_score for s in data['data_samples']])
    assert (scores.max(1).values < 1).any()  # mixed


def test_ensemble_prediction_is_the_mean_of_the_logits():
    cfg, model = build(DEIT)
    model.eval()
    data = model.data_preprocessor(
        dict(inputs=two_view_batch(10, 32)['inputs'][0],
             data_samples=two_view_batch(10, 32)['data_samples']),
        training=False)
    x = data['inputs']
    with torch.no_grad():
        logits = model(x, mode='tensor')
        assert list(logits) == ['net0', 'net1']
        mean = (logits['net0'] + logits['net1']) / 2
        torch.testing.assert_close(model.predict_logits(x), mean)
        scores = torch.stack(
            [s.pred_score for s in model(x, mode='predict')])
        torch.testing.assert_close(scores, mean.softmax(1))
        assert not torch.allclose(logits['net0'], logits['net1'])
    assert cfg.model.predict_with == 'ensemble'
    assert cfg.model.ensemble == 'logits'


@pytest.mark.parametrize('divided, wide, ratio', [
    (DEIT, DEIT_WIDE, 1.0155),  # 2 x 136 dims (2 heads of 68) vs 192
    (RESNET, RESNET_WIDE, 1.0349),  # 2 x ResNet-18-w23 vs -w32
])
def test_divided_nets_have_the_wide_nets_parameters(divided, wide, ratio):
    _, model = build(divided)
    _, wide_model = build(wide)
    students = list(model.students.values())
    assert len(students) == 2
    assert num_params(model) == sum(num_params(s) for s in students)
    assert num_params(students[0]) == num_params(students[1])
    got = num_params(model) / num_params(wide_model)
    assert got == pytest.approx(ratio, abs=1e-4)
    assert abs(got - 1) < 0.04  # within a few %
    # width / sqrt(2), rounded (to a multiple of the heads)
    backbone = load(divided).model.students.net0.backbone
    wide_backbone = load(wide).model.backbone
    if 'arch' in backbone:
        width, wide_width = (backbone.arch.embed_dims,
                             wide_backbone.arch.embed_dims)
        assert width % backbone.arch.num_heads == 0
        assert width // backbone.arch.num_heads == 68
    else:
        width, wide_width = backbone.base_channels, wide_backbone.base_channels
    assert width == round(wide_width / math.sqrt(2))


def test_digits_recipes_differ_only_by_the_division():
    """The baseline has the co-trained config's crops, Mixup, batch and
    schedule; the co-trained one divides the weight decay by exp(1 - 1/S)
    and warms the JS weight up over half of training."""
    for divided, wide in ((DEIT, DEIT_WIDE), (RESNET, RESNET_WIDE)):
        d, w = load(divided), load(wide)
        assert d.data_preprocessor.batch_augments == \
            w.data_preprocessor.batch_augments == dict(
                augments=[dict(type='Mixup', alpha=0.2)])
        (multi_view, ) = [
            t for t in d.train_dataloader.dataset.pipeline
            if t.type == 'MultiView'
        ]
        assert multi_view.num_views == 2
        crop = w.train_dataloader.dataset.pipeline[1]
        assert multi_view.transforms == [[crop]]
        for key in ('train_cfg', 'param_scheduler'):
            assert d[key] == w[key], key
        assert d.train_dataloader.batch_size == w.train_dataloader.batch_size
        assert d.optim_wrapper.optimizer.weight_decay == pytest.approx(
            w.optim_wrapper.optimizer.weight_decay * math.exp(1 / 2 - 1))
        (hook, ) = d.custom_hooks
        assert hook.end * 2 == d.train_cfg.max_epochs
        assert (hook.start_factor, hook.end_factor, hook.min_factor) == (
            0., 1., 0.01)
        assert w.custom_hooks == []


def official_lr(t, iters_per_epoch):
    """``utils/lr_scheduler.py`` 'cos' with the ImageNet settings, at
    iteration ``t``."""
    slow = OFFICIAL['slow_start_epochs'] * iters_per_epoch
    total = (OFFICIAL['epochs'] - OFFICIAL['slow_start_epochs']) * \
        iters_per_epoch
    lr0 = OFFICIAL['lr']
    if t <= slow:
        lr = t / slow * (lr0 - OFFICIAL['slow_start_lr'])
        lr = min(lr + OFFICIAL['slow_start_lr'], lr0)
    else:
        lr = 0.5 * lr0 * (1. + math.cos((t - slow) / total * math.pi))
    return max(lr, OFFICIAL['end_lr'])


def test_imagenet_config_is_the_official_recipe():
    from mmengine.registry import PARAM_SCHEDULERS
    cfg, model = build(IMAGENET)
    # WRN-50-2 divided into 2 ResNet-50s with the official deep stem:
    # 51.4M parameters (checkpoints.md)
    students = cfg.model.students
    assert list(students) == ['net0', 'net1']
    assert students.net0 == students.net1
    assert dict(students.net0.backbone) == dict(
        type='ResNet', depth=50, stem_channels=128, base_channels=64,
        deep_stem=True, avg_down=True)
    assert round(num_params(model) / 1e5) / 10 == OFFICIAL['params'] / 1e6
    stem = model.students.net0.backbone.stem
    assert [m.conv.out_channels for m in stem] == [64, 64, 128]
    # losses: label-smoothed CE per net, JS x cot_weight warmed up over 60
    losses = cfg.model.distiller.losses
    for name in ('loss_ce_net0', 'loss_ce_net1'):
        assert losses[name] == dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
            loss_weight=1.0)
    assert losses.loss_cot == dict(
        type='mmvitplug.JSDivergenceLoss', loss_weight=OFFICIAL['cot_weight'])
    epochs = range(OFFICIAL['epochs'])
    assert schedule_weights(cfg, model, epochs) == pytest.approx([
        official_cot_weight(e, OFFICIAL['cot_weight_warm_up_epochs'])
        for e in epochs
    ], rel=1e-12)
    # data: one view per net, mixed once (alpha 0.2), official transforms
    assert cfg.data_preprocessor.type == \
        'mmvitplug.MultiViewClsDataPreprocessor'
    assert cfg.data_preprocessor.batch_augments.augments == [
        dict(type='Mixup', alpha=OFFICIAL['mix_alpha'])
    ]
    _, multi_view, _ = cfg.train_dataloader.dataset.pipeline
    assert multi_view.num_views == OFFICIAL['split_factor']
    crop, flip, autoaug, erase = multi_view.transforms[0]
    assert (crop.scale, crop.crop_ratio_range, crop.interpolation) == (
        224, (0.1, 1.0), 'bicubic')
    assert flip.prob == 0.5 and autoaug.policies == 'imagenet'
    assert (erase.erase_prob, erase.min_area_ratio, erase.max_area_ratio,
            erase.aspect_range) == (OFFICIAL['erase_p'], 0.05, 0.12,
                                    (0.5, 1.5))
    _, resize, center, _ = cfg.val_dataloader.dataset.pipeline
    assert (resize.scale, center.crop_size) == (int(224 * 1.15), 224)
    # optimizer: Nesterov SGD, lr 0.1 at 256, wd 1e-4 x exp(1/2 - 1) on
    # everything but biases (BN weights included, as officially)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.nesterov) == ('SGD', OFFICIAL['lr'],
                                    OFFICIAL['momentum'], True)
    assert cfg.auto_scale_lr.base_batch_size == OFFICIAL['batch'] == \
        8 * cfg.train_dataloader.batch_size
    wd = OFFICIAL['weight_decay'] * math.exp(1 / 2 - 1)
    assert optimizer.weight_decay == pytest.approx(wd)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {
        id(p): group['weight_decay']
        for group in wrapper.param_groups for p in group['params']
    }
    for name, p in model.named_parameters():
        assert decay[id(p)] == pytest.approx(
            0. if name.endswith('bias') else wd), name
    # lr per iteration = the official slow start + cosine floored at 1e-5:
    # mmengine's LinearLR reaches lr one iteration before the end of the
    # warm-up (one step of 0.095 / 25020 on ImageNet's 5004 iterations per
    # epoch), its cosine is eta_min + ..., < 1e-5 from the floored one
    assert cfg.train_cfg.max_epochs == OFFICIAL['epochs']
    iters = 8
    slow = OFFICIAL['slow_start_epochs'] * iters
    step = (OFFICIAL['lr'] - OFFICIAL['slow_start_lr']) / slow
    sgd = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    schedulers = []
    for s in cfg.param_scheduler:
        s = dict(s)
        assert s.pop('by_epoch') and s.pop('convert_to_iter_based')
        cls = PARAM_SCHEDULERS.get(s.pop('type'))
        schedulers.append(
            cls.build_iter_from_epoch(sgd, epoch_length=iters, **s))
    for t in range(OFFICIAL['epochs'] * iters):
        lr = sgd.param_groups[0]['lr']
        expected = official_lr(t, iters)
        if t < slow:
            assert expected <= lr <= expected + step, t
        else:
            assert lr == pytest.approx(expected, abs=1.0001e-5), t
        sgd.step()
        for scheduler in schedulers:
            scheduler.step()


def test_imagenet_losses_are_the_official_formula():
    """Label-smoothed CE of Mixup's pairs (linear in the target: the
    smoothed mixed scores), summed over the two ResNet-50s, + JS x 0.5
    (epoch 60 and after)."""
    model, _ = check_losses(IMAGENET, 1000, 64, epoch=60, smoothing=0.1)
    assert model.distiller.losses['loss_cot'].loss_weight == 0.5
