# Copyright (c) mmvitplug contributors.
"""Every shipped config loads, imports the plugin and builds its model."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmvitplug.utils import check_plugin_imports
from _builders import REPO_ROOT

ROOT = REPO_ROOT
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in p.split(osp.sep))


def _ids(paths):
    return [osp.relpath(p, osp.join(ROOT, 'configs')) for p in paths]


def test_there_are_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path, tmp_path):
    cfg = Config.fromfile(path)
    name = osp.basename(path)[:-3]
    algo_arch, schedule, data = name.split('_')[:3]
    assert 'xb' in schedule, f'{name}: expected {{algo}}-{{arch}}_NxbB_data'
    assert cfg.default_scope in ('mmpretrain', 'mmdet', 'mmseg')
    check_plugin_imports(cfg, path)
    assert 'mmvitplug' in cfg.custom_imports.imports

    model_cfg = cfg.model
    if model_cfg.type == 'mmvitplug.DistillationClassifier':
        # the teacher checkpoint is a training artefact: stand one in
        from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
        teacher = MMPRETRAIN_MODELS.build(model_cfg.teacher)
        ckpt = str(tmp_path / 'teacher.pth')
        torch.save({'state_dict': teacher.state_dict()}, ckpt)
        model_cfg.teacher_ckpt = ckpt
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        init_default_scope(cfg.default_scope)
        from mmengine.registry import MODELS
        model = MODELS.build(model_cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_train_tool_names_missing_custom_imports(tmp_path, repo_root):
    import subprocess
    import sys
    cfg = tmp_path / 'no_imports.py'
    cfg.write_text("default_scope = 'mmpretrain'\n"
                   "model = dict(type='ImageClassifier', "
                   "backbone=dict(type='mmvitplug.DeiT', arch='deit-tiny'))\n")
    proc = subprocess.run(
        [sys.executable, osp.join(repo_root, 'tools', 'train.py'), str(cfg)],
        capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode != 0
    assert 'does not import the plugin' in proc.stderr
    assert ("custom_imports = dict(imports=['mmvitplug'], "
            'allow_failed_imports=False)') in proc.stderr
