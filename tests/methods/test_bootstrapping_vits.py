# Copyright (c) mmvitplug contributors.
"""Bootstrapping ViTs' shared mode in MutualClassifier: the agent CNN
computes with the ViT's weights, which are trained through both networks
and saved once; a deep copy (EMA) binds the copied CNN to the copied
ViT."""
import copy

import pytest
import torch

from mmvitplug.registry import MODELS

ARCH = dict(embed_dims=18, num_layers=2, num_heads=9, feedforward_channels=36)


def _student(backbone):
    return dict(
        backbone=backbone,
        head=dict(type='LinearClsHead', num_classes=4, in_channels=18))


def _model(share_weights=dict(cnn='vit'), shared=True):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='mmvitplug.MutualClassifier',
             students=dict(
                 vit=_student(dict(type='mmvitplug.DeiT', arch=ARCH,
                                   img_size=32, patch_size=8)),
                 cnn=_student(dict(type='mmvitplug.AgentCNN', arch=ARCH,
                                   patch_size=8, shared=shared))),
             share_weights=share_weights,
             distiller=dict(
                 recorders=dict(cnn=dict(source='students.cnn.head.fc')),
                 losses=dict(loss_cnn=dict(type='CrossEntropyLoss')),
                 loss_inputs=dict(
                     loss_cnn=dict(cls_score='cnn', label='targets')))))


def _samples(n):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(i % 4) for i in range(n)]


def test_shared_agent_trains_the_vit_weights_once():
    model = _model()
    vit, cnn = model.students.vit.backbone, model.students.cnn.backbone
    losses = model.loss(torch.randn(2, 3, 32, 32), _samples(2))
    losses['loss_cnn'].backward()
    # the CNN's loss reaches the ViT's value / output and MLP weights
    qkv = vit.blocks[0].attn.qkv.weight.grad
    assert qkv[36:].abs().sum() > 0  # the value third
    assert qkv[:36].abs().sum() == 0  # queries and keys play no part
    for name in ('attn.proj.weight', 'mlp.fc1.weight', 'mlp.fc2.weight'):
        assert vit.blocks[1].get_parameter(name).grad.abs().sum() > 0, name
    # each parameter once: in the ViT, not in the CNN
    keys = model.state_dict().keys()
    assert not any(k.startswith('students.cnn.backbone.blocks') and
                   ('qkv' in k or 'fc1' in k) for k in keys)
    params = list(model.parameters())
    assert len(params) == len({id(p) for p in params})
    assert sum(p.numel() for p in cnn.parameters()) < \
        sum(p.numel() for p in vit.parameters()) / 2  # norms, stem only


def test_an_ema_copy_binds_its_cnn_to_its_vit():
    model = _model().eval()
    x = torch.randn(2, 3, 32, 32)
    ema = copy.deepcopy(model)
    before = model.students.cnn(x, mode='tensor')
    with torch.no_grad():
        ema.students.vit.backbone.blocks[0].attn.proj.weight.mul_(3.)
    torch.testing.assert_close(model.students.cnn(x, mode='tensor'), before)
    assert not torch.allclose(ema.students.cnn(x, mode='tensor'), before)


@pytest.mark.parametrize('share,match', [
    (dict(cnn='resnet'), "names the student 'resnet'; the students are"),
    (dict(cnn='cnn'), 'cannot share the weights of itself'),
    (dict(vit='cnn'), r'student .vit. \(DeiT\) cannot compute with'),
])
def test_share_weights_errors(share, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _model(share_weights=share)


def test_joint_agent_refuses_to_share():
    with pytest.raises(RuntimeError, match='needs AgentCNN\\(shared=True\\)'):
        _model(shared=False)
