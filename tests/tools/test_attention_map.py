# Copyright (c) mmvitplug contributors.
"""tools/analysis/attention_map.py: the last layer's class-token attention
per head (DINO paper), from a DINO pretraining config and checkpoint."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch

from _builders import REPO_ROOT, load_tool

CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'dino',
                  'dino-deit-4l64d-p8_1xb64_digits.py')


def _tool():
    return load_tool('analysis/attention_map.py')


@pytest.fixture
def image(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(rng.integers(0, 255, (34, 35, 3), dtype=np.uint8), path)
    return path


@pytest.mark.parametrize('config,to_rgb', [
    # SelfSupDataPreprocessor in the model's config
    (CONFIG, True),
    # mmpretrain's ClsDataPreprocessor, from the config's top level
    (osp.join(REPO_ROOT, 'configs', 'bundled', 'deit',
              'sup-deit-4l192d-p8_1xb16_digits.py'), True),
    (osp.join(REPO_ROOT, 'configs', 'bundled', 'deit',
              'sup-deit-4l192d-p8_1xb16_digits.py'), False),
])
def test_image_is_the_input_the_model_trained_on(image, config, to_rgb):
    """The image goes through the model's data preprocessor: the channel
    order and normalisation of training, whatever the preprocessor type."""
    from mmengine.config import Config
    tool = _tool()
    cfg = Config.fromfile(config)
    pre = cfg.model.get('data_preprocessor') or cfg.data_preprocessor
    pre['to_rgb'] = to_rgb
    _, preprocessor = tool.build_backbone(cfg, 'none')
    shown, x = tool.load_image(image, None, 8, preprocessor)
    rgb = mmcv.imread(image, channel_order='rgb')[:32, :32]
    assert np.array_equal(shown, rgb)
    pixels = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)
    if not to_rgb:
        pixels = pixels.flip(0)
    mean = torch.tensor(pre['mean'])[:, None, None]
    std = torch.tensor(pre['std'])[:, None, None]
    assert x.shape == (1, 3, 32, 32)
    torch.testing.assert_close(x[0], (pixels - mean) / std)


def test_attention_map_of_dino_teacher(tmp_path, image):
    tool = _tool()
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    backbone, preprocessor = tool.build_backbone(cfg, 'none')
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
    # 2 heads, a 4x4 grid of 8-pixel patches (34x35 cropped to 32x32)
    assert maps.shape == (2, 4, 4)
    # weights of the class token: positive, at most 1 over the patches (the
    # rest goes to the class token itself)
    assert (maps > 0).all() and (maps.sum(dim=(1, 2)) < 1).all()

    # the map is the last layer's real attention: recomputed from that
    # layer's input, it reproduces the layer's output
    teacher = model.teacher.module.backbone.eval()
    attn = teacher.layers[-1][-1].attn
    seen = {}
    attn.register_forward_hook(
        lambda m, args, output: seen.update(x=args[0], out=output))
    _, x = tool.load_image(image, None, 8, preprocessor)
    ours = tool.class_token_attention(teacher, x)
    assert torch.allclose(ours, maps, atol=1e-6)
    tokens = seen['x']
    B, N, C = tokens.shape
    qkv = attn.qkv(tokens).reshape(B, N, 3, 2, C // 2).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    weights = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(-1)
    assert torch.allclose(weights[0, :, 0, 1:].reshape(2, 4, 4), maps,
                          atol=1e-6)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(B, N, C))
    assert torch.allclose(expected, seen['out'], atol=1e-5)
    # the student's map differs (another backbone)
    student = tool.class_token_attention(model.backbone.eval(), x)
    assert not torch.allclose(student, maps)


#: backbone -> (image height, width, stride of the last attention's grid,
#: extra tokens, constructor overrides)
WITH_CLASS_TOKEN = {
    'DeiT': (32, 48, 8, 1, {}),
    'DeiT-distilled': (32, 48, 8, 2, dict(distilled=True)),
    'CaiT': (32, 48, 8, 1, {}),  # class-attention stage
    'PatchConvNet': (16, 24, 4, 1, {}),  # attention pooling
    'ConViT': (32, 32, 8, 1, {}),  # MHSA blocks after the GPSA ones
    'PiT': (32, 64, 16, 1, {}),  # last stage of the pyramid
    # class token in the last stage; its keys are strided (stride-2 k / v
    # projections): a 16 px query grid, a 32 px key grid
    'CvT': (32, 64, 32, 1, {}),
    'XCiT': (16, 32, 4, 1, {}),  # class-attention layers
}


@pytest.mark.parametrize('name', WITH_CLASS_TOKEN)
def test_attention_map_of_any_class_token_backbone(name):
    """No per-backbone code: every backbone whose last attention has a
    class token is drawn, the map is that attention's class-token row over
    the patch grid (non-square images: the orientation is checked), and
    recording does not change the backbone's output."""
    import mmvitplug.models.backbones as backbones
    from mmvitplug.layers import record_attention
    from _builders import build_tiny
    tool = _tool()
    H, W, stride, extra, overrides = WITH_CLASS_TOKEN[name]
    cls = getattr(backbones, name.split('-')[0])
    backbone = build_tiny(cls, **overrides).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in backbone.parameters():  # non-trivial attention
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        plain = backbone(x)
        with record_attention() as recorded:
            again = backbone(x)
    for a, b in zip(plain, again):
        for t1, t2 in zip(a if isinstance(a, (list, tuple)) else [a],
                          b if isinstance(b, (list, tuple)) else [b]):
            torch.testing.assert_close(t1, t2, atol=1e-5, rtol=1e-5)
    maps = tool.class_token_attention(backbone, x)
    heads = recorded[-1].shape[1]
    assert maps.shape == (heads, H // stride, W // stride)
    last = recorded[-1][0, :, 0, extra:]
    assert torch.equal(maps.flatten(1), last)
    assert (maps >= 0).all() and (maps.sum(dim=(1, 2)) <= 1 + 1e-5).all()
    # patch order is row-major: the map is not its transpose read wrongly
    assert not torch.allclose(maps, maps.flip(-1))


@pytest.mark.parametrize('name,match', [
    ('ResMLP', 'computes no token attention'),  # no attention at all
    ('LeViT', 'not a class token'),  # attention, no class token
    ('CCT', 'not a class token'),  # sequence pooling, no class token
])
def test_attention_map_needs_a_class_token(name, match):
    import mmvitplug.models.backbones as backbones
    from _builders import TINY_KWARGS, build_tiny
    tool = _tool()
    backbone = build_tiny(getattr(backbones, name)).eval()
    size = TINY_KWARGS[name].get('img_size', 32)
    with pytest.raises(ValueError, match=match):
        tool.class_token_attention(backbone, torch.zeros(1, 3, size, size))
