# Copyright (c) mmvitplug contributors.
"""tools/analysis/attention_map.py: the last layer's class-token attention
per head (DINO paper), from a DINO pretraining config and checkpoint."""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch

from _builders import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                  'dino-deit-4l64d-p4_1xb64_digits.py')


def _tool():
    path = osp.join(REPO_ROOT, 'tools', 'analysis', 'attention_map.py')
    spec = importlib.util.spec_from_file_location('attention_map', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(rng.integers(0, 255, (34, 35, 3), dtype=np.uint8), path)
    return path


def test_attention_map_of_dino_teacher(tmp_path, image):
    tool = _tool()
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    backbone, _ = tool.build_backbone(cfg, 'none')
    # a checkpoint whose teacher differs from the student: the teacher's
    # backbone is the one shown
    from mmengine.registry import MODELS
    model = MODELS.build(cfg.model)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.normal_(0, 0.2)
    ckpt = str(tmp_path / 'dino.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    out = str(tmp_path / 'attn.png')
    maps = tool.main([CONFIG, ckpt, image, '--out', out])
    assert osp.isfile(out) and mmcv.imread(out).size > 0
    # 2 heads, a 8x8 grid of 4-pixel patches (34x35 cropped to 32x32)
    assert maps.shape == (2, 8, 8)
    # weights of the class token: positive, at most 1 over the patches (the
    # rest goes to the class token itself)
    assert (maps > 0).all() and (maps.sum(dim=(1, 2)) < 1).all()

    # the recomputed weights are the layer's real attention: they reproduce
    # the attention module's output
    teacher = model.teacher.module.backbone.eval()
    attn = tool.last_attention_module(teacher)
    seen = {}
    attn.register_forward_hook(
        lambda m, args, output: seen.update(x=args[0], out=output))
    _, x = tool.load_image(image, None, 4, dict(cfg.model.data_preprocessor))
    ours = tool.class_token_attention(teacher, x)
    assert torch.allclose(ours, maps, atol=1e-6)
    tokens = seen['x']
    B, N, C = tokens.shape
    qkv = attn.qkv(tokens).reshape(B, N, 3, 2, C // 2).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    weights = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(-1)
    assert torch.allclose(weights[0, :, 0, 1:].reshape(2, 8, 8), maps,
                          atol=1e-6)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(B, N, C))
    assert torch.allclose(expected, seen['out'], atol=1e-5)
    # the student's map differs (another backbone)
    student = tool.class_token_attention(model.backbone.eval(), x)
    assert not torch.allclose(student, maps)


def test_attention_map_needs_a_class_token_trunk():
    tool = _tool()
    from mmvitplug.models.backbones import ResMLP
    backbone = ResMLP(
        arch=dict(embed_dims=32, num_layers=2, feedforward_channels=64,
                  init_values=0.1),
        img_size=32, patch_size=8)
    with pytest.raises(ValueError, match='flat ViT'):
        tool.class_token_attention(backbone, torch.zeros(1, 3, 32, 32))
