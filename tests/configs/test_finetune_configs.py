# Copyright (c) mmvitplug contributors.
"""Fine-tuning configs load the checkpoint they promise: the official one
(converted on load, backbone and head) or an mmvitplug one."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmvitplug.models.backbones import CaiT, DeiT
from _builders import REPO_ROOT

ROOT = REPO_ROOT
NUM_CLASSES, DIMS = 10, 32


def _official_cait(state):
    return {re.sub(r'^(blocks\.\d+)\.ls([12])\.gamma$', r'\1.gamma_\2', k): v
            for k, v in state.items()}


# config, backbone class, tiny arch, official names of a bare state dict
CASES = {
    'cait-384': ('configs/cait/sup-cait-s24-384_8xb64_in1k.py', CaiT,
                 dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                      feedforward_channels=64, init_values=0.5),
                 _official_cait),
    'deit-384': ('configs/deit/sup-deit-base-384_8xb64_in1k.py', DeiT,
                 dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                      feedforward_channels=64), dict),
}
DISTILLED_384 = 'configs/deit/distill-hard-deit-base-384_8xb64_in1k.py'
TINY_DEIT = dict(embed_dims=DIMS, num_layers=2, num_heads=4,
                 feedforward_channels=64)


def build_from_config(path, arch, checkpoint, teacher_dir=None):
    """The config's model, with a tiny arch at 48 px and ``checkpoint``
    (and a tiny teacher saved under ``teacher_dir`` for a distillation
    config)."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    model = cfg.model
    if 'teacher' in model:
        from mmpretrain.models import ImageClassifier
        model.teacher = dict(
            type='ImageClassifier',
            backbone=dict(type='ResNet', depth=18, base_channels=8,
                          stem_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                      in_channels=64))
        from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
        teacher = MMPRETRAIN_MODELS.build(model.teacher)
        assert isinstance(teacher, ImageClassifier)
        model.teacher_ckpt = str(teacher_dir / 'teacher.pth')
        torch.save({'state_dict': teacher.state_dict()}, model.teacher_ckpt)
    assert model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert model.head.init_cfg.checkpoint == cfg.pretrained
    model.backbone.arch = arch
    model.backbone.img_size = 48
    model.backbone.patch_size = 8
    model.head.num_classes = NUM_CLASSES
    model.head.in_channels = DIMS
    model.backbone.init_cfg.checkpoint = checkpoint
    model.head.init_cfg.checkpoint = checkpoint
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        return MODELS.build(model)


@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
@pytest.mark.parametrize('case', CASES)
def test_finetune_config_loads_its_checkpoint(case, layout, tmp_path):
    path, cls, arch, official_names = CASES[case]
    torch.manual_seed(1)
    src = cls(arch, img_size=32, patch_size=8)  # the 224px model, scaled
    head = torch.nn.Linear(DIMS, NUM_CLASSES)
    if layout == 'official':
        state = official_names(src.state_dict())
        state.update({'head.weight': head.weight, 'head.bias': head.bias})
        ckpt = {'model': state, 'epoch': 299}
    else:
        state = {'backbone.' + k: v for k, v in src.state_dict().items()}
        state.update({'head.fc.weight': head.weight,
                      'head.fc.bias': head.bias})
        ckpt = {'state_dict': state, 'meta': {}}
    file = str(tmp_path / 'pretrained.pth')
    torch.save(ckpt, file)

    model = build_from_config(path, arch, file)
    model.init_weights()
    torch.testing.assert_close(model.head.fc.weight, head.weight)
    torch.testing.assert_close(model.head.fc.bias, head.bias)
    ours, theirs = model.backbone.state_dict(), src.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if key == 'pos_embed':  # 4x4 grid interpolated to 6x6
            assert ours[key].shape[1] == value.shape[1] + 20
        else:
            torch.testing.assert_close(ours[key], value, msg=key)


@pytest.mark.parametrize('layout', ['official', 'mmvitplug'])
def test_distilled_finetune_config_loads_its_checkpoint(layout, tmp_path):
    """The distilled 384 config loads the official distilled DeiT-B layout
    (``head.*`` / ``head_dist.*``) or its own 224 run's checkpoint
    (``head.head.*`` / ``head.head_dist.*``) into backbone and both heads."""
    torch.manual_seed(2)
    src = DeiT(TINY_DEIT, img_size=32, patch_size=8, distilled=True)
    heads = {n: torch.nn.Linear(DIMS, NUM_CLASSES)
             for n in ('head', 'head_dist')}
    if layout == 'official':
        state = dict(src.state_dict())
        for name, head in heads.items():
            state.update({f'{name}.weight': head.weight,
                          f'{name}.bias': head.bias})
        ckpt = {'model': state}
    else:
        state = {'backbone.' + k: v for k, v in src.state_dict().items()}
        for name, head in heads.items():
            state.update({f'head.{name}.weight': head.weight,
                          f'head.{name}.bias': head.bias})
        ckpt = {'state_dict': state, 'meta': {}}
    file = str(tmp_path / 'pretrained.pth')
    torch.save(ckpt, file)

    model = build_from_config(DISTILLED_384, TINY_DEIT, file, tmp_path)
    model.init_weights()
    for name, head in heads.items():
        torch.testing.assert_close(
            getattr(model.head, name).weight, head.weight, msg=name)
        torch.testing.assert_close(
            getattr(model.head, name).bias, head.bias, msg=name)
    ours, theirs = model.backbone.state_dict(), src.state_dict()
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        if key != 'pos_embed':  # 4x4 grid interpolated to 6x6
            torch.testing.assert_close(ours[key], value, msg=key)


def test_pretrained_init_names_unknown_converter():
    from mmvitplug.models.utils import PretrainedInit
    with pytest.raises(KeyError, match="NoSuch.*'CaiT'.*'DeiT'"):
        PretrainedInit('x.pth', converter='NoSuch')
