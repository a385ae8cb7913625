# Copyright (c) mmvitplug contributors.
"""DeiT distillation: loss maths, frozen teacher, checkpoints, head, parity."""
import copy
import functools
import glob
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.converters import convert_deit
from mmvitplug.models.distill import (ConfigurableDistiller,
                                      DistillationClassifier)
from mmvitplug.models.heads import DeiTDistillHead
from mmvitplug.models.losses import DeiTDistillLoss
from mmvitplug.registry import MODELS as PLUGIN_MODELS
from _builders import REPO_ROOT

NUM_CLASSES = 10
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def student_backbone(distilled=True, **kwargs):
    return dict(type='mmvitplug.DeiT', arch=TINY, img_size=32, patch_size=8,
                distilled=distilled, **kwargs)


def distill_head(**loss):
    """The two-token head; with ``loss`` keywords, its own (teacher-free)
    loss, used by a plain ImageClassifier."""
    head = dict(
        type='mmvitplug.DeiTDistillHead',
        num_classes=NUM_CLASSES,
        in_channels=TINY['embed_dims'])
    if loss:
        head['loss'] = dict(type='mmvitplug.DeiTDistillLoss', **loss)
    return head


def deit_distiller(**loss):
    """The DeiT distiller of the configs: both student heads, the teacher
    head, the whole objective in DeiTDistillLoss."""
    return dict(
        recorders=dict(
            cls_logits=dict(source='head.head'),
            dist_logits=dict(source='head.head_dist'),
            teacher_logits=dict(source='teacher.head')),
        losses=dict(
            loss_deit=dict(type='mmvitplug.DeiTDistillLoss', **loss)),
        loss_inputs=dict(
            loss_deit=dict(
                cls_logits='cls_logits',
                dist_logits='dist_logits',
                teacher_logits='teacher_logits',
                target='targets')))


# A small convnet with BatchNorm: its running statistics change as soon as
# it runs in train mode, so they also check that the teacher stays in eval.
TEACHER = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=64))


def save_teacher(path, seed=0, wrapper='state_dict', edit=None):
    """Build a randomly initialised teacher and save its state dict."""
    torch.manual_seed(seed)
    teacher = MODELS.build(copy.deepcopy(TEACHER))
    teacher.init_weights()
    state = teacher.state_dict()
    if edit is not None:
        edit(state)
    torch.save({wrapper: state} if wrapper else state, str(path))
    return teacher


def build_distiller(teacher_ckpt, seed=1, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(
        type='mmvitplug.DistillationClassifier',
        backbone=student_backbone(),
        head=distill_head(),
        teacher=copy.deepcopy(TEACHER),
        teacher_ckpt=(teacher_ckpt if teacher_ckpt is None
                      or isinstance(teacher_ckpt, int) else str(teacher_ckpt)),
        distiller=deit_distiller(),
        data_preprocessor=dict(
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
        for _ in range(n)
    ]
    samples = [DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def teacher_ckpt(tmp_path):
    path = tmp_path / 'teacher.pth'
    save_teacher(path)
    return path


def teacher_state(model):
    return {k: v.clone() for k, v in model.teacher.state_dict().items()}


# --------------------------------------------------------------- loss maths
def logits(seed, n=6, c=5, scale=3.):
    return torch.randn(n, c, generator=torch.Generator().manual_seed(seed)) \
        * scale


def ce(x, labels):
    """Cross-entropy written out: -log softmax(x)[label], batch mean."""
    return -(x.log_softmax(1)[torch.arange(len(labels)), labels]).mean()


def test_hard_loss_matches_formula():
    cls, dist, teacher = logits(0), logits(1), logits(2)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = DeiTDistillLoss('hard', alpha=0.3)(cls, dist, labels, teacher)
    assert set(loss) == {'loss_cls', 'loss_distill'}
    torch.testing.assert_close(loss['loss_cls'], 0.7 * ce(cls, labels))
    torch.testing.assert_close(loss['loss_distill'],
                               0.3 * ce(dist, teacher.argmax(1)))


@pytest.mark.parametrize('tau', [1., 3.])
def test_soft_loss_matches_formula(tau):
    cls, dist, teacher = logits(0), logits(1), logits(2)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = DeiTDistillLoss('soft', alpha=0.1, tau=tau)(
        cls, dist, labels, teacher)
    p_t = (teacher / tau).softmax(1)
    kl = (p_t * (p_t.log() - (dist / tau).log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(loss['loss_cls'], 0.9 * ce(cls, labels))
    torch.testing.assert_close(loss['loss_distill'], 0.1 * tau**2 * kl)


def test_soft_loss_reductions_hand_computed():
    """kl_reduction='mean' is the official code (KL sum / numel),
    'batchmean' Eq. 2 (KL sum / N), on values computed by hand."""
    # 2 samples, 2 classes, tau 1: the teacher is sure of class 0 and
    # unsure; the student logits give p = (0.5, 0.5) and (e/(1+e), 1/(1+e))
    dist = torch.tensor([[0., 0.], [1., 0.]])
    teacher = torch.tensor([[100., 0.], [0., 0.]])
    p1 = math.e / (1 + math.e)
    kl_sum = (math.log(1 / 0.5)  # q = (1, 0) vs p = (0.5, 0.5)
              + 0.5 * math.log(0.5 / p1) + 0.5 * math.log(0.5 / (1 - p1)))
    kwargs = dict(distill_type='soft', alpha=1.)
    labels = torch.zeros(2, dtype=torch.long)
    for reduction, expected in (('batchmean', kl_sum / 2),
                                ('mean', kl_sum / 4)):
        loss = DeiTDistillLoss(kl_reduction=reduction, **kwargs)(
            dist, dist, labels, teacher)['loss_distill']
        torch.testing.assert_close(loss, torch.tensor(expected))
    # tau^2 scaling and the official formula with tau = 3 on 6 x 5 logits
    dist, teacher, tau = logits(1), logits(2), 3.
    official = F.kl_div(
        F.log_softmax(dist / tau, dim=1), F.log_softmax(teacher / tau, dim=1),
        reduction='sum', log_target=True) * tau * tau / dist.numel()
    terms = {
        r: DeiTDistillLoss('soft', alpha=1., tau=tau, kl_reduction=r)(
            logits(0), dist, torch.zeros(6, dtype=torch.long),
            teacher)['loss_distill'] for r in ('mean', 'batchmean')
    }
    torch.testing.assert_close(terms['mean'], official)
    torch.testing.assert_close(terms['batchmean'], official * dist.shape[1])


def test_alpha_and_tau_behaviour():
    cls, dist, teacher = logits(0), logits(1), logits(2)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    only_labels = DeiTDistillLoss('hard', alpha=0.)(cls, dist, labels,
                                                    teacher)
    assert only_labels['loss_distill'] == 0
    torch.testing.assert_close(only_labels['loss_cls'], ce(cls, labels))
    only_teacher = DeiTDistillLoss('soft', alpha=1.)(cls, dist, labels,
                                                     teacher)
    assert only_teacher['loss_cls'] == 0
    # the student matching the teacher exactly has no soft loss at any tau
    for tau in (0.5, 4.):
        same = DeiTDistillLoss('soft', alpha=0.5, tau=tau)(cls, teacher,
                                                           labels, teacher)
        torch.testing.assert_close(same['loss_distill'], torch.tensor(0.))
    soft = [
        DeiTDistillLoss('soft', alpha=0.5, tau=tau)(
            cls, dist, labels, teacher)['loss_distill'] for tau in (1., 4.)
    ]
    assert not torch.allclose(soft[0], soft[1])


def test_soft_targets_from_mixup_and_label_smoothing():
    cls, dist, teacher = logits(0), logits(1), logits(2)
    lam = 0.7
    y = F.one_hot(torch.tensor([0, 1, 2, 3, 4, 0]), 5).float()
    mixed = lam * y + (1 - lam) * y.flip(0)

    def soft_ce(x, target):
        return -(target * x.log_softmax(1)).sum(1).mean()

    plain = DeiTDistillLoss('hard')(cls, dist, mixed, teacher)
    torch.testing.assert_close(plain['loss_cls'], 0.5 * soft_ce(cls, mixed))
    torch.testing.assert_close(plain['loss_distill'],
                               0.5 * ce(dist, teacher.argmax(1)))
    smooth = DeiTDistillLoss(
        'hard',
        base_loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                       mode='original'))(cls, dist, mixed, teacher)
    torch.testing.assert_close(smooth['loss_cls'],
                               0.5 * soft_ce(cls, mixed * 0.9 + 0.1 / 5))


def test_none_trains_both_tokens_on_labels():
    cls, dist = logits(0), logits(1)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    loss = DeiTDistillLoss('none', alpha=0.25)(cls, dist, labels)
    torch.testing.assert_close(loss['loss_cls'], 0.75 * ce(cls, labels))
    torch.testing.assert_close(loss['loss_distill'], 0.25 * ce(dist, labels))
    with pytest.raises(ValueError, match="'none' trains without a teacher"):
        DeiTDistillLoss('none')(cls, dist, labels, logits(2))


def test_teacher_logits_required_and_checked():
    cls, dist = logits(0), logits(1)
    labels = torch.tensor([0, 1, 2, 3, 4, 0])
    with pytest.raises(ValueError, match='needs teacher logits'):
        DeiTDistillLoss('hard')(cls, dist, labels)
    with pytest.raises(ValueError, match='differ in shape'):
        DeiTDistillLoss('soft')(cls, dist, labels, logits(2, c=7))


def test_no_gradient_reaches_teacher_logits():
    dist = logits(1).requires_grad_()
    teacher = logits(2).requires_grad_()
    loss = DeiTDistillLoss('soft', tau=2.)(logits(0), dist,
                                           torch.zeros(6, dtype=torch.long),
                                           teacher)
    sum(loss.values()).backward()
    assert dist.grad is not None and teacher.grad is None


@pytest.mark.parametrize('kwargs, match', [
    (dict(distill_type='medium'), "choose from 'hard', 'soft', 'none'"),
    (dict(alpha=-0.1), r'alpha must be in \[0, 1\]'),
    (dict(alpha=1.5), r'alpha must be in \[0, 1\]'),
    (dict(distill_type='soft', tau=0.), 'tau must be > 0'),
    (dict(distill_type='hard', tau=2.), "only applies to distill_type='soft'"),
    (dict(distill_type='soft', kl_reduction='sum'),
     "choose from 'batchmean', 'mean'"),
    (dict(distill_type='hard', kl_reduction='mean'),
     "only applies to distill_type='soft'"),
    (dict(distill_type='none', kl_reduction='mean'),
     "only applies to distill_type='soft'"),
])
def test_loss_rejects_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeiTDistillLoss(**kwargs)


# ----------------------------------------------------------- frozen teacher
def test_teacher_frozen_through_training(teacher_ckpt):
    model = build_distiller(
        teacher_ckpt,
        data_preprocessor=dict(
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3,
            batch_augments=dict(augments=[dict(type='Mixup', alpha=0.8)])))
    before = teacher_state(model)
    student_before = copy.deepcopy(model.backbone.state_dict())
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train()
    assert not model.teacher.training
    assert all(not m.training for m in model.teacher.modules())
    for step in range(3):
        losses = model.train_step(batch(seed=step), optim)
        assert {'loss_cls', 'loss_distill'} <= set(losses)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, before[key]), key  # BN stats included
    assert all(not p.requires_grad and p.grad is None
               for p in model.teacher.parameters())
    assert not torch.equal(model.backbone.pos_embed,
                           student_before['pos_embed'])
    # the teacher is outside the optimizer, the state dict and the graph
    teacher_ids = {id(p) for p in model.teacher.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    assert not any(k.startswith('teacher') or '_teacher' in k
                   for k in model.state_dict())
    # what the distiller recorded from the teacher is outside the graph
    seen = []
    model.teacher.head.register_forward_hook(
        lambda mod, args, out: seen.append(out))
    model.loss(**model.data_preprocessor(batch(), training=True))
    assert seen[0].shape == (4, NUM_CLASSES)
    assert not seen[0].requires_grad and seen[0].grad_fn is None


@pytest.mark.parametrize('loss', [
    dict(distill_type='hard', alpha=0.5),
    dict(distill_type='soft', alpha=0.1, tau=3.),
    dict(distill_type='soft', alpha=0.1, tau=3., kl_reduction='mean'),
])
def test_classifier_losses_are_the_formulas(teacher_ckpt, loss):
    """The distiller feeds the class / distillation token logits, the
    teacher logits and the labels to the loss: the terms are Eqs. 2 / 3 on
    exactly these tensors."""
    model = build_distiller(teacher_ckpt, distiller=deit_distiller(**loss))
    model.eval()  # no dropout noise between the two evaluations below
    data = model.data_preprocessor(batch(n=6), training=True)
    losses = model.loss(**data)
    inputs = data['inputs']
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    with torch.no_grad():
        cls, dist = model.head.forward_logits(model.extract_feat(inputs))
        teacher = model.teacher(inputs, mode='tensor')
    alpha = loss['alpha']
    torch.testing.assert_close(losses['loss_cls'],
                               (1 - alpha) * ce(cls, labels))
    if loss['distill_type'] == 'hard':
        expected = ce(dist, teacher.argmax(1))
    else:
        tau = loss['tau']
        p_t = (teacher / tau).softmax(1)
        kl = (p_t * (p_t.log() - (dist / tau).log_softmax(1))).sum(1)
        num = NUM_CLASSES if loss.get('kl_reduction') == 'mean' else 1
        expected = tau**2 * kl.mean() / num
    torch.testing.assert_close(losses['loss_distill'], alpha * expected)


def test_plain_classifier_trains_two_tokens_on_labels():
    """Without a teacher (the paper's two-class-token control) the head's
    default loss trains both tokens on the labels."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='ImageClassifier', backbone=student_backbone(),
             head=distill_head()))
    model.init_weights()
    inputs = torch.randn(4, 3, 32, 32)
    samples = batch(4)['data_samples']
    labels = torch.cat([s.gt_label for s in samples])
    losses = model.loss(inputs, samples)
    cls, dist = model.head.forward_logits(model.extract_feat(inputs))
    torch.testing.assert_close(losses['loss_cls'], 0.5 * ce(cls, labels))
    torch.testing.assert_close(losses['loss_distill'], 0.5 * ce(dist, labels))


def test_teacher_sees_the_mixed_inputs(teacher_ckpt):
    model = build_distiller(
        teacher_ckpt,
        data_preprocessor=dict(
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3,
            batch_augments=dict(augments=[dict(type='CutMix', alpha=1.)])))
    seen = []
    model.teacher.register_forward_hook(
        lambda mod, args, out: seen.append(args[0]))
    data = model.data_preprocessor(batch(), training=True)
    assert 'gt_score' in data['data_samples'][0]
    model.loss(**data)
    assert len(seen) == 1 and torch.equal(seen[0], data['inputs'])


def test_loss_depends_on_the_teacher(tmp_path):
    paths = [tmp_path / 'a.pth', tmp_path / 'b.pth']
    save_teacher(paths[0], seed=0)
    save_teacher(paths[1], seed=5)
    losses = []
    for path in paths:
        model = build_distiller(
            path, distiller=deit_distiller(distill_type='soft', tau=2.))
        data = model.data_preprocessor(batch(), training=True)
        losses.append(model.loss(**data))
    torch.testing.assert_close(losses[0]['loss_cls'], losses[1]['loss_cls'])
    assert not torch.allclose(losses[0]['loss_distill'],
                              losses[1]['loss_distill'])


def test_init_weights_and_casts_leave_teacher_loaded(teacher_ckpt):
    reference = save_teacher(teacher_ckpt)  # same weights as the file
    # a model-level init_cfg that would overwrite every conv / linear layer
    model = build_distiller(
        teacher_ckpt,
        head=dict(distill_head(), init_cfg=None),
        init_cfg=dict(type='Constant', layer=['Conv2d', 'Linear'], val=0.5))
    assert torch.all(model.head.head.weight == 0.5)  # it did run
    for key, value in reference.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value), key
    model.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    assert model.teacher(torch.randn(1, 3, 32, 32, dtype=torch.float64),
                         mode='tensor').dtype == torch.float64


def test_checkpoint_round_trip_without_teacher(teacher_ckpt):
    """Resuming reloads the teacher from teacher_ckpt, not the checkpoint;
    the checkpoint is a plain ImageClassifier checkpoint."""
    model = build_distiller(teacher_ckpt, seed=1)
    state = model.state_dict()
    resumed = build_distiller(teacher_ckpt, seed=7)
    resumed.load_state_dict(state, strict=True)
    data = model.data_preprocessor(batch(), training=True)
    model.eval()
    resumed.eval()
    a, b = model.loss(**data), resumed.loss(**data)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=student_backbone(),
             head=distill_head()))
    plain.load_state_dict(state, strict=True)
    plain.eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(plain(x), model(x))


# -------------------------------------------------------------- checkpoints
def test_missing_teacher_checkpoint_names_path_and_key(tmp_path):
    path = tmp_path / 'nowhere' / 'teacher.pth'
    with pytest.raises(FileNotFoundError) as err:
        build_distiller(path)
    assert str(path) in str(err.value)
    assert 'teacher_ckpt' in str(err.value)


def test_mismatched_teacher_checkpoint_lists_keys(tmp_path):
    path = tmp_path / 'bad.pth'

    def edit(state):
        del state['head.fc.bias']
        state['head.extra.weight'] = torch.zeros(1)
        state['backbone.conv1.weight'] = torch.zeros(4, 3, 3, 3)

    save_teacher(path, edit=edit)
    with pytest.raises(RuntimeError) as err:
        build_distiller(path)
    msg = str(err.value)
    for expected in ('missing keys (1): head.fc.bias',
                     'unexpected keys (1): head.extra.weight',
                     'shape mismatches (1): backbone.conv1.weight',
                     str(path)):
        assert expected in msg


def test_student_checkpoint_is_not_a_teacher(tmp_path, teacher_ckpt):
    path = tmp_path / 'student.pth'
    torch.save({'state_dict': build_distiller(teacher_ckpt).state_dict()},
               str(path))
    with pytest.raises(RuntimeError, match='does not match model.teacher'):
        build_distiller(path)


@pytest.mark.parametrize('wrapper', ['model', None])
def test_teacher_checkpoint_formats(tmp_path, wrapper):
    path = tmp_path / 'teacher.pth'

    def drop_counters(state):  # old checkpoints lack num_batches_tracked
        for key in [k for k in state if k.endswith('num_batches_tracked')]:
            del state[key]

    reference = save_teacher(path, wrapper=wrapper, edit=drop_counters)
    model = build_distiller(path)
    torch.testing.assert_close(model.teacher.head.fc.weight,
                               reference.head.fc.weight)


def test_classifier_rejects_bad_setups(teacher_ckpt):
    with pytest.raises(ValueError, match='model.teacher needs model.teacher_'):
        build_distiller(None)
    with pytest.raises(TypeError, match='teacher_ckpt must be the path'):
        build_distiller(3)
    # an old config's head loss would be silently unused
    with pytest.raises(ValueError, match='model.head.loss is not used'):
        build_distiller(teacher_ckpt, head=distill_head(distill_type='hard'))
    with pytest.raises(TypeError, match='model.teacher must be a model'):
        build_distiller(teacher_ckpt, teacher=torch.nn.Linear(2, 2))
    # a plain head has no head / head_dist to record
    with pytest.raises(ValueError, match=r"No module 'head.head' to record: "
                       r"'head' \(LinearClsHead\) has the children "
                       r"\[head.loss_module, head.fc\]"):
        build_distiller(
            teacher_ckpt,
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                      in_channels=TINY['embed_dims']))
    # the hard / soft loss in a plain classifier says where the teacher is
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=student_backbone(),
             head=distill_head(distill_type='hard')))
    with pytest.raises(ValueError, match='DistillationClassifier'):
        plain.loss(torch.randn(2, 3, 32, 32),
                   batch(2)['data_samples'])


def test_headless_teacher_has_no_head_to_record(tmp_path):
    headless = dict(TEACHER, head=None)
    path = tmp_path / 'headless.pth'
    torch.save(MODELS.build(headless).state_dict(), str(path))
    with pytest.raises(ValueError) as err:
        build_distiller(path, teacher=headless)
    msg = str(err.value)
    assert "No module 'teacher.head'" in msg
    assert 'teacher.backbone' in msg and 'teacher.neck' in msg


# --------------------------------------------------------------------- head
def test_inference_averages_the_two_heads():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='ImageClassifier', backbone=student_backbone(),
             head=distill_head()))
    model.init_weights()
    model.eval()
    x = torch.randn(3, 3, 32, 32)
    cls_token, dist_token = model.extract_feat(x)[-1]
    expected = (model.head.head(cls_token) +
                model.head.head_dist(dist_token)) / 2
    assert torch.equal(model(x), expected)
    assert not torch.allclose(model.head.head(cls_token), expected)
    preds = model.predict(x)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]), expected.softmax(1))
    assert [int(p.pred_label) for p in preds] == \
        expected.argmax(1).tolist()


def test_head_default_init_and_args():
    head = MODELS.build(distill_head())
    assert isinstance(head, DeiTDistillHead)
    assert head.head.weight.shape == (NUM_CLASSES, TINY['embed_dims'])
    big = DeiTDistillHead(num_classes=100, in_channels=64)
    big.init_weights()
    for fc in (big.head, big.head_dist):
        assert torch.all(fc.bias == 0)
        assert 0.017 < fc.weight.std() < 0.023
    with pytest.raises(ValueError, match='positive integer'):
        DeiTDistillHead(num_classes=0, in_channels=8)


def test_head_rejects_non_distilled_backbone():
    model = MODELS.build(
        dict(type='ImageClassifier', backbone=student_backbone(False),
             head=distill_head()))
    with pytest.raises(TypeError, match='Set distilled=True'):
        model(torch.randn(1, 3, 32, 32))


# ---------------------------------------------------------- timm parity
@functools.lru_cache(maxsize=None)
def timm_reference(timm_name, img_size):
    """State dict, input and eval output of a random timm distilled DeiT
    (built once per arch: the fused and explicit tests share it)."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model(timm_name, pretrained=False, img_size=img_size)
    ref.eval()
    x = torch.randn(2, 3, img_size, img_size)
    with torch.no_grad():
        expected = ref(x)  # eval: (head(cls) + head_dist(dist)) / 2
    return ref.state_dict(), ref.embed_dim, x, expected


@pytest.mark.parametrize('arch, timm_name, img_size', [
    ('deit-tiny', 'deit_tiny_distilled_patch16_224', 224),
    ('deit-small', 'deit_small_distilled_patch16_224', 96),
    ('deit-base', 'deit_base_distilled_patch16_224', 64),
])
@pytest.mark.parametrize('fused_attn', [True, False])
def test_distilled_timm_parity(arch, timm_name, img_size, fused_attn):
    state, dims, x, expected = timm_reference(timm_name, img_size)
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DeiT', arch=arch,
                           img_size=img_size, distilled=True,
                           fused_attn=fused_attn),
             head=dict(type='mmvitplug.DeiTDistillHead', num_classes=1000,
                       in_channels=dims)))
    model.load_state_dict(convert_deit(state), strict=True)
    model.eval()
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_registered_names():
    assert PLUGIN_MODELS.get(
        'DistillationClassifier') is DistillationClassifier
    assert PLUGIN_MODELS.get('ConfigurableDistiller') is ConfigurableDistiller
    assert PLUGIN_MODELS.get('DeiTDistillHead') is DeiTDistillHead
    assert PLUGIN_MODELS.get('DeiTDistillLoss') is DeiTDistillLoss


def test_timm_teacher_loads_from_converted_official_checkpoint(tmp_path):
    """The recipe of the ImageNet configs: a timm convnet teacher in an
    ImageClassifier (TIMMBackbone + GlobalAveragePooling + LinearClsHead),
    loaded from a timm-layout checkpoint whose 'head.fc.*' keys stay and
    whose other keys get 'backbone.timm_model.'; its logits are timm's."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model('regnetx_002', num_classes=NUM_CLASSES).eval()
    converted = {(k if k.startswith('head.fc.') else
                  'backbone.timm_model.' + k): v
                 for k, v in ref.state_dict().items()}
    path = tmp_path / 'regnet_teacher.pth'
    torch.save({'state_dict': converted}, str(path))
    teacher = dict(
        type='ImageClassifier',
        backbone=dict(type='TIMMBackbone', model_name='regnetx_002'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=ref.num_features))
    model = build_distiller(path, teacher=teacher)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = ref(x)
    with torch.no_grad():
        got = model.teacher(x, mode='tensor')
    torch.testing.assert_close(got, expected)


def test_imagenet_configs_resolve():
    """Every ImageNet config parses and names registered modules."""
    root = REPO_ROOT
    files = sorted(glob.glob(osp.join(root, 'configs/deit/*_in1k.py')))
    assert len(files) >= 9

    def types(node):
        if isinstance(node, dict):
            if isinstance(node.get('type'), str):
                yield node['type']
            for key, value in node.items():
                if key != 'init_cfg':  # weight initialisers, not models
                    yield from types(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                yield from types(value)

    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for path in files:
            cfg = Config.fromfile(path)
            assert cfg.default_scope == 'mmpretrain'
            assert cfg.custom_imports['imports'] == ['mmvitplug']
            assert cfg.auto_scale_lr == dict(base_batch_size=512,
                                             enable=True)
            for name in types(cfg.model):
                assert MODELS.get(name) is not None, (path, name)
            if 'Distillation' in cfg.model.type:
                assert cfg.model.teacher_ckpt
                assert cfg.model.backbone.distilled
