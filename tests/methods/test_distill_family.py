# Copyright (c) mmvitplug contributors.
"""DeiT distillation for students without a distillation token.

CaiT, ResMLP and PatchConvNet have no distillation token: their students get
a second linear head on the pooled feature (``DeiTDistillHead(
dist_feature='pooled')``) and train inside the same
``DistillationClassifier`` as DeiT, with the same frozen convnet teacher.
"""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

NUM_CLASSES = 5
STUDENTS = {
    'CaiT': dict(type='mmvitplug.CaiT', img_size=32, patch_size=8,
                 drop_path_rate=0.1,
                 arch=dict(embed_dims=32, num_layers=2, num_heads=4,
                           feedforward_channels=64, init_values=0.1,
                           num_ca_layers=1)),
    'ResMLP': dict(type='mmvitplug.ResMLP', img_size=32, patch_size=8,
                   out_type='avg_featmap', drop_path_rate=0.1,
                   arch=dict(embed_dims=32, num_layers=2,
                             feedforward_channels=64, init_values=0.1)),
    'PatchConvNet': dict(type='mmvitplug.PatchConvNet', patch_size=4,
                         drop_path_rate=0.1,
                         arch=dict(embed_dims=32, num_layers=2,
                                   init_values=0.5)),
}
TEACHER = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=64))


def save_teacher(path, seed):
    torch.manual_seed(seed)
    teacher = MODELS.build(copy.deepcopy(TEACHER))
    teacher.init_weights()
    torch.save({'state_dict': teacher.state_dict()}, str(path))


def build(student, teacher_ckpt, distill_type='hard'):
    torch.manual_seed(1)
    model = MODELS.build(
        dict(
            type='mmvitplug.DistillationClassifier',
            backbone=copy.deepcopy(STUDENTS[student]),
            head=dict(
                type='mmvitplug.DeiTDistillHead',
                num_classes=NUM_CLASSES,
                in_channels=32,
                dist_feature='pooled'),
            teacher=copy.deepcopy(TEACHER),
            teacher_ckpt=str(teacher_ckpt),
            distiller=dict(
                recorders=dict(
                    cls_logits=dict(source='head.head'),
                    dist_logits=dict(source='head.head_dist'),
                    teacher_logits=dict(source='teacher.head')),
                losses=dict(
                    loss_deit=dict(type='mmvitplug.DeiTDistillLoss',
                                   distill_type=distill_type)),
                loss_inputs=dict(
                    loss_deit=dict(
                        cls_logits='cls_logits',
                        dist_logits='dist_logits',
                        teacher_logits='teacher_logits',
                        target='targets'))),
            data_preprocessor=dict(
                num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3)))
    model.init_weights()
    return model


def batch(n=4):
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), generator=g,
                              dtype=torch.uint8) for _ in range(n)],
        data_samples=[
            DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)
        ])


@pytest.fixture(scope='module')
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp('teachers')
    paths = [root / 'a.pth', root / 'b.pth']
    save_teacher(paths[0], seed=0)
    save_teacher(paths[1], seed=7)
    return paths


@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_student_trains_against_frozen_teacher(student, teachers):
    model = build(student, teachers[0])
    teacher_before = {
        k: v.clone() for k, v in model.teacher.state_dict().items()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train()
    data = model.data_preprocessor(batch(), training=True)
    losses = model.loss(**data)
    assert set(losses) == {'loss_cls', 'loss_distill'}
    # the second head and the backbone learn from the teacher term alone
    model.zero_grad()
    losses['loss_distill'].backward()
    assert model.head.head_dist.weight.grad.abs().sum() > 0
    assert model.head.head.weight.grad is None or \
        model.head.head.weight.grad.abs().sum() == 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.backbone.parameters())
    for step in range(2):
        model.train_step(batch(), optim)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key


@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_distillation_term_depends_on_the_teacher(student, teachers):
    losses = []
    for path in teachers:
        model = build(student, path, distill_type='soft')
        data = model.data_preprocessor(batch(), training=True)
        losses.append(model.loss(**data))
    torch.testing.assert_close(losses[0]['loss_cls'], losses[1]['loss_cls'])
    assert not torch.allclose(losses[0]['loss_distill'],
                              losses[1]['loss_distill'])


@pytest.mark.parametrize('distill_type', ['hard', 'soft'])
@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_losses_are_the_formulas_on_the_pooled_feature(
        student, distill_type, teachers):
    """Both heads read the pooled feature; the terms are the DeiT formulas
    on their logits and the teacher's (alpha 0.5, tau 1)."""
    model = build(student, teachers[0], distill_type=distill_type).eval()
    data = model.data_preprocessor(batch(), training=True)
    losses = model.loss(**data)
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    with torch.no_grad():
        pooled = model.extract_feat(data['inputs'])[-1]
        cls, dist = model.head.head(pooled), model.head.head_dist(pooled)
        teacher = model.teacher(data['inputs'], mode='tensor')
    torch.testing.assert_close(losses['loss_cls'],
                               0.5 * F.cross_entropy(cls, labels))
    if distill_type == 'hard':
        expected = F.cross_entropy(dist, teacher.argmax(1))
    else:
        p_t = teacher.softmax(1)
        expected = (p_t * (p_t.log() - dist.log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(losses['loss_distill'], 0.5 * expected)


@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_inference_averages_both_heads_on_the_pooled_feature(
        student, teachers):
    model = build(student, teachers[0]).eval()
    x = torch.randn(2, 3, 32, 32)
    pooled = model.backbone(x)[-1]
    assert pooled.shape == (2, 32)
    expected = (model.head.head(pooled) + model.head.head_dist(pooled)) / 2
    torch.testing.assert_close(model(x, mode='tensor'), expected)


def test_pooled_head_rejects_token_pairs_and_bad_choice():
    from mmvitplug.models.heads import DeiTDistillHead
    head = DeiTDistillHead(NUM_CLASSES, 32, dist_feature='pooled')
    pair = (torch.randn(2, 32), torch.randn(2, 32))
    with pytest.raises(TypeError, match=r"'pooled'\) needs a pooled"):
        head((pair, ))
    with pytest.raises(ValueError, match=r"choose from \['dist_token', "
                       r"'pooled'\]"):
        DeiTDistillHead(NUM_CLASSES, 32, dist_feature='mean')
