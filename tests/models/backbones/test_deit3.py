# Copyright (c) mmvitplug contributors.
"""DeiT III ViTs (https://arxiv.org/abs/2204.07118) in mmvitplug.DeiT.

LayerScale, a uniform stochastic-depth rate and a position embedding of the
patches only (timm ``no_embed_class``), checked against timm ``deit3_*``
and the official ``models_v2.py`` checkpoint layout.
"""
import os.path as osp
import re
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters import convert_deit
from mmvitplug.layers import LayerScale, resize_pos_embed
from mmvitplug.models.backbones import DeiT
from mmvitplug.models.utils import load_pretrained
from _builders import DEIT3_SETTINGS, REPO_ROOT, TINY_ARCHS, build_tiny
from _e2e import logged, smoke_train

ARCH = TINY_ARCHS['DeiT']
DEIT3 = DEIT3_SETTINGS
DEIT3_NAMES = ('deit3-small', 'deit3-medium', 'deit3-base', 'deit3-large',
               'deit3-huge', 'deit3-small-384', 'deit3-base-384',
               'deit3-large-384')


#: A 3-block DeiT III-style model on 32 x 32 images (8 x 8 patches).
tiny = partial(build_tiny, DeiT, arch=dict(ARCH, **DEIT3))


@pytest.fixture(scope='module')
def timm():
    return pytest.importorskip('timm')


def randomise_(model):
    """Move every parameter off its (structured) init, gammas to O(1).

    timm initialises LayerScale at 1e-6, which would make every block close
    to the identity and a parity test blind to the blocks.
    """
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('gamma'):
                p.uniform_(0.5, 1.5)
            else:
                p.add_(torch.randn_like(p) * 0.02)
    return model


def to_official_v2(state_dict):
    """timm DeiT III keys -> official models_v2.py keys (gamma_1/gamma_2)."""
    return {
        re.sub(r'\.ls([12])\.gamma$', r'.gamma_\1', k): v
        for k, v in state_dict.items()
    }


def backbone_state(converted):
    return {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }


def reference_forward(model, x):
    """DeiT III token path written out: pos_embed on the patches only."""
    tokens, _ = model.patch_embed(x)
    tokens = tokens + model.pos_embed
    extra = [model.cls_token.expand(x.shape[0], -1, -1)]
    if model.dist_token is not None:
        extra.append(model.dist_token.expand(x.shape[0], -1, -1))
    x = torch.cat((*extra, tokens), dim=1)
    for block in model.blocks:
        x = block(x)
    return model.norm(x)


# ------------------------------------------------------------- timm parity
@pytest.fixture(scope='module')
def timm_deit3_small(timm):
    torch.manual_seed(0)
    ref = timm.create_model(
        'deit3_small_patch16_224', pretrained=False, img_size=64)
    return randomise_(ref).eval()


def build_classifier(arch, **backbone):
    from mmpretrain.registry import MODELS
    dims = DeiT.arch_zoo[arch]['embed_dims']
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.DeiT', arch=arch, **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead', num_classes=1000, in_channels=dims)))


@pytest.mark.parametrize('fused_attn', [True, False])
def test_timm_deit3_small_parity(timm_deit3_small, fused_attn):
    ref = timm_deit3_small
    state = convert_deit(ref.state_dict())
    ours = build_classifier(
        'deit3-small', img_size=64, fused_attn=fused_attn).eval()
    ours.load_state_dict(state, strict=True)
    assert all(b.attn.fused_attn == fused_attn for b in ours.backbone.blocks)
    torch.manual_seed(2)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected_feats = ref.forward_features(x)
        expected = ref(x)
        ours.backbone.out_type = 'raw'
        (feats, ) = ours.backbone(x)
        ours.backbone.out_type = 'cls_token'
        logits = ours(x, mode='tensor')
    assert feats.shape == expected_feats.shape == (2, 1 + 16, 384)
    torch.testing.assert_close(feats, expected_feats, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
    # the check can fail: one LayerScale vector changes the logits a lot
    with torch.no_grad():
        ours.backbone.blocks[5].ls2.gamma.mul_(-1)
        assert (ours(x, mode='tensor') - expected).abs().max() > 1e-2


def test_official_models_v2_layout_parity(timm_deit3_small):
    ref = timm_deit3_small
    timm_state = ref.state_dict()
    official = to_official_v2(timm_state)
    assert 'blocks.11.gamma_2' in official
    assert not any('.ls1.' in k for k in official)
    converted = convert_deit({'model': official})
    from_timm = convert_deit(timm_state)
    assert converted.keys() == from_timm.keys()
    for key, value in converted.items():
        assert value is from_timm[key], key
    assert converted['backbone.blocks.3.ls1.gamma'] is official[
        'blocks.3.gamma_1']

    backbone = DeiT('deit3-small', img_size=64, out_type='raw').eval()
    report = load_pretrained(
        backbone, {'model': official}, converter=convert_deit, logger=None)
    assert report.converted and report.complete
    assert report.resized == []
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            backbone(x)[0], ref.forward_features(x), atol=1e-4, rtol=1e-4)


def test_distilled_patch_only_pos_embed_matches_timm(timm):
    """Distillation token + patch-only pos_embed, against timm's forward."""
    torch.manual_seed(0)
    ref = timm.create_model(
        'deit_tiny_distilled_patch16_224', pretrained=False, img_size=32,
        patch_size=8, embed_dim=32, depth=3, num_heads=2, mlp_ratio=2,
        no_embed_class=True, init_values=1e-4)
    # timm's distilled model forwards no_embed_class (add, then prepend the
    # class and distillation tokens) but always makes a (1, 2 + N, C)
    # pos_embed: give it the patch-only one its forward expects
    assert ref.pos_embed.shape == (1, 2 + 16, 32)
    ref.pos_embed = nn.Parameter(torch.zeros(1, 16, 32))
    ref = randomise_(ref).eval()
    ours = tiny(distilled=True, out_type='raw').eval()
    assert ours.pos_embed.shape == (1, 16, 32)
    ours.load_state_dict(backbone_state(convert_deit(ref.state_dict())))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x)[0], ref.forward_features(x), atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------- the zoo
TIMM_NAMES = {
    'deit3-small': 'deit3_small_patch16_224',
    'deit3-medium': 'deit3_medium_patch16_224',
    'deit3-base': 'deit3_base_patch16_224',
    'deit3-large': 'deit3_large_patch16_224',
    'deit3-huge': 'deit3_huge_patch14_224',
    'deit3-small-384': 'deit3_small_patch16_384',
    'deit3-base-384': 'deit3_base_patch16_384',
    'deit3-large-384': 'deit3_large_patch16_384',
}


@pytest.mark.parametrize('arch, exact', [
    ('deit3-small', 22_059_496),
    ('deit3-medium', 38_849_512),
    ('deit3-base', 86_585_320),
    ('deit3-large', 304_374_760),
    ('deit3-huge', 632_126_440),
    ('deit3-small-384', 22_205_416),
    ('deit3-base-384', 86_877_160),
    ('deit3-large-384', 304_763_880),
])
def test_parameter_counts_and_names_equal_timm(timm, arch, exact):
    with torch.device('meta'):
        ours = DeiT(arch)
        ref = timm.create_model(TIMM_NAMES[arch], pretrained=False)
    ref_state = backbone_state(convert_deit(ref.state_dict()))
    our_state = ours.state_dict()
    assert our_state.keys() == ref_state.keys()
    for key, value in our_state.items():
        assert value.shape == ref_state[key].shape, key
    count = sum(p.numel() for p in ours.parameters())
    count += ours.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == sum(p.numel() for p in ref.parameters()) == exact


def test_zoo_settings():
    assert set(DEIT3_NAMES) <= set(DeiT.arch_zoo)
    for name in DEIT3_NAMES:
        settings = DeiT.arch_zoo[name]
        assert settings['layer_scale_init_value'] == 1e-4, name
        assert settings['drop_path_mode'] == 'uniform', name
        assert settings['pos_embed_extra_tokens'] is False, name
        assert settings['patch_size'] == (14 if 'huge' in name else 16)
        assert settings['img_size'] == (384 if '384' in name else 224)
    with torch.device('meta'):
        huge = DeiT('deit3-huge', drop_path_rate=0.5)
        huge16 = DeiT('deit3-huge', patch_size=16)
        small = DeiT('deit3-small', drop_path_rate=0.05)
        plain = DeiT('deit-small', drop_path_rate=0.05)
    assert huge.patch_size == 14 and huge.patch_embed.patch_size == (14, 14)
    assert huge.pos_embed.shape == (1, 16 * 16, 1280)
    assert huge16.pos_embed.shape == (1, 14 * 14, 1280)
    assert [b.drop_path1.drop_prob for b in huge.blocks] == [0.5] * 32
    assert small.pos_embed.shape == (1, 196, 384)
    assert all(isinstance(b.ls1, LayerScale) and isinstance(b.ls2, LayerScale)
               for b in small.blocks)
    assert [b.drop_path2.drop_prob for b in small.blocks] == [0.05] * 12
    # DeiT archs keep DeiT's settings
    assert plain.pos_embed.shape == (1, 197, 384)
    assert isinstance(plain.blocks[0].ls1, nn.Identity)
    assert isinstance(plain.blocks[0].drop_path1, nn.Identity)
    assert plain.blocks[11].drop_path1.drop_prob == pytest.approx(0.05)


# ----------------------------------------------------- argument behaviour
def test_drop_path_mode():
    arch = dict(ARCH, num_layers=5)
    linear = tiny(arch=arch, drop_path_rate=0.2)
    assert linear.drop_path_mode == 'linear'
    assert isinstance(linear.blocks[0].drop_path1, nn.Identity)
    assert [b.drop_path1.drop_prob for b in linear.blocks[1:]] == \
        pytest.approx([0.05, 0.1, 0.15, 0.2])
    uniform = tiny(arch=arch, drop_path_rate=0.2, drop_path_mode='uniform')
    for block in uniform.blocks:
        assert block.drop_path1.drop_prob == block.drop_path2.drop_prob == 0.2
    # an arch's mode is the default, the argument overrides it
    assert tiny(drop_path_rate=0.2).drop_path_mode == 'uniform'
    overridden = tiny(arch=dict(arch, **DEIT3), drop_path_rate=0.2,
                      drop_path_mode='linear')
    assert [b.drop_path1.drop_prob for b in overridden.blocks[1:]] == \
        pytest.approx([0.05, 0.1, 0.15, 0.2])
    # the first block is stochastic in training only with 'uniform'
    tokens = torch.randn(16, 17, 32)
    for model, stochastic in ((linear, False), (uniform, True)):
        block = model.blocks[0].train()
        assert (not torch.equal(block(tokens), block(tokens))) == stochastic
        block.eval()
        assert torch.equal(block(tokens), block(tokens))


def test_layer_scale():
    model = tiny(layer_scale_init_value=1e-3, out_type='raw').eval()
    assert model.layer_scale_init_value == 1e-3
    names = {n for n, _ in model.named_parameters()}
    for i in range(3):
        assert {f'blocks.{i}.ls1.gamma', f'blocks.{i}.ls2.gamma'} <= names
    for block in model.blocks:  # init_weights keeps the init value
        assert torch.all(block.ls1.gamma == 1e-3)
        assert torch.all(block.ls2.gamma == 1e-3)
    assert model.get_layer_depth('blocks.2.ls2.gamma') == (3, 5)
    assert tiny().blocks[0].ls1.gamma[0].item() == pytest.approx(1e-4)

    plain = tiny(layer_scale_init_value=0., out_type='raw').eval()
    assert not any('gamma' in n for n, _ in plain.named_parameters())
    assert isinstance(plain.blocks[0].ls1, nn.Identity)
    assert isinstance(plain.blocks[0].ls2, nn.Identity)
    # with all gammas at 1 the LayerScale model is the plain one
    state = plain.state_dict()
    result = model.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == sorted(
        f'blocks.{i}.ls{j}.gamma' for i in range(3) for j in (1, 2))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for block in model.blocks:
            block.ls1.gamma.fill_(1.)
            block.ls2.gamma.fill_(1.)
        torch.testing.assert_close(model(x)[0], plain(x)[0])
        # the gammas scale the branches: at 0 every block is the identity
        model.blocks[1].ls2.gamma.fill_(0.5)
        assert not torch.allclose(model(x)[0], plain(x)[0])
        for block in model.blocks:
            block.ls1.gamma.zero_()
            block.ls2.gamma.zero_()
        tokens, _ = model.patch_embed(x)
        tokens = torch.cat(
            (model.cls_token.expand(2, -1, -1), tokens + model.pos_embed), 1)
        torch.testing.assert_close(model(x)[0], model.norm(tokens))


@pytest.mark.parametrize('distilled', [False, True])
def test_patch_only_pos_embed(distilled):
    extra = 2 if distilled else 1
    with_extra = tiny(distilled=distilled, pos_embed_extra_tokens=True)
    assert with_extra.pos_embed.shape == (1, extra + 16, 32)
    assert with_extra.num_pos_embed_extra_tokens == extra
    model = tiny(distilled=distilled, out_type='raw').eval()
    assert model.pos_embed_extra_tokens is False
    assert model.pos_embed.shape == (1, 16, 32)
    assert model.num_extra_tokens == extra
    assert model.num_pos_embed_extra_tokens == 0
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        (raw, ) = model(x)
        assert raw.shape == (2, extra + 16, 32)
        torch.testing.assert_close(raw, reference_forward(model, x))
        model.out_type = 'cls_token'
        (out, ) = model(x)
        model.out_type = 'featmap'
        (fmap, ) = model(x)
    if distilled:
        torch.testing.assert_close(out[0], raw[:, 0])
        torch.testing.assert_close(out[1], raw[:, 1])
    else:
        torch.testing.assert_close(out, raw[:, 0])
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2),
                               raw[:, extra:])


@pytest.mark.parametrize('distilled', [False, True])
def test_all_parameters_receive_gradients(distilled):
    model = tiny(distilled=distilled, drop_path_rate=0.1)
    (out, ) = model(torch.randn(2, 3, 32, 32))
    loss = sum(o.square().sum() for o in out) if distilled else \
        out.square().sum()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_arch_dict_keys_and_overrides():
    model = tiny(
        arch=dict(ARCH, img_size=16, patch_size=4, layer_scale_init_value=0.1,
                  drop_path_mode='uniform', pos_embed_extra_tokens=False),
        img_size=None, patch_size=None, drop_path_rate=0.1)
    assert model.patch_embed.patch_size == (4, 4)
    assert model.pos_embed.shape == (1, 16, 32)
    assert torch.all(model.blocks[2].ls2.gamma == 0.1)
    assert model.blocks[0].drop_path1.drop_prob == 0.1
    # constructor arguments win over the arch dict
    model = tiny(layer_scale_init_value=0, pos_embed_extra_tokens=True)
    assert isinstance(model.blocks[0].ls1, nn.Identity)
    assert model.pos_embed.shape == (1, 17, 32)


# --------------------------------------------------- position embeddings
@pytest.mark.parametrize('distilled', [False, True])
def test_pos_embed_interpolated_to_input_grid(distilled):
    small = tiny(out_type='raw', distilled=distilled).eval()
    big = tiny(out_type='raw', distilled=distilled, img_size=(32, 48)).eval()
    state = small.state_dict()
    state['pos_embed'] = resize_pos_embed(
        small.pos_embed, (4, 4), (4, 6), num_extra_tokens=0)
    assert state['pos_embed'].shape == (1, 24, 32)
    big.load_state_dict(state)
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        torch.testing.assert_close(small(x)[0], big(x)[0])
        torch.testing.assert_close(small(x)[0], reference_forward(big, x))
        small.interpolate_mode = 'nearest'
        assert not torch.allclose(small(x)[0], big(x)[0])


def test_224_checkpoint_into_other_size(timm, tmp_path):
    """An official DeiT III 224 checkpoint (14 x 14 pos_embed) at 96 x 128."""
    from timm.layers import resample_abs_pos_embed
    torch.manual_seed(0)
    ref224 = randomise_(
        timm.create_model(
            'deit3_small_patch16_224', pretrained=False, embed_dim=32,
            depth=2, num_heads=2))
    state = ref224.state_dict()
    assert state['pos_embed'].shape == (1, 196, 32)
    torch.save({'model': to_official_v2(state)}, tmp_path / 'deit3.pth')

    arch = dict(embed_dims=32, num_layers=2, num_heads=2,
                feedforward_channels=128, **DEIT3)
    ours = DeiT(arch, img_size=(96, 128), out_type='raw', init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'deit3.pth'),
        prefix='backbone.'))
    ours.init_weights()
    ours.eval()
    pos = resample_abs_pos_embed(
        state['pos_embed'], [6, 8], num_prefix_tokens=0, antialias=False)
    torch.testing.assert_close(ours.pos_embed.data, pos)
    torch.testing.assert_close(
        ours.pos_embed.data,
        resize_pos_embed(state['pos_embed'], (14, 14), (6, 8),
                         num_extra_tokens=0))
    assert torch.equal(ours.blocks[1].ls2.gamma, state['blocks.1.ls2.gamma'])

    ref = timm.create_model(
        'deit3_small_patch16_224', pretrained=False, embed_dim=32, depth=2,
        num_heads=2, img_size=(96, 128)).eval()
    ref.load_state_dict(dict(state, pos_embed=pos))
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x)[0], ref.forward_features(x), atol=1e-5, rtol=1e-5)


def test_pos_embed_layout_mismatch_is_reported():
    """A DeiT pos_embed never loads silently into a DeiT III model."""
    deit = tiny(pos_embed_extra_tokens=True)  # (1, 17, 32)
    deit3 = tiny(img_size=48)  # (1, 36, 32)
    before = deit3.pos_embed.detach().clone()
    report = load_pretrained(deit3, deit.state_dict(), logger=None)
    assert report.mismatched == [('pos_embed', (1, 17, 32), (1, 36, 32))]
    assert report.resized == [] and torch.equal(deit3.pos_embed, before)
    assert torch.equal(deit3.cls_token, deit.cls_token)
    # and the other way round
    report = load_pretrained(
        tiny(pos_embed_extra_tokens=True, img_size=48), tiny().state_dict(),
        logger=None)
    assert report.mismatched == [('pos_embed', (1, 16, 32), (1, 37, 32))]
    assert report.resized == []


# -------------------------------------------------------------- converter
def test_convert_deit_layer_scale_keys():
    value = torch.ones(4)
    state = {
        'blocks.0.gamma_1': value,
        'blocks.0.gamma_2': value * 2,
        'blocks.11.ls1.gamma': value * 3,
        'blocks.11.ls2.gamma': value * 4,
        'pos_embed': torch.zeros(1, 196, 4),
    }
    snapshot = dict(state)
    out = convert_deit(state)
    assert sorted(out) == sorted([
        'backbone.blocks.0.ls1.gamma', 'backbone.blocks.0.ls2.gamma',
        'backbone.blocks.11.ls1.gamma', 'backbone.blocks.11.ls2.gamma',
        'backbone.pos_embed'
    ])
    assert out['backbone.blocks.0.ls1.gamma'] is state['blocks.0.gamma_1']
    assert out['backbone.blocks.0.ls2.gamma'] is state['blocks.0.gamma_2']
    assert out['backbone.blocks.11.ls1.gamma'] is state['blocks.11.ls1.gamma']
    assert out['backbone.blocks.11.ls2.gamma'] is state['blocks.11.ls2.gamma']
    assert out['backbone.pos_embed'] is state['pos_embed']
    assert state == snapshot  # pure: the input is left alone


@pytest.mark.parametrize('key', [
    'blocks.0.gamma_3', 'blocks.0.ls3.gamma', 'blocks.0.gamma_1.weight',
    'gamma_1', 'blocks.0.ls1.weight'
])
def test_convert_deit_unknown_layer_scale_keys(key):
    with pytest.raises(KeyError, match='not in the official DeiT layout'):
        convert_deit({key: torch.ones(1)})


# ---------------------------------------------------------- bad arguments
@pytest.mark.parametrize('kwargs, match', [
    (dict(drop_path_mode='cosine'),
     r"Unknown drop_path_mode 'cosine'; choose from \['linear', "
     r"'uniform'\]"),
    (dict(arch=dict(ARCH, drop_path_mode='Uniform')),
     r"Unknown drop_path_mode 'Uniform'.*'linear', 'uniform'"),
    (dict(layer_scale_init_value=-1e-4),
     r'layer_scale_init_value must be >= 0 \(0 disables LayerScale\)'),
    (dict(pos_embed_extra_tokens='no'),
     "pos_embed_extra_tokens must be True or False, got 'no'"),
    (dict(arch=dict(ARCH, init_values=1e-4)),
     r"layer_scale_init_value.*unknown \['init_values'\]"),
    (dict(arch='deit3-tiny'), "Unknown arch 'deit3-tiny'.*'deit3-small'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


# ------------------------------------------------------------ cosub config
def test_cosub_config_uses_deit3_small():
    from mmengine.config import Config
    root = REPO_ROOT
    cfg = Config.fromfile(
        osp.join(root, 'configs/cosub/cosub-deit3-small_8xb128_in1k.py'))
    backbone = dict(cfg.model.backbone)
    assert backbone.pop('type') == 'mmvitplug.DeiT'
    with torch.device('meta'):
        model = DeiT(**backbone)
    assert model.arch_settings == DeiT.arch_zoo['deit3-small']
    assert model.pos_embed.shape == (1, 196, 384)
    assert [b.drop_path1.drop_prob for b in model.blocks] == [0.05] * 12
    assert all(isinstance(b.ls1, LayerScale) for b in model.blocks)
    assert model.layer_scale_init_value == 1e-4


@pytest.mark.e2e
def test_digits_config_trains(bundled_digits, tmp_path, repo_root,
                              subprocess_env):
    """configs/bundled/deit/sup-deit3-4l192d-p8_1xb16_digits.py through
    tools/train.py:
    2 epochs on 320 images (20 steps each), the loss goes down, then top-1
    on val (the full 15-epoch run reaches about 92%)."""
    smoke_train(repo_root,
                'configs/bundled/deit/sup-deit3-4l192d-p8_1xb16_digits.py',
                tmp_path, 'train_dataloader.dataset.indices=320',
                'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                env=subprocess_env)
    assert logged(tmp_path, 'accuracy/top1')
