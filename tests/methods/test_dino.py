# Copyright (c) mmvitplug contributors.
"""DINO: loss (hand-computed), centre, head, teacher EMA, hooks and the
schedules of the shipped configs against the official schedule arrays.

The official schedules are restated from facebookresearch/dino@7c446df
``utils.cosine_scheduler`` (per-iteration values, optional linear warm-up
from ``start_warmup_value``) and ``DINOLoss.teacher_temp_schedule``
(``np.linspace(warmup, temp, warmup_epochs)`` then constant).
"""
import copy
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope
from mmpretrain.registry import MODELS

from mmvitplug.engine.hooks import (DINOFreezeLastLayerHook,
                                    DINOTeacherTempWarmupHook)
from mmvitplug.models.heads import DINOHead
from mmvitplug.models.losses import DINOLoss
from mmvitplug.models.selfsup import DINO
from _builders import REPO_ROOT

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
K = 16
IMAGENET_CFG = osp.join(REPO_ROOT, 'configs', 'dino',
                        'dino-deit-small_8xb64_in1k.py')
DIGITS_CFG = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                      'dino-deit-4l64d-p8_1xb64_digits.py')


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


def cosine_scheduler(base_value, final_value, epochs, niter_per_ep,
                     warmup_epochs=0, start_warmup_value=0):
    """The official ``utils.cosine_scheduler``, restated."""
    warmup_iters = warmup_epochs * niter_per_ep
    warmup = np.linspace(start_warmup_value, base_value, warmup_iters) \
        if warmup_epochs > 0 else np.array([])
    iters = np.arange(epochs * niter_per_ep - warmup_iters)
    schedule = final_value + 0.5 * (base_value - final_value) * (
        1 + np.cos(np.pi * iters / len(iters)))
    return np.concatenate((warmup, schedule))


def build_dino(**kwargs):
    cfg = dict(
        type='mmvitplug.DINO',
        backbone=dict(
            type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
            drop_path_rate=0.2),
        head=dict(
            type='mmvitplug.DINOHead', in_channels=32, out_channels=K,
            hid_channels=32, bottleneck_channels=8))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def crops(batch=3, num_local=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ([torch.randn(batch, 3, 32, 32, generator=g) for _ in range(2)] +
            [torch.randn(batch, 3, 16, 16, generator=g)
             for _ in range(num_local)])


@pytest.fixture
def max_iters():
    hub = MessageHub.get_current_instance()
    before = hub.get_info('max_iters')
    hub.update_info('max_iters', 100)
    yield 100
    hub.update_info('max_iters', before)


# --------------------------------------------------------------------- loss

# K = 4 prototypes, batch 2, 2 global crops + 1 local crop
TEACHER = [[[1., 0., 0., 0.], [0., 2., 0., 0.]],  # global crop 0
           [[0., 0., 1., 0.], [1., 1., 0., 0.]]]  # global crop 1
STUDENT = [[[1., 2., 0., -1.], [0., 0., 3., 0.]],  # global crop 0
           [[2., 0., 0., 0.], [0., 1., 0., 1.]],  # global crop 1
           [[0., 0., 0., 4.], [1., 0., 1., 0.]]]  # local crop
CENTER = [[0.5, 0., -0.5, 0.]]


def _softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def _hand_loss(student_temp, teacher_temp, skip_same_view=True):
    """Plain-Python DINO loss of TEACHER / STUDENT / CENTER."""
    terms = []
    for i, t_crop in enumerate(TEACHER):
        for v, s_crop in enumerate(STUDENT):
            if skip_same_view and v == i:
                continue
            per_sample = []
            for t, s in zip(t_crop, s_crop):
                p = _softmax([(a - c) / teacher_temp
                              for a, c in zip(t, CENTER[0])])
                q = _softmax([a / student_temp for a in s])
                per_sample.append(-sum(pk * math.log(qk)
                                       for pk, qk in zip(p, q)))
            terms.append(sum(per_sample) / len(per_sample))
    return sum(terms) / len(terms), len(terms)


def _loss(**kwargs):
    loss = DINOLoss(out_channels=4, **kwargs)
    loss.center.copy_(torch.tensor(CENTER))
    return loss


def test_loss_matches_hand_computation_and_skips_same_view():
    loss = _loss(student_temp=0.1, teacher_temp=0.04)
    out = loss(
        student_outputs=[torch.tensor(s) for s in STUDENT],
        teacher_outputs=[torch.tensor(t) for t in TEACHER])
    expected, num_terms = _hand_loss(0.1, 0.04)
    assert num_terms == 2 * 3 - 2
    assert out['loss'].item() == pytest.approx(expected, rel=1e-6)
    with_same_view, _ = _hand_loss(0.1, 0.04, skip_same_view=False)
    assert abs(with_same_view - expected) > 1e-2  # the skip matters here


def test_loss_temperatures_are_used():
    loss = _loss(student_temp=0.2, teacher_temp=0.07)
    out = loss(
        student_outputs=[torch.tensor(s) for s in STUDENT],
        teacher_outputs=[torch.tensor(t) for t in TEACHER])
    assert out['loss'].item() == pytest.approx(
        _hand_loss(0.2, 0.07)[0], rel=1e-6)
    # the hook's attribute is what the loss reads
    loss.teacher_temp = 0.5
    out = loss(
        student_outputs=[torch.tensor(s) for s in STUDENT],
        teacher_outputs=[torch.tensor(t) for t in TEACHER])
    loss.center.copy_(torch.tensor(CENTER))
    assert out['loss'].item() != pytest.approx(_hand_loss(0.2, 0.07)[0])


def test_center_update():
    loss = _loss(center_momentum=0.9)
    loss(student_outputs=[torch.tensor(s) for s in STUDENT],
         teacher_outputs=[torch.tensor(t) for t in TEACHER])
    # batch mean of the 4 teacher rows (2 crops x 2 images)
    mean = [(1 + 0 + 0 + 1) / 4, (0 + 2 + 0 + 1) / 4, (0 + 0 + 1 + 0) / 4, 0.]
    expected = [0.9 * c + 0.1 * m for c, m in zip(CENTER[0], mean)]
    assert loss.center.tolist()[0] == pytest.approx(expected, abs=1e-7)
    loss2 = _loss(center_momentum=0.5)
    loss2(student_outputs=[torch.tensor(s) for s in STUDENT],
          teacher_outputs=[torch.tensor(t) for t in TEACHER])
    assert loss2.center.tolist()[0] == pytest.approx(
        [0.5 * c + 0.5 * m for c, m in zip(CENTER[0], mean)], abs=1e-7)
    assert 'center' in loss.state_dict()


def test_loss_gradient_reaches_student_only():
    student = [torch.tensor(s, requires_grad=True) for s in STUDENT]
    teacher = [torch.tensor(t, requires_grad=True) for t in TEACHER]
    _loss()(student_outputs=student, teacher_outputs=teacher)['loss'] \
        .backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0
               for s in student)
    assert all(t.grad is None for t in teacher)


def test_loss_is_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    student = [torch.randn(4, 64) * 5 for _ in range(4)]
    teacher = [torch.randn(4, 64) * 5 for _ in range(2)]
    lin = nn.Linear(64, 64)
    ref_loss = DINOLoss(out_channels=64)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        s_bf16 = [lin(s) for s in student]  # bf16 like a head under --amp
        t_bf16 = [lin(t) for t in teacher]
        assert s_bf16[0].dtype == torch.bfloat16
        out = DINOLoss(out_channels=64)(
            student_outputs=s_bf16, teacher_outputs=t_bf16)['loss']
    assert out.dtype == torch.float32
    ref = ref_loss(student_outputs=[s.float() for s in s_bf16],
                   teacher_outputs=[t.float() for t in t_bf16])['loss']
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)


def test_loss_errors():
    loss = DINOLoss(out_channels=4)
    one = [torch.zeros(2, 4)]
    with pytest.raises(ValueError, match='no teacher / student pair'):
        loss(student_outputs=one, teacher_outputs=one)
    with pytest.raises(ValueError, match='out_channels=4'):
        loss(student_outputs=[torch.zeros(2, 5)] * 2,
             teacher_outputs=[torch.zeros(2, 5)])
    with pytest.raises(TypeError, match='list'):
        loss(student_outputs=torch.zeros(2, 4), teacher_outputs=one)
    with pytest.raises(ValueError, match='center_momentum'):
        DINOLoss(out_channels=4, center_momentum=1.)
    with pytest.raises(ValueError, match='teacher_temp'):
        DINOLoss(out_channels=4, teacher_temp=0)


# --------------------------------------------------------------------- head


def test_head_forward_is_normalised_weight_normed_projection():
    torch.manual_seed(0)
    head = DINOHead(in_channels=6, out_channels=5, hid_channels=7,
                    bottleneck_channels=3, num_layers=3)
    x = torch.randn(4, 6)
    linears = [m for m in head.mlp if isinstance(m, nn.Linear)]
    shapes = [(m.in_features, m.out_features) for m in linears]
    assert shapes == [(6, 7), (7, 7), (7, 3)]
    assert all(isinstance(m, nn.GELU) for m in head.mlp[1::2])
    assert all((m.bias == 0).all() for m in linears)
    h = x
    for m in head.mlp:
        h = m(h)
    h = h / h.norm(dim=1, keepdim=True)
    v = head.last_layer.parametrizations.weight.original1
    expected = h @ (v / v.norm(dim=1, keepdim=True)).t()  # g = 1
    assert torch.allclose(head(x), expected, atol=1e-6)
    assert head.last_layer.bias is None


def test_head_norm_last_layer_fixes_magnitudes():
    head = DINOHead(in_channels=6, out_channels=5, hid_channels=7,
                    bottleneck_channels=3, norm_last_layer=True)
    g = head.last_layer.parametrizations.weight.original0
    assert g.shape == (5, 1) and (g == 1).all() and not g.requires_grad
    head(torch.randn(2, 6)).sum().backward()
    assert g.grad is None
    # the weight rows are unit vectors whatever v is
    assert torch.allclose(head.last_layer.weight.norm(dim=1),
                          torch.ones(5), atol=1e-6)

    free = DINOHead(in_channels=6, out_channels=5, hid_channels=7,
                    bottleneck_channels=3, norm_last_layer=False)
    g = free.last_layer.parametrizations.weight.original0
    assert (g == 1).all() and g.requires_grad
    free(torch.randn(2, 6)).sum().backward()
    assert g.grad is not None
    with torch.no_grad():
        g.mul_(2.)
    assert torch.allclose(free.last_layer.weight.norm(dim=1),
                          torch.full((5, ), 2.), atol=1e-6)


def test_head_variants():
    one = DINOHead(in_channels=6, out_channels=5, bottleneck_channels=3,
                   num_layers=1)
    assert isinstance(one.mlp, nn.Linear) and one.mlp.in_features == 6
    bn = DINOHead(in_channels=6, out_channels=5, hid_channels=7,
                  bottleneck_channels=3, num_layers=2, use_bn=True)
    assert [type(m) for m in bn.mlp] == [nn.Linear, nn.BatchNorm1d, nn.GELU,
                                         nn.Linear]
    with pytest.raises(ValueError, match='num_layers'):
        DINOHead(in_channels=6, out_channels=5, num_layers=0)


# ---------------------------------------------------------------- algorithm


def test_teacher_sees_global_crops_student_all(max_iters):
    model = build_dino()
    seen = {'student': [], 'teacher': []}
    model.backbone.register_forward_hook(
        lambda m, args, out: seen['student'].append(tuple(args[0].shape)))
    model.teacher.module.backbone.register_forward_hook(
        lambda m, args, out: seen['teacher'].append(tuple(args[0].shape)))
    losses = model.loss(crops(batch=3, num_local=2))
    # crops of one size are batched together, as MultiCropWrapper
    assert seen['teacher'] == [(6, 3, 32, 32)]
    assert seen['student'] == [(6, 3, 32, 32), (6, 3, 16, 16)]
    assert set(losses) == {'loss', 'teacher_entropy', 'prototypes_used'}
    assert 0 < losses['teacher_entropy'] < math.log(K)
    assert 1 <= losses['prototypes_used'] <= 6
    losses['loss'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.backbone.cls_token.grad is not None


def test_teacher_has_no_drop_path_and_state_dict_prefix():
    model = build_dino()
    rates = [m.drop_prob for m in model.backbone.modules()
             if hasattr(m, 'drop_prob')]
    assert max(rates) == pytest.approx(0.2)
    assert all(m.drop_prob == 0 for m in model.teacher.module.modules()
               if hasattr(m, 'drop_prob'))
    keys = model.state_dict()
    prefix = DINO.pretrained_backbone + '.'
    teacher_backbone = {k[len(prefix):] for k in keys if k.startswith(prefix)}
    assert teacher_backbone == set(model.backbone.state_dict())
    assert not any(p.requires_grad for p in model.teacher.parameters())


def test_teacher_momentum_follows_official_schedule(max_iters):
    """The teacher after iteration n's optimizer step is the official
    ``teacher = m[n] * teacher + (1 - m[n]) * student`` with
    ``m = cosine_scheduler(0.996, 1, ...)``: here the update of step n is
    applied at the start of forward n + 1."""
    torch.manual_seed(0)
    model = build_dino(momentum=0.004, end_momentum=0.)
    official = cosine_scheduler(0.996, 1., 1, max_iters)
    # forward 0 copies the (initialised) student
    with torch.no_grad():
        model.backbone.cls_token.normal_()
    model.loss(crops())
    teacher = model.teacher.module.backbone.cls_token
    assert torch.equal(teacher, model.backbone.cls_token)
    expected = teacher.detach().clone()
    for n in range(3):  # the student moves (optimizer step n)...
        with torch.no_grad():
            model.backbone.cls_token.add_(1.)
        student = model.backbone.cls_token.detach().clone()
        model.loss(crops())  # ...the teacher follows at forward n + 1
        expected = official[n] * expected + (1 - official[n]) * student
        assert torch.allclose(teacher, expected, atol=1e-6), n
    # late in training the teacher barely moves
    model.teacher.steps.fill_(max_iters - 1)
    before = teacher.detach().clone()
    with torch.no_grad():
        model.backbone.cls_token.add_(1.)
    model.loss(crops())
    m = official[max_iters - 2]
    assert torch.allclose(
        teacher, m * before + (1 - m) * model.backbone.cls_token, atol=1e-6)


def test_dino_works_with_avg_featmap_and_pooled_featmaps(max_iters):
    model = build_dino(backbone=dict(
        type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
        out_type='avg_featmap'))
    assert torch.isfinite(model.loss(crops())['loss'])
    model = build_dino(
        backbone=dict(type='mmvitplug.DeiT', arch=ARCH, img_size=32,
                      patch_size=8, out_type='featmap'),
        neck=dict(type='GlobalAveragePooling'))
    assert torch.isfinite(model.loss(crops())['loss'])


def test_dino_errors(max_iters):
    with pytest.raises(ValueError, match='momentum=0.004'):
        build_dino(momentum=0.996)
    with pytest.raises(ValueError, match='num_global_crops'):
        build_dino(num_global_crops=0)
    model = build_dino()
    with pytest.raises(TypeError, match='list of crops'):
        model.loss(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match='more than'):
        model.loss(crops(num_local=0))
    featmap = build_dino(backbone=dict(
        type='mmvitplug.DeiT', arch=ARCH, img_size=32, patch_size=8,
        out_type='featmap'))
    with pytest.raises(ValueError, match="out_type='cls_token'"):
        featmap.loss(crops())


# -------------------------------------------------------------------- hooks


class _Runner:
    """What the hooks read of a runner."""

    def __init__(self, model, optim_wrapper=None, epoch=0):
        self.model = model
        self.optim_wrapper = optim_wrapper
        self.epoch = epoch
        self.message_hub = MessageHub.get_instance('test_dino_hooks')


def test_teacher_temp_hook_matches_official_schedule():
    official = np.concatenate(
        (np.linspace(0.04, 0.07, 30), np.ones(100 - 30) * 0.07))
    hook = DINOTeacherTempWarmupHook(warmup_temp=0.04, temp=0.07,
                                     warmup_epochs=30)
    loss = DINOLoss(out_channels=4)
    model = nn.ModuleDict(dict(loss_module=loss))
    for epoch in range(100):
        runner = _Runner(model, epoch=epoch)
        hook.before_train_epoch(runner)
        assert loss.teacher_temp == pytest.approx(official[epoch])
    assert runner.message_hub.get_scalar(
        'train/teacher_temp').current() == pytest.approx(0.07)
    no_warmup = DINOTeacherTempWarmupHook(temp=0.05, warmup_epochs=0)
    assert no_warmup.temperature(0) == 0.05
    with pytest.raises(RuntimeError, match='teacher_temp'):
        hook.before_train_epoch(_Runner(nn.Linear(2, 2)))


def test_teacher_temp_hook_reaches_model_through_ddp_wrapper():
    from mmengine.model import MMDistributedDataParallel
    loss = DINOLoss(out_channels=4)
    model = nn.ModuleDict(dict(loss_module=loss))
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    DINOTeacherTempWarmupHook(warmup_temp=0.01, temp=0.02,
                              warmup_epochs=2).before_train_epoch(
                                  _Runner(wrapper, epoch=1))
    assert loss.teacher_temp == pytest.approx(0.02)


def _step(model, optim_wrapper):
    losses = model.loss(crops())
    optim_wrapper.update_params(losses['loss'])


def test_freeze_last_layer_hook(max_iters):
    torch.manual_seed(0)
    model = build_dino(head=dict(
        type='mmvitplug.DINOHead', in_channels=32, out_channels=K,
        hid_channels=32, bottleneck_channels=8, norm_last_layer=False))
    optim_wrapper = build_optim_wrapper(
        model,
        dict(type='mmvitplug.ClipOptimWrapper',
             optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.04),
             clip_grad=dict(type='param_norm', max_norm=3.0)))
    hook = DINOFreezeLastLayerHook(epochs=1)
    runner = _Runner(model, optim_wrapper, epoch=0)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    last = list(model.head.last_layer.parameters())
    before = [p.detach().clone() for p in last]
    mlp_before = model.head.mlp[0].weight.detach().clone()
    _step(model, optim_wrapper)
    _step(model, optim_wrapper)
    assert all(torch.equal(p, b) for p, b in zip(last, before))
    # skipped altogether: no weight decay, no optimizer state
    assert all(p not in optim_wrapper.optimizer.state for p in last)
    assert not torch.equal(model.head.mlp[0].weight, mlp_before)
    runner.epoch = 1
    hook.before_train_epoch(runner)
    _step(model, optim_wrapper)
    assert all(not torch.equal(p, b) for p, b in zip(last, before))
    hook.after_train(runner)
    assert not optim_wrapper.optimizer._optimizer_step_pre_hooks
    with pytest.raises(ValueError, match='no module'):
        DINOFreezeLastLayerHook(module='head.nope').before_train(runner)


# ------------------------------------------------- the configs' schedules


def _schedule(cfg_path, epochs, niter_per_ep, batch_scale=1.):
    """lr and weight decay of every iteration under the config's param
    schedulers, for the first (decayed) and a no-decay param group."""
    cfg = Config.fromfile(cfg_path)
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.optimizer.lr *= batch_scale  # what auto_scale_lr does
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    assert isinstance(optim_wrapper, OptimWrapper)
    groups = optim_wrapper.optimizer.param_groups
    decayed = [i for i, g in enumerate(groups) if g['params'][0].ndim > 1]
    flat = [i for i, g in enumerate(groups) if g['params'][0].ndim == 1]
    schedulers = []
    for s in cfg.param_scheduler:
        s = copy.deepcopy(s)
        convert = s.pop('convert_to_iter_based', False)
        s_type = PARAM_SCHEDULERS.get(s.pop('type'))
        s['optimizer'] = optim_wrapper
        if 'end' in s:
            s['end'] = min(s['end'], epochs)
        assert convert
        schedulers.append(
            s_type.build_iter_from_epoch(epoch_length=niter_per_ep, **s))
    lrs, wds, flat_wds = [], [], []
    for _ in range(epochs * niter_per_ep):
        lrs.append(groups[decayed[0]]['lr'])
        wds.append(groups[decayed[0]]['weight_decay'])
        flat_wds.append(max(groups[i]['weight_decay'] for i in flat))
        for s in schedulers:
            s.step()
    return np.array(lrs), np.array(wds), np.array(flat_wds)


def test_imagenet_config_schedules_match_official_arrays():
    """lr, weight decay of the ImageNet config vs the official arrays for
    the official 100 epochs (10 iterations per epoch stand in for 2502;
    total batch 512: peak lr 1e-3)."""
    cfg = Config.fromfile(IMAGENET_CFG)
    assert cfg.train_cfg.max_epochs == 100
    niter = 10
    lrs, wds, flat_wds = _schedule(IMAGENET_CFG, 100, niter,
                                   batch_scale=512 / 256)
    official_lr = cosine_scheduler(5e-4 * 512 / 256, 1e-6, 100, niter,
                                   warmup_epochs=10)
    # LinearLR starts at 1e-4 x the peak instead of 0
    assert np.abs(lrs - official_lr).max() <= 1e-4 * 1e-3 + 1e-12
    official_wd = cosine_scheduler(0.04, 0.4, 100, niter)
    assert np.allclose(wds, official_wd, rtol=1e-6, atol=1e-9)
    assert (flat_wds == 0).all()  # biases and norms: never decayed


def test_digits_config_weight_decay_on_decayed_groups_only():
    cfg = Config.fromfile(DIGITS_CFG)
    epochs = cfg.train_cfg.max_epochs
    _, wds, flat_wds = _schedule(DIGITS_CFG, epochs, 5)
    assert np.allclose(wds, cosine_scheduler(0.04, 0.4, epochs, 5),
                       rtol=1e-6, atol=1e-9)
    assert (flat_wds == 0).all()


def test_imagenet_config_recipe():
    cfg = Config.fromfile(IMAGENET_CFG)
    model = cfg.model
    assert model.momentum == pytest.approx(1 - 0.996)
    assert model.head.out_channels == model.loss.out_channels == 65536
    assert model.backbone.drop_path_rate == pytest.approx(0.1)
    views = cfg.train_pipeline[1]
    assert views.num_views == [1, 1, 8]
    blur = [[t['prob'] for t in view if t['type'] == 'GaussianBlur']
            for view in views.transforms]
    solarize = [[t['prob'] for t in view if t['type'] == 'Solarize']
                for view in views.transforms]
    assert blur == [[1.0], [0.1], [0.5]]
    assert solarize == [[], [0.2], []]
    sizes = [(view[0]['scale'], view[0]['crop_ratio_range'])
             for view in views.transforms]
    assert sizes == [(224, (0.4, 1.0)), (224, (0.4, 1.0)), (96, (0.05, 0.4))]
    hooks = {h['type']: h for h in cfg.custom_hooks}
    temp = hooks['mmvitplug.DINOTeacherTempWarmupHook']
    assert (temp['warmup_temp'], temp['temp'], temp['warmup_epochs']) == (
        0.04, 0.07, 30)
    assert hooks['mmvitplug.DINOFreezeLastLayerHook']['epochs'] == 1
    assert cfg.optim_wrapper.clip_grad == dict(type='param_norm',
                                               max_norm=3.0)
    assert cfg.auto_scale_lr == dict(base_batch_size=256, enable=True)
