# Copyright (c) mmvitplug contributors.
"""The distillation framework: recorders, connectors, losses with state, the
frozen teacher (loading, deep copies), the loss protocol and its errors."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.models.distill import (ConfigurableDistiller, ConvConnector,
                                      DistillationClassifier, LinearConnector,
                                      build_recorder)
from mmvitplug.models.losses import call_loss, get_targets

NUM_CLASSES = 5
# student: a tiny DeiT whose last output is its 4x4 feature map
STUDENT = dict(
    backbone=dict(
        type='mmvitplug.DeiT', img_size=32, patch_size=8, out_type='featmap',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=32))
# teacher: a small CIFAR ResNet, layer4 gives (N, 64, 4, 4) on 32x32 images
TEACHER = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=64))


class FeatureMSE(nn.Module):
    """A hint loss: mean squared error of two feature maps."""

    def forward(self, student, teacher):
        return F.mse_loss(student, teacher)


class CenteredKD(nn.Module):
    """A loss with state, as DINO's: cross-entropy against the teacher's
    centred softmax; the centre is a buffer updated after every call."""

    def __init__(self, num_classes: int, momentum: float = 0.9):
        super().__init__()
        self.momentum = momentum
        self.register_buffer('center', torch.zeros(num_classes))

    def forward(self, student, teacher):
        target = (teacher - self.center).softmax(dim=1)
        loss = -(target * student.log_softmax(dim=1)).sum(dim=1).mean()
        with torch.no_grad():
            self.center.mul_(self.momentum).add_(
                teacher.mean(dim=0), alpha=1 - self.momentum)
        return loss


def save_teacher(path, seed=0, cfg=TEACHER):
    torch.manual_seed(seed)
    teacher = MODELS.build(copy.deepcopy(cfg))
    teacher.init_weights()
    torch.save({'state_dict': teacher.state_dict()}, str(path))
    return teacher


@pytest.fixture
def teacher_ckpt(tmp_path):
    path = tmp_path / 'teacher.pth'
    save_teacher(path)
    return path


def hint_distiller(**overrides):
    cfg = dict(
        recorders=dict(
            logits=dict(source='head'),
            feat=dict(source='backbone', index=-1),
            teacher_feat=dict(source='teacher.backbone.layer4')),
        connectors=dict(
            hint=dict(type='mmvitplug.ConvConnector', in_channels=32,
                      out_channels=64)),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0),
            loss_hint=FeatureMSE()),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_hint=dict(
                student=dict(recorder='feat', connector='hint'),
                teacher='teacher_feat')))
    cfg.update(overrides)
    return cfg


def build(teacher_ckpt, distiller=None, seed=1, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(
        type='mmvitplug.DistillationClassifier',
        teacher=copy.deepcopy(TEACHER),
        teacher_ckpt=str(teacher_ckpt),
        distiller=distiller if distiller is not None else hint_distiller(),
        data_preprocessor=dict(
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3),
        **copy.deepcopy(STUDENT))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[
            torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
            for _ in range(n)
        ],
        data_samples=[
            DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)
        ])


# ------------------------------------------------------------ loss protocol
def test_get_targets():
    labels = [DataSample().set_gt_label(i) for i in (3, 1)]
    assert torch.equal(get_targets(labels), torch.tensor([3, 1]))
    scores = torch.tensor([[0.3, 0.7], [1.0, 0.0]])
    mixed = [DataSample().set_gt_score(s) for s in scores]
    assert torch.equal(get_targets(mixed), scores)
    with pytest.raises(ValueError, match='at least one'):
        get_targets([])


def test_call_loss():
    x = torch.tensor([1., 2.])
    out = call_loss('loss_a', FeatureMSE(), dict(student=x, teacher=x * 0))
    assert out == {'loss_a': torch.tensor(2.5)}

    class Terms(nn.Module):

        def forward(self, x, name='loss_b'):
            return {name: x.sum()}

    assert set(call_loss('ignored', Terms(), dict(x=x))) == {'loss_b'}
    with pytest.raises(ValueError, match=r"\['acc'\].*never optimise"):
        call_loss('q', Terms(), dict(x=x, name='acc'))
    with pytest.raises(ValueError, match='never optimise'):
        call_loss('hint', FeatureMSE(), dict(student=x, teacher=x))
    with pytest.raises(TypeError, match=r"inputs \['preds'\], which do not "
                       r'fit its forward\(student, teacher\)'):
        call_loss('loss_a', FeatureMSE(), dict(preds=x))

    class NotALoss(nn.Module):

        def forward(self, x):
            return [x]

    with pytest.raises(TypeError, match='must return a tensor or a dict'):
        call_loss('loss_c', NotALoss(), dict(x=x))

    class Broken(nn.Module):

        def forward(self, x):
            return (x + None).sum()

    # a TypeError raised inside the maths is not disguised
    with pytest.raises(TypeError, match='unsupported operand'):
        call_loss('loss_a', Broken(), dict(x=x))


# ---------------------------------------------------------------- recorders
class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.second = nn.Linear(4, 2)

    def forward(self, x):
        h = self.first(x)
        return self.second(h), h


def test_recorders_record_outputs_and_inputs_while_recording():
    student, teacher = Toy(), Toy()
    distiller = ConfigurableDistiller(
        recorders=dict(
            out=dict(source='second'),
            whole=dict(source='teacher', index=1),
            inp=dict(type='ModuleInputs', source='teacher.second', index=0)),
        losses=dict(loss_x=FeatureMSE(), loss_y=FeatureMSE()),
        loss_inputs=dict(
            loss_x=dict(student='out', teacher='whole'),
            loss_y=dict(student='inp', teacher='inp')))
    distiller.prepare({'': student, 'teacher': teacher})
    x = torch.randn(2, 3)
    student(x)  # not recording: nothing kept
    assert all(not r.calls for r in distiller.recorders.values())
    with distiller.recording():
        out, _ = student(x)
        _, hidden = teacher(x)
        rec = distiller.recorders
        assert torch.equal(rec['out'].data, out)
        assert torch.equal(rec['whole'].data, hidden)  # element 1
        assert torch.equal(rec['inp'].data, hidden)  # input of second
        with pytest.raises(RuntimeError, match="'second'.*ran 2 times"):
            student(x)
            rec['out'].data
    # records are dropped when recording ends
    assert all(not r.calls for r in distiller.recorders.values())
    with distiller.recording():
        with pytest.raises(RuntimeError, match='did not run'):
            distiller.recorders['out'].data
    with pytest.raises(RuntimeError, match='already prepared'):
        distiller.prepare({'': student, 'teacher': teacher})


def test_recorder_bad_configs():
    with pytest.raises(ValueError, match=r"choose from \['AttentionRelations"
                       r"', 'ModuleInputs', 'ModuleOutputs'\]"):
        build_recorder(dict(type='MethodOutputs', source='head'))
    with pytest.raises(TypeError, match='source=<module path>'):
        build_recorder(dict(source=''))
    with pytest.raises(TypeError, match='int or a str'):
        build_recorder(dict(source='head', index=0.5))
    recorder = build_recorder(dict(source='head', index=3))
    recorder.active = True
    with pytest.raises(IndexError, match="element 3 of a tuple"):
        recorder._forward_hook(None, (), (1, 2))


def test_bad_recorder_paths_list_nearby_modules(teacher_ckpt):
    bad = hint_distiller()
    bad['recorders']['teacher_feat'] = dict(
        source='teacher.backbone.layer5')
    with pytest.raises(ValueError) as err:
        build(teacher_ckpt, distiller=bad)
    msg = str(err.value)
    assert "No module 'teacher.backbone.layer5'" in msg
    assert "'teacher.backbone' (ResNet_CIFAR)" in msg
    assert 'teacher.backbone.layer4' in msg  # a child and a close name
    bad['recorders']['teacher_feat'] = dict(source='backbone.blockz.1')
    with pytest.raises(ValueError, match=r"'backbone' \(DeiT\) has the "
                       r'children \[.*backbone.blocks'):
        build(teacher_ckpt, distiller=bad)


@pytest.mark.parametrize('edit, error, match', [
    (lambda d: d['loss_inputs']['loss_hint'].update(teacher='teacher_fc'),
     ValueError, r"loss_hint.teacher: unknown recorder 'teacher_fc'; the "
     r"recorders are \['feat', 'logits', 'teacher_feat'\]"),
    (lambda d: d['loss_inputs']['loss_hint'].update(
        student=dict(recorder='feat', connector='proj')),
     ValueError, r"unknown connector 'proj'; the connectors are \['hint'\]"),
    (lambda d: d['loss_inputs']['loss_hint'].update(
        student=dict(source='feat')),
     ValueError, 'keys recorder and'),
    (lambda d: d['loss_inputs'].pop('loss_hint'),
     ValueError, "no entry for loss 'loss_hint'"),
    (lambda d: d['loss_inputs'].update(loss_kd=dict(x='logits')),
     ValueError, r"names \['loss_kd'\], which are not losses"),
    (lambda d: d['loss_inputs']['loss_hint'].update(preds='logits'),
     TypeError, r'does not fit FeatureMSE.forward\(student, teacher\)'),
    (lambda d: d['recorders'].update(targets=dict(source='head')),
     ValueError, "'targets' is the batch targets"),
    (lambda d: d.update(recorders={}),
     TypeError, 'distiller.recorders must be a non-empty dict'),
    (lambda d: d['losses'].update(loss_cls='CrossEntropyLoss'),
     TypeError, 'distiller.losses.loss_cls must be a config dict'),
    (lambda d: d['recorders'].update(extra=dict(source='head.fc')),
     ValueError, r"distiller.recorders \['extra'\] feed no loss"),
    (lambda d: d['connectors'].update(
        proj=dict(type='mmvitplug.LinearConnector', in_channels=2,
                  out_channels=2)),
     ValueError, r"distiller.connectors \['proj'\] feed no loss"),
])
def test_bad_distiller_configs(teacher_ckpt, edit, error, match):
    cfg = hint_distiller()
    edit(cfg)
    with pytest.raises(error, match=match):
        build(teacher_ckpt, distiller=cfg)


def test_duplicate_loss_terms_are_refused(teacher_ckpt):
    cfg = hint_distiller(
        recorders=dict(logits=dict(source='head')),
        connectors=None,
        losses=dict(loss_cls=dict(type='CrossEntropyLoss'),
                    loss_other=dict(type='mmvitplug.DeiTDistillLoss',
                                    distill_type='none')),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_other=dict(cls_logits='logits', dist_logits='logits',
                            target='targets')))
    model = build(teacher_ckpt, distiller=cfg)
    # DeiTDistillLoss gives loss_cls too
    with pytest.raises(ValueError, match="term 'loss_cls'.*another loss"):
        model.loss(**model.data_preprocessor(batch(), training=True))


# --------------------------------------------------- features + connectors
def test_feature_hint_through_a_connector(teacher_ckpt):
    model = build(teacher_ckpt)
    data = model.data_preprocessor(batch(), training=True)
    model.train()
    losses = model.loss(**data)
    assert set(losses) == {'loss_cls', 'loss_hint'}
    inputs = data['inputs']
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    with torch.no_grad():
        student_feat = model.backbone(inputs)[-1]
        teacher_feat = model.teacher.backbone(inputs)[-1]  # layer4
        logits = model(inputs, mode='tensor')
    assert student_feat.shape == (4, 32, 4, 4)
    assert teacher_feat.shape == (4, 64, 4, 4)
    hint = model.distiller.connectors['hint']
    torch.testing.assert_close(
        losses['loss_hint'], F.mse_loss(hint(student_feat), teacher_feat))
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(logits, labels))
    # the hint trains the connector and the student, never the teacher
    model.zero_grad()
    losses['loss_hint'].backward()
    assert hint.conv.weight.grad.abs().sum() > 0
    assert model.backbone.pos_embed.grad.abs().sum() > 0
    assert model.head.fc.weight.grad is None
    assert all(p.grad is None for p in model.teacher.parameters())
    # the connector is trained and saved with the student
    ids = {id(p) for p in model.parameters()}
    assert id(hint.conv.weight) in ids
    assert 'distiller.connectors.hint.conv.weight' in model.state_dict()
    before = hint.conv.weight.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(batch(), optim)
    assert not torch.equal(hint.conv.weight, before)


def test_connectors():
    torch.manual_seed(0)
    linear = LinearConnector(8, 4)
    tokens = torch.randn(2, 5, 8)
    torch.testing.assert_close(
        linear(tokens), tokens @ linear.proj.weight.T + linear.proj.bias)
    assert LinearConnector(8, 4, bias=False).proj.bias is None
    conv = ConvConnector(8, 4, kernel_size=3)
    maps = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(
        conv(maps), F.conv2d(maps, conv.conv.weight, conv.conv.bias,
                             padding=1))
    with pytest.raises(ValueError, match='odd'):
        ConvConnector(8, 4, kernel_size=2)
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        conv(tokens)


# ---------------------------------------------------------- loss with state
def test_loss_state_lives_in_buffers(teacher_ckpt):
    """A loss's buffer (a DINO-like centre) is in the state dict, follows
    .to(), is updated by training and comes back on resume; it is not a
    parameter."""

    def centred(num_classes=NUM_CLASSES):
        return hint_distiller(
            losses=dict(loss_center=CenteredKD(num_classes)),
            loss_inputs=dict(
                loss_center=dict(student='logits', teacher='teacher_logits')),
            recorders=dict(
                logits=dict(source='head'),
                teacher_logits=dict(source='teacher.head')),
            connectors=None)

    model = build(teacher_ckpt, distiller=centred())
    loss = model.distiller.losses['loss_center']
    key = 'distiller.losses.loss_center.center'
    assert key in model.state_dict()
    assert all(p is not loss.center for p in model.parameters())
    data = model.data_preprocessor(batch(), training=True)
    with torch.no_grad():
        teacher_logits = model.teacher(data['inputs'], mode='tensor')
    model.loss(**data)
    torch.testing.assert_close(loss.center, 0.1 * teacher_logits.mean(0))
    # resuming restores the centre
    resumed = build(teacher_ckpt, distiller=centred(), seed=3)
    assert not resumed.distiller.losses['loss_center'].center.any()
    resumed.load_state_dict(model.state_dict())
    torch.testing.assert_close(
        resumed.distiller.losses['loss_center'].center, loss.center)
    # the buffer moves with the model
    model.to(torch.float64)
    assert model.state_dict()[key].dtype == torch.float64
    assert loss.center.dtype == torch.float64


# ------------------------------------------------------- the frozen teacher
def test_teacher_outside_deep_copies_and_ema(teacher_ckpt):
    model = build(teacher_ckpt)
    clone = copy.deepcopy(model)
    assert clone.teacher is model.teacher  # shared, never cloned
    assert clone.backbone is not model.backbone
    ema = ExponentialMovingAverage(model, momentum=0.5)
    assert ema.module.teacher is model.teacher
    assert set(ema.module.state_dict()) == set(model.state_dict())
    assert not any(k.startswith('teacher') for k in ema.state_dict())
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    ema.update_parameters(model)  # the first update copies
    model.train_step(batch(), optim)
    ema.update_parameters(model)  # then it averages
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    # the averaged student differs from the trained one, the copy records
    # nothing (it only serves inference) and predicts
    assert not torch.equal(ema.module.backbone.pos_embed,
                           model.backbone.pos_embed)
    x = torch.randn(2, 3, 32, 32)
    assert ema.module(x, mode='tensor').shape == (2, NUM_CLASSES)
    # training the original still works after the copies
    assert set(model.train_step(batch(), optim)) >= {'loss_cls', 'loss_hint'}


def test_teacher_is_frozen_and_outside_the_student(teacher_ckpt):
    model = build(teacher_ckpt)
    model.train()
    assert not model.teacher.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert 'teacher' not in dict(model.named_children())
    assert not any('teacher' in k for k in model.state_dict())
    student_keys = set(MODELS.build(
        dict(type='ImageClassifier', **copy.deepcopy(STUDENT))).state_dict())
    # the student's keys plus the connector's, nothing of the teacher
    assert set(model.state_dict()) - student_keys == {
        'distiller.connectors.hint.conv.weight',
        'distiller.connectors.hint.conv.bias'
    }
    assert isinstance(model, DistillationClassifier)


def test_teacher_from_official_layout_and_url(tmp_path, monkeypatch):
    """An mmvitplug-backbone teacher loads from the official / timm layout
    (converted by its backbone's converter), also from an URL."""
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model('deit_tiny_patch16_224', img_size=32,
                            num_classes=NUM_CLASSES).eval()
    path = tmp_path / 'deit_tiny_official.pth'
    torch.save({'model': ref.state_dict()}, str(path))
    teacher = dict(
        type='ImageClassifier',
        backbone=dict(type='mmvitplug.DeiT', arch='deit-tiny', img_size=32),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=192))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = ref(x)
    distiller = dict(
        recorders=dict(
            logits=dict(source='head'),
            teacher_logits=dict(source='teacher.head')),
        losses=dict(loss_kd=CenteredKD(NUM_CLASSES)),
        loss_inputs=dict(
            loss_kd=dict(student='logits', teacher='teacher_logits')))
    model = build(path, teacher=teacher, distiller=copy.deepcopy(distiller))
    with torch.no_grad():
        torch.testing.assert_close(model.teacher(x, mode='tensor'), expected,
                                   rtol=1e-4, atol=1e-4)

    url = 'https://example.org/deit_tiny_official.pth'
    asked = []

    def fake_download(address, **kwargs):
        asked.append(address)
        return torch.load(str(path), weights_only=True)

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', fake_download)
    model = build(url, teacher=teacher, distiller=copy.deepcopy(distiller))
    assert asked == [url]
    with torch.no_grad():
        torch.testing.assert_close(model.teacher(x, mode='tensor'), expected,
                                   rtol=1e-4, atol=1e-4)


def test_teacher_outside_ddp(teacher_ckpt, tmp_path):
    """DDP (one gloo process) wraps and synchronises only the student."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    if dist.is_initialized():
        pytest.skip('a process group already exists')
    dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        model = build(teacher_ckpt)
        teacher_before = copy.deepcopy(model.teacher.state_dict())
        ddp = MMDistributedDataParallel(module=model)
        teacher_ids = {id(p) for p in model.teacher.parameters()}
        assert not teacher_ids & {id(p) for p in ddp.parameters()}
        optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.1))
        losses = ddp.train_step(batch(), optim)
        assert {'loss_cls', 'loss_hint'} <= set(losses)
        for key, value in model.teacher.state_dict().items():
            assert torch.equal(value, teacher_before[key]), key
    finally:
        dist.destroy_process_group()
