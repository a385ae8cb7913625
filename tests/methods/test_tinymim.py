# Copyright (c) mmvitplug contributors.
"""TinyMIM: relation distillation equals the official code (golden losses
and gradients), the relations' head split, the configs' teacher / student
pairing, and fine-tuning configs that load what pre-training exports."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmvitplug.models.backbones import DeiT
from mmvitplug.models.distill.recorders import build_recorder
from mmvitplug.registry import MODELS
from mmvitplug.utils.export import export_backbone
from _builders import REPO_ROOT

GOLDEN = osp.join(osp.dirname(osp.dirname(__file__)), 'data',
                  'tinymim_golden.pt')
# golden models (official OliverRensu/TinyMIM models_tinymim.TinyMIMViT and
# models_teacher.MaskedAutoencoderViT, drop path 0): a 12-block student of
# 16 dims and 2 heads whose last block has 4 (last_heads=4), a 3-block
# teacher of 32 dims and 4 heads distilled at its 2nd block
# (intermediate=2); 32 px images, 8 px patches. The file holds both state
# dicts (official layout), the student's (jittered) and the teacher's
# views, the qk / vv losses and the student's gradients of (qk + vv).
STUDENT = dict(embed_dims=16, num_layers=12, num_heads=2,
               feedforward_channels=32)
TEACHER = dict(embed_dims=32, num_layers=3, num_heads=4,
               feedforward_channels=64)


def _distiller(student_block, teacher_block, heads, teacher_path='layers'):
    source = f'teacher.backbone.{teacher_path}.{teacher_block}.attn'
    return dict(
        recorders=dict(
            student=dict(type='AttentionRelations', num_heads=heads,
                         source=f'backbone.blocks.{student_block}.attn'),
            teacher=dict(type='AttentionRelations', source=source)),
        losses=dict(loss_qk=dict(type='mmvitplug.RelationKLLoss'),
                    loss_vv=dict(type='mmvitplug.RelationKLLoss')),
        loss_inputs=dict(
            loss_qk=dict(preds=dict(recorder='student', key='qk'),
                         target=dict(recorder='teacher', key='qk')),
            loss_vv=dict(preds=dict(recorder='student', key='vv'),
                         target=dict(recorder='teacher', key='vv'))))


def _samples(n):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(0) for _ in range(n)]


# ------------------------------------------------------------ golden parity
def test_matches_the_official_code(tmp_path):
    """Our DistillationClassifier with a plain 2-head student whose last
    block's relations are split into 4 heads (recorder ``num_heads``) gives
    the official losses and gradients of a student built with
    ``last_heads=4``."""
    golden = torch.load(GOLDEN, map_location='cpu')
    teacher_ckpt = str(tmp_path / 'mae.pth')
    torch.save({'model': golden['teacher']}, teacher_ckpt)  # official
    model = MODELS.build(
        dict(type='mmvitplug.DistillationClassifier',
             backbone=dict(type='mmvitplug.DeiT', arch=STUDENT, img_size=32,
                           patch_size=8),
             head=None,
             teacher=dict(type='ImageClassifier',
                          backbone=dict(type='mmvitplug.DeiT', arch=TEACHER,
                                        img_size=32, patch_size=8,
                                        out_indices=1),
                          head=None),
             teacher_ckpt=teacher_ckpt,
             distiller=_distiller(11, 1, 4, teacher_path='blocks')))
    from mmvitplug.converters import convert_deit
    student = convert_deit(golden['student'])
    missing, unexpected = model.load_state_dict(student, strict=False)
    assert not unexpected and all(k.startswith('distiller') or
                                  not k.startswith('backbone')
                                  for k in missing), missing
    model.train()
    losses = model.loss([golden['img_student'], golden['img_teacher']],
                        _samples(2))
    torch.testing.assert_close(losses['loss_qk'], golden['loss_qk'],
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_vv'], golden['loss_vv'],
                               rtol=1e-5, atol=1e-6)
    (losses['loss_qk'] + losses['loss_vv']).backward()
    for name, grad in golden['grads'].items():
        ours = model.backbone.get_parameter(name).grad
        torch.testing.assert_close(ours, grad, rtol=1e-4, atol=1e-7,
                                   msg=name)
    # the student's last block's own output, norm: no gradient (unused)
    assert model.backbone.blocks[11].mlp.fc1.weight.grad is None
    assert model.backbone.norm.weight.grad is None
    assert all(p.grad is None for p in model.teacher.parameters())


# ----------------------------------------------- the relations' head split
def test_relations_split_into_other_heads():
    """``num_heads`` splits q, k, v into that many heads (of C / heads
    dims, scaled by their own sqrt), whatever the module computes with."""
    torch.manual_seed(0)
    backbone = DeiT(dict(embed_dims=24, num_layers=2, num_heads=2,
                         feedforward_channels=48), img_size=16,
                    patch_size=8)
    attn = backbone.blocks[1].attn
    recorder = build_recorder(dict(type='AttentionRelations',
                                   source='backbone.blocks.1.attn',
                                   num_heads=6))
    own = build_recorder(dict(type='AttentionRelations',
                              source='backbone.blocks.1.attn'))
    inputs = build_recorder(dict(type='ModuleInputs',
                                 source='backbone.blocks.1.attn', index=0))
    for r in (recorder, own, inputs):
        r.bind(attn)
        r.start()
    with torch.no_grad():
        backbone(torch.randn(2, 3, 16, 16))
    q, k, v = attn.qkv(inputs.data).split(24, dim=-1)
    for h in range(6):
        cols = slice(4 * h, 4 * (h + 1))
        torch.testing.assert_close(
            recorder.data['qk'][:, h],
            q[..., cols] @ k[..., cols].transpose(1, 2) / 2)
        torch.testing.assert_close(
            recorder.data['vv'][:, h],
            v[..., cols] @ v[..., cols].transpose(1, 2) / 2)
    assert recorder.data['qk'].shape == (2, 6, 5, 5)
    assert own.data['qk'].shape == (2, 2, 5, 5)  # the module's own heads
    for r in (recorder, own, inputs):
        r.stop()


@pytest.mark.parametrize('heads', [0, -2, 2.0, True, '4'])
def test_num_heads_must_be_a_positive_int(heads):
    with pytest.raises(ValueError, match='num_heads must be a positive int'):
        build_recorder(dict(type='AttentionRelations', source='a',
                            num_heads=heads))


def test_num_heads_must_divide_the_width():
    attn = DeiT(dict(embed_dims=24, num_layers=1, num_heads=2,
                     feedforward_channels=48), img_size=16,
                patch_size=8).blocks[0].attn
    recorder = build_recorder(dict(type='AttentionRelations', source='x',
                                   num_heads=5))
    with pytest.raises(ValueError, match=r'num_heads=5 does not divide the '
                       r'q / k / v width 24; choose from \[1, 2, 3, 4, 6'):
        recorder.bind(attn)


# ------------------------------------------------------------------ configs
PRETRAIN = {
    'configs/tinymim/tinymim-deit-small_32xb128-300e_in1k.py': (11, 11, 12),
    'configs/tinymim/tinymim-deit-12l192d-p16_32xb128-300e_in1k.py':
    (11, 11, 12),
    'configs/tinymim/tinymim-deit-base_32xb128-300e_in1k.py': (11, 17, 16),
    'configs/bundled/tinymim/tinymim-deit-4l96d-p4_1xb64-30e_digits.py':
    (3, 4, 6),
}


def _num_layers(backbone):
    arch = backbone.arch
    return arch['num_layers'] if isinstance(arch, dict) else \
        DeiT.arch_zoo[arch]['num_layers']


def _heads(backbone):
    arch = backbone.arch
    if isinstance(arch, dict):
        return arch['num_heads']
    return DeiT.arch_zoo[arch]['num_heads'] if arch in DeiT.arch_zoo else \
        {'b': 12, 'l': 16}[arch]


@pytest.mark.parametrize('path', sorted(PRETRAIN))
def test_pretraining_configs_pair_student_and_teacher(path):
    """The student's last block gives relations with the teacher's heads,
    from the official teacher block; the student sees the jittered view."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    student_block, teacher_block, heads = PRETRAIN[path]
    model = cfg.model
    recorders = model.distiller.recorders
    assert student_block == _num_layers(model.backbone) - 1
    assert heads == _heads(model.teacher.backbone)
    assert teacher_block < _num_layers(model.teacher.backbone)
    layers = 'layers' if model.teacher.type == 'MAE' else 'blocks'
    student, teacher = recorders.student, recorders.teacher
    # one recording of both relations per side
    assert (student.source, student.get('index'), student.num_heads) == \
        (f'backbone.blocks.{student_block}.attn', None, heads)
    assert (teacher.source, teacher.get('index'), teacher.get('num_heads')) \
        == (f'teacher.backbone.{layers}.{teacher_block}.attn', None, None)
    for kind in ('qk', 'vv'):
        assert model.distiller.loss_inputs[f'loss_{kind}'] == dict(
            preds=dict(recorder='student', key=kind),
            target=dict(recorder='teacher', key=kind))
    assert model.head is None
    assert model.backbone.drop_path_rate == 0.1
    multiview = cfg.train_dataloader.dataset.pipeline[-2]
    assert multiview.type == 'MultiView' and multiview.num_views == [1, 1]
    assert [t.type for t in multiview.transforms[0]] == ['ColorJitter']
    assert multiview.transforms[1] == []


FINETUNE = {
    'configs/tinymim/sup-deit-base_8xb128-100e_in1k.py':
    'configs/tinymim/tinymim-deit-base_32xb128-300e_in1k.py',
    'configs/tinymim/sup-deit-small_8xb128-100e_in1k.py':
    'configs/tinymim/tinymim-deit-small_32xb128-300e_in1k.py',
    'configs/bundled/tinymim/sup-deit-4l96d-p4_1xb16-15e_digits.py':
    'configs/bundled/tinymim/tinymim-deit-4l96d-p4_1xb64-30e_digits.py',
}
TINY = dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32)


def _build(cfg_model, scope):
    with DefaultScope.overwrite_default_scope(scope):
        init_default_scope(scope)
        from mmengine.registry import MODELS as ROOT_MODELS
        return ROOT_MODELS.build(cfg_model)


@pytest.mark.parametrize('layout', ['export', 'official'])
@pytest.mark.parametrize('path', sorted(FINETUNE))
def test_finetune_config_loads_the_pretrained_backbone(path, layout,
                                                       tmp_path):
    """The fine-tuning config loads the backbone its pre-training config
    exports (where it says), or an official TinyMIM checkpoint (timm
    layout under 'model'), every backbone tensor."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    pre_cfg = Config.fromfile(osp.join(REPO_ROOT, FINETUNE[path]))
    work_dir = osp.join('work_dirs', osp.basename(FINETUNE[path])[:-3])
    assert cfg.model.backbone.init_cfg.checkpoint == \
        osp.join(work_dir, 'backbone.pth')
    for key in ('type', 'arch', 'patch_size', 'img_size'):
        assert cfg.model.backbone.get(key) == \
            pre_cfg.model.backbone.get(key), key
    torch.manual_seed(0)
    pretrained = DeiT(TINY, img_size=32, patch_size=8)
    if layout == 'export':
        state = {f'backbone.{k}': v
                 for k, v in pretrained.state_dict().items()}
        state['distiller.something'] = torch.zeros(1)  # not exported
        ckpt = {'state_dict': export_backbone(state, 'backbone')}
    else:
        ckpt = {'model': dict(pretrained.state_dict())}
    file = str(tmp_path / 'backbone.pth')
    torch.save(ckpt, file)
    model = cfg.model
    model.backbone.update(arch=TINY, img_size=32, patch_size=8)
    model.backbone.init_cfg.checkpoint = file
    model.head.in_channels = 16
    model = _build(model, cfg.default_scope)
    model.init_weights()
    ours = model.backbone.state_dict()
    assert ours.keys() == pretrained.state_dict().keys()
    for key, value in pretrained.state_dict().items():
        torch.testing.assert_close(ours[key], value, msg=key)


def test_pretraining_trains_only_the_student(tmp_path):
    """A step of the digits pre-training config (scaled down): the losses
    are finite and positive, the student's distilled block and its earlier
    blocks get gradients, the teacher none, and a checkpoint holds only
    the student."""
    path = \
        'configs/bundled/tinymim/tinymim-deit-4l96d-p4_1xb64-30e_digits.py'
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    teacher = _build(cfg.model.teacher, 'mmpretrain')
    cfg.model.teacher_ckpt = str(tmp_path / 'mae.pth')
    torch.save({'state_dict': teacher.state_dict()}, cfg.model.teacher_ckpt)
    model = _build(cfg.model, 'mmpretrain')
    x = torch.randn(2, 3, 32, 32)
    losses = model.loss([x + 0.1 * torch.randn_like(x), x], _samples(2))
    assert set(losses) == {'loss_qk', 'loss_vv'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.blocks[3].attn.qkv.weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    assert not any(k.startswith('teacher') for k in model.state_dict())


@pytest.mark.parametrize('teacher', ['mae-vit-base-p16_in1k.py',
                                     'mae-vit-large-p16_in1k.py'])
def test_teacher_loads_the_official_mae_encoder(teacher, tmp_path):
    """The ImageNet teachers load an official MAE encoder checkpoint (timm
    keys under 'model', position embedding with the class entry, final
    norm; models_teacher.py loads the same strictly) completely."""
    from mmvitplug.models.distill.teacher import load_teacher
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_teachers', teacher))
    torch.manual_seed(0)
    official = DeiT(TINY, img_size=32, patch_size=8).state_dict()
    ckpt = str(tmp_path / 'mae_pretrain.pth')
    torch.save({'model': dict(official)}, ckpt)
    cfg.teacher.backbone.update(arch=TINY, img_size=32, patch_size=8)
    if cfg.teacher.backbone.get('out_indices', -1) >= TINY['num_layers']:
        cfg.teacher.backbone.out_indices = 1
    model = _build(cfg.teacher, 'mmpretrain')
    report = load_teacher(model, ckpt)
    assert report.num_loaded == len(official)
    for key, value in official.items():
        torch.testing.assert_close(model.backbone.state_dict()[key], value)
    # a full MAE checkpoint (with its decoder) is refused, naming the key
    with pytest.raises((KeyError, RuntimeError), match='decoder_pred'):
        torch.save({'model': dict(official, decoder_pred=torch.zeros(1))},
                   ckpt)
        load_teacher(model, ckpt)
