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


def build_from_config(path, arch, checkpoint):
    """The config's model, with a tiny arch at 48 px and ``checkpoint``."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    model = cfg.model
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


def test_pretrained_init_names_unknown_converter():
    from mmvitplug.models.utils import PretrainedInit
    with pytest.raises(KeyError, match="NoSuch.*'CaiT'.*'DeiT'"):
        PretrainedInit('x.pth', converter='NoSuch')
