# Copyright (c) mmvitplug contributors.
"""Locality guidance (Li et al., ECCV 2022,
https://arxiv.org/abs/2207.10026) as configs of the distillation machinery:
the configs' loss terms are the official formula (lkhl/tiny-transformers,
``pycls/models/distill.py`` and ``pycls/core/trainer.py``), the teacher
stays frozen in eval mode, the 1x1-conv connectors train, and the CIFAR-100
config has the official guidance pairs, weight and teacher input size."""
import os.path as osp

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from _builders import REPO_ROOT

DIGITS = 'configs/bundled/locality_guidance/lg-deit-4l192d-p8_1xb16_digits.py'
CIFAR = 'configs/locality_guidance/lg-deit-tiny_1xb128-300e_cifar100.py'
#: configs/deit/deit-ti_c100_ours.yaml: INTER_STUDENT_INDEX,
#: INTER_TEACHER_INDEX, INTER_WEIGHT, TEACHER_IMG_SIZE
OFFICIAL = dict(student=[0, 6, 11], teacher=[0, 1, 2], weight=2.5,
                teacher_size=32)
#: the digits analogue: first, middle, last of 4 blocks; the student's
#: 32 px is the teacher's, no resize
DIGITS_PAIRS = dict(student=[0, 2, 3], teacher=[0, 1, 2], weight=2.5,
                    teacher_size=None)


def build(config, tmp_path):
    """The config's model, with a random teacher checkpoint (BN running
    statistics perturbed, so that a teacher out of eval mode would differ),
    and the config; the teacher as loaded from it, in eval mode."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.teacher)
    teacher.init_weights()
    for m in teacher.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    torch.manual_seed(1)
    model = MODELS.build(
        dict(cfg.model, teacher_ckpt=ckpt,
             data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    return cfg, model, teacher.eval()


def batch(num_classes, size, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[
            torch.randint(0, 256, (3, size, size), generator=g,
                          dtype=torch.uint8) for _ in range(n)
        ],
        data_samples=[
            DataSample().set_gt_label(i % num_classes) for i in range(n)
        ])


def official_losses(model, teacher, inputs, labels, student, teacher_idx,
                    weight, teacher_size):
    """The official loss terms, written out: CE on the labels; for each
    pair, the student block's tokens without the class token laid out
    (N, C, H, W) as ``DeiT._feature_hook``, the pair's 1x1 conv, the
    teacher's stage output on the input bilinearly resized to
    ``teacher_size``, both bilinearly resized to the larger grid, MSE, x
    ``weight`` (``DistillationWrapper.guidance_loss``)."""
    feats_s, feats_t = {}, {}
    hooks = [
        model.backbone.blocks[i].register_forward_hook(
            lambda m, a, out, i=i: feats_s.__setitem__(i, out))
        for i in student
    ] + [
        getattr(teacher.backbone, f'layer{j + 1}').register_forward_hook(
            lambda m, a, out, j=j: feats_t.__setitem__(j, out))
        for j in teacher_idx
    ]
    try:
        logits = model(inputs, mode='tensor')
        x = inputs if teacher_size is None else F.interpolate(
            inputs, size=(teacher_size, teacher_size), mode='bilinear',
            align_corners=False)
        with torch.no_grad():
            teacher(x, mode='tensor')
    finally:
        for hook in hooks:
            hook.remove()
    terms = dict(loss_cls=F.cross_entropy(logits, labels))
    for k, (i, j) in enumerate(zip(student, teacher_idx)):
        tokens = feats_s[i]
        n, length, c = tokens.shape
        side = int((length - 1)**0.5)
        feat_s = tokens[:, 1:].reshape(n, side, side, c).permute(0, 3, 1, 2)
        conv = model.distiller.connectors[f'proj{k}'].conv
        feat_s = F.conv2d(feat_s, conv.weight, conv.bias)
        feat_t = feats_t[j]
        size = (max(feat_t.size(-2), feat_s.size(-2)),
                max(feat_t.size(-1), feat_s.size(-1)))
        feat_t = F.interpolate(
            feat_t, size, mode='bilinear', align_corners=False)
        feat_s = F.interpolate(
            feat_s, size, mode='bilinear', align_corners=False)
        terms[f'loss_lg{k}'] = weight * (feat_t - feat_s).pow(2).mean()
    return terms


def check_official_formula(model, teacher, data, pairs):
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    with torch.no_grad():
        losses = model.loss(**data)
        expected = official_losses(model, teacher, data['inputs'], labels,
                                   pairs['student'], pairs['teacher'],
                                   pairs['weight'], pairs['teacher_size'])
    assert set(losses) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, msg=key)
    assert all(losses[k] > 0 for k in losses)
    return losses


def test_digits_losses_are_the_official_formula(tmp_path):
    _, model, teacher = build(DIGITS, tmp_path)
    data = model.data_preprocessor(batch(10, 32), training=True)
    check_official_formula(model, teacher, data, DIGITS_PAIRS)
    assert model.teacher_input_size is None  # trained at 32 px too


def test_teacher_stays_frozen_and_connectors_train(tmp_path):
    cfg, model, _ = build(DIGITS, tmp_path)
    model.train()
    teacher = model.teacher
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    convs = {
        name: connector.conv
        for name, connector in model.distiller.connectors.items()
        if hasattr(connector, 'conv')
    }
    assert sorted(convs) == ['proj0', 'proj1', 'proj2']
    start = {name: conv.weight.detach().clone()
             for name, conv in convs.items()}
    # the guidance terms reach the connectors (and only the student)
    data = model.data_preprocessor(batch(10, 32), training=True)
    losses = model.loss(**data)
    sum(v for k, v in losses.items() if k.startswith('loss_lg')).backward()
    for name, conv in convs.items():
        assert conv.weight.grad.abs().sum() > 0, name
    assert model.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    model.zero_grad()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    trained = {id(p) for group in optim.param_groups for p in group['params']}
    model.train_step(batch(10, 32), optim)
    # the teacher: eval mode, no gradients, not one tensor changed (BN
    # running statistics included), not trained nor saved
    assert not any(m.training for m in teacher.modules())
    assert not any(p.requires_grad for p in teacher.parameters())
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not trained & {id(p) for p in teacher.parameters()}
    assert not any(k.startswith('teacher') for k in model.state_dict())
    # the connectors: optimised, changed by the step, saved
    for name, conv in convs.items():
        assert {id(conv.weight), id(conv.bias)} <= trained
        assert not torch.equal(conv.weight, start[name]), name
        assert f'distiller.connectors.{name}.conv.weight' in \
            model.state_dict()


def test_cifar_config_is_the_official_recipe(tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CIFAR))
    model_cfg = cfg.model
    distiller = model_cfg.distiller
    assert model_cfg.teacher_input_size == OFFICIAL['teacher_size']
    assert model_cfg.backbone.arch == 'deit-tiny'  # 224 px, 16 px patches
    assert model_cfg.backbone.drop_path_rate == 0.1
    for k, (i, j) in enumerate(zip(OFFICIAL['student'],
                                   OFFICIAL['teacher'])):
        assert distiller.recorders[f's{k}'].source == f'backbone.blocks.{i}'
        assert distiller.recorders[f't{k}'].source == \
            f'teacher.backbone.layer{j + 1}'
        assert distiller.losses[f'loss_lg{k}'] == dict(
            type='mmvitplug.HintLoss', loss_weight=OFFICIAL['weight'])
    assert distiller.losses.loss_cls == dict(
        type='CrossEntropyLoss', loss_weight=1.0)
    # the teacher's stages: 16 / 32 / 64 channels, as ResNet-56's
    assert [distiller.connectors[f'proj{k}'].out_channels
            for k in range(3)] == [16, 32, 64]
    # built, the losses are the official formula at 224 px (the resize
    # sizes fit the maps: the reference takes the larger grids from them)
    _, model, teacher = build(CIFAR, tmp_path)
    model.eval()  # no stochastic depth: a deterministic student
    data = model.data_preprocessor(batch(100, 224, n=2), training=False)
    check_official_formula(model, teacher, data, OFFICIAL)
