# Copyright (c) mmvitplug contributors.
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.converters.resmlp import convert_resmlp
from mmvitplug.layers.affine import Affine
from mmvitplug.models.backbones.resmlp import ResMLP, resize_linear_tokens
from _builders import TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, ...) is checked for every family in test_contract.py;
# this file tests what is ResMLP-specific.
ARCH = TINY_ARCHS['ResMLP']
tiny = partial(build_tiny, ResMLP)


def randomize(module, seed=0):
    """Random vectors and head (Affine / LayerScale / biases start trivial).

    Matrices keep their initialisation, so activations stay well scaled.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim == 1 or name.startswith('head'):
                noise = torch.randn(p.shape, generator=gen)
                base = 1. if name.endswith('alpha') else 0.
                p.copy_(base + 0.1 * noise)
    return module


# --------------------------------------------------------------- Affine
def test_affine():
    affine = Affine(4)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(affine(x), x)  # identity at init
    with torch.no_grad():
        affine.alpha.copy_(torch.tensor([1., 2., 3., 4.]))
        affine.beta.copy_(torch.tensor([0., 1., 0., -1.]))
    torch.testing.assert_close(affine(x), x * affine.alpha + affine.beta)
    affine.reset_parameters()
    assert torch.all(affine.alpha == 1) and torch.all(affine.beta == 0)
    assert [n for n, _ in affine.named_parameters()] == ['alpha', 'beta']


# ------------------------------------------------------------- backbone
def test_arch_and_names():
    model = tiny()
    assert (model.embed_dims, model.num_layers) == (32, 3)
    assert model.patch_size == 8 and model.num_patches == 16
    names = {n: p.shape for n, p in model.named_parameters()}
    expected = {
        'patch_embed.proj.weight': (32, 3, 8, 8),
        'blocks.2.norm1.alpha': (32, ),
        'blocks.2.norm1.beta': (32, ),
        'blocks.2.linear_tokens.weight': (16, 16),
        'blocks.2.linear_tokens.bias': (16, ),
        'blocks.2.ls1.gamma': (32, ),
        'blocks.2.norm2.alpha': (32, ),
        'blocks.2.mlp_channels.fc1.weight': (64, 32),
        'blocks.2.mlp_channels.fc2.bias': (32, ),
        'blocks.2.ls2.gamma': (32, ),
        'norm.alpha': (32, ),
        'norm.beta': (32, ),
    }
    for key, shape in expected.items():
        assert names[key] == shape, key
    assert not any('cls_token' in n or 'pos_embed' in n for n in names)
    assert isinstance(tiny(final_norm=False).norm, nn.Identity)
    with torch.device('meta'):
        assert ResMLP('resmlp-big-24').patch_size == 8
        assert ResMLP('resmlp-12').num_patches == 196
        big = ResMLP('resmlp-big-24', img_size=(64, 32))
    assert big.blocks[0].linear_tokens.weight.shape == (32, 32)


@pytest.mark.parametrize('arch, init', [('resmlp-12', 0.1),
                                        ('resmlp-24', 1e-5),
                                        ('resmlp-36', 1e-6),
                                        ('resmlp-big-24', 1e-6)])
def test_layer_scale_init(arch, init):
    """Official init_scale per depth (timm uses 1e-4 for resmlp_12)."""
    assert ResMLP.arch_zoo[arch]['init_values'] == init
    small = dict(ResMLP.arch_zoo[arch], embed_dims=8,
                 feedforward_channels=8, num_layers=2)
    model = ResMLP(small, img_size=16, patch_size=8)
    for block in model.blocks:
        assert torch.all(block.ls1.gamma == init)
        assert torch.all(block.ls2.gamma == init)
    custom = ResMLP(small, img_size=16, patch_size=8,
                    layer_scale_init_value=0.5)
    assert torch.all(custom.blocks[1].ls2.gamma == 0.5)


@pytest.mark.parametrize('arch, millions, exact', [
    ('resmlp-12', 15.4, 15_350_872),
    ('resmlp-24', 30.0, 30_020_680),
    ('resmlp-36', 44.7, 44_690_488),
    ('resmlp-big-24', 129.1, 129_138_280),
])
def test_paper_parameter_counts(arch, millions, exact):
    timm = pytest.importorskip('timm')
    name = arch.replace('-', '_') + '_224'
    with torch.device('meta'):
        model = ResMLP(arch)
        ref = timm.create_model(name)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == sum(p.numel() for p in ref.parameters()) == exact
    assert round(count / 1e6, 1) == millions


def test_block_computation():
    """The block against the paper's equations, written out by hand."""
    block = randomize(tiny()).blocks[0].eval()
    x = torch.randn(2, 16, 32)
    a1, b1 = block.norm1.alpha, block.norm1.beta
    w, b = block.linear_tokens.weight, block.linear_tokens.bias
    z = x + block.ls1.gamma * (
        torch.einsum('nm,bmc->bnc', w, a1 * x + b1) + b[None, :, None])
    mlp = block.mlp_channels
    h = block.norm2.alpha * z + block.norm2.beta
    y = z + block.ls2.gamma * mlp.fc2(nn.functional.gelu(mlp.fc1(h)))
    torch.testing.assert_close(block(x), y)


def test_drop_rate_reaches_mlps():
    model = tiny(drop_rate=0.1)
    assert all(b.mlp_channels.drop.p == 0.1 for b in model.blocks)


def test_default_init():
    model = tiny()
    lin = model.blocks[0].linear_tokens
    fc1 = model.blocks[0].mlp_channels.fc1
    assert 0.015 < fc1.weight.std().item() < 0.025
    assert 0.01 < lin.weight.std().item() < 0.03
    assert torch.all(lin.bias == 0) and torch.all(fc1.bias == 0)
    with torch.no_grad():
        model.norm.alpha.fill_(3.)
    model._is_init = False
    model.init_weights()
    assert torch.all(model.norm.alpha == 1) and torch.all(model.norm.beta == 0)


def test_cls_token_out_type_is_explained():
    match = "no class token.*'avg_featmap', 'featmap', 'raw'"
    with pytest.raises(ValueError, match=match):
        tiny(out_type='cls_token')


@pytest.mark.parametrize('size', [(32, 48), (64, 64), (24, 24)])
def test_other_input_size_is_rejected(size):
    with pytest.raises(ValueError,
                       match=f'{size[0]}x{size[1]} input.*img_size 32x32.*'
                       '4x4 patch grid.*Pretrained'):
        tiny()(torch.randn(1, 3, *size))


# ------------------------------------------------ cross-patch resizing
def test_resize_identity_downsample_is_identity():
    eye = torch.eye(64)
    w, b = resize_linear_tokens(eye, torch.zeros(64), (8, 8), (4, 4))
    torch.testing.assert_close(w, torch.eye(16))
    torch.testing.assert_close(b, torch.zeros(16))
    w, _ = resize_linear_tokens(torch.eye(32), None, (8, 4), (4, 2))
    torch.testing.assert_close(w, torch.eye(8))


def test_resize_identity_upsample_is_identity_like():
    w, b = resize_linear_tokens(torch.eye(16), torch.full((16, ), 0.5),
                                (4, 4), (8, 8))
    assert w.shape == (64, 64) and b.shape == (64, )
    torch.testing.assert_close(b, torch.full((64, ), 0.5))
    # constant inputs stay constant: every output keeps total weight 1
    torch.testing.assert_close(w.sum(1), torch.ones(64))
    # away from the border, each output is dominated by its own position
    inner = torch.arange(64).reshape(8, 8)[2:-2, 2:-2].flatten()
    assert torch.equal(w[inner].argmax(1), inner)
    # a linear ramp is reproduced where the kernel misses the border
    ramp = torch.arange(8.).repeat(8, 1)  # value = column index
    out = (w @ ramp.flatten()).reshape(8, 8)
    torch.testing.assert_close(out[:, 3:-3], ramp[:, 3:-3])


def test_resize_round_trip_and_errors():
    torch.manual_seed(0)
    w = torch.randn(16, 16)
    same, none = resize_linear_tokens(w, None, (4, 4), (4, 4))
    torch.testing.assert_close(same, w)
    assert none is None
    with pytest.raises(ValueError, match='does not match the 5x5 grid'):
        resize_linear_tokens(w, None, (5, 5), (4, 4))
    with pytest.raises(ValueError, match='bias of shape'):
        resize_linear_tokens(w, torch.zeros(15), (4, 4), (2, 2))


def test_pretrained_other_grid_is_resized(tmp_path):
    src = randomize(tiny())  # 4x4 grid
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in src.state_dict().items()}},
               tmp_path / 'small.pth')
    big = tiny(img_size=64, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'small.pth'),
        prefix='backbone.'))  # 8x8 grid
    for i in range(3):
        w, b = resize_linear_tokens(src.blocks[i].linear_tokens.weight,
                                    src.blocks[i].linear_tokens.bias,
                                    (4, 4), (8, 8))
        torch.testing.assert_close(big.blocks[i].linear_tokens.weight, w)
        torch.testing.assert_close(big.blocks[i].linear_tokens.bias, b)
    for key, value in src.state_dict().items():
        if 'linear_tokens' not in key:
            torch.testing.assert_close(big.state_dict()[key], value)
    assert big.is_init
    with torch.no_grad():
        big.norm.alpha.fill_(7.)
    big.init_weights()  # already initialised: left alone
    assert torch.all(big.norm.alpha == 7.)


def test_pretrained_non_square_grid_raises(tmp_path):
    src = tiny(img_size=(32, 48))  # 4x6 = 24 patches
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in src.state_dict().items()}},
               tmp_path / 'wide.pth')
    model = ResMLP(ARCH, img_size=32, patch_size=8, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'wide.pth'),
        prefix='backbone.'))
    with pytest.raises(ValueError, match='square patch grid.*img_size'):
        model.init_weights()


# ------------------------------------------------------------ converter
def official_state(timm_state):
    """timm -> official layout, written independently of the converter."""
    out = {}
    for key, value in timm_state.items():
        key = key.replace('stem.', 'patch_embed.')
        key = key.replace('linear_tokens.', 'attn.')
        key = key.replace('mlp_channels.', 'mlp.')
        key = key.replace('.ls1', '.gamma_1').replace('.ls2', '.gamma_2')
        if key.endswith(('.alpha', '.beta')):
            value = value.reshape(-1)
        out[key] = value
    return out


@pytest.fixture(scope='module')
def timm_resmlp12():
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    ref = timm.create_model('resmlp_12_224', pretrained=False).eval()
    return randomize(ref, seed=1)


def test_convert_layouts_agree(timm_resmlp12):
    timm_state = timm_resmlp12.state_dict()
    from_timm = convert_resmlp(timm_state)
    from_official = convert_resmlp({'model': official_state(timm_state)})
    assert from_timm.keys() == from_official.keys()
    for key, value in from_timm.items():
        torch.testing.assert_close(from_official[key], value)
    with torch.device('meta'):
        backbone = ResMLP('resmlp-12')
    expected = {f'backbone.{k}': v.shape
                for k, v in backbone.state_dict().items()}
    expected.update({'head.fc.weight': (1000, 384), 'head.fc.bias': (1000, )})
    assert {k: v.shape for k, v in from_timm.items()} == expected
    assert from_timm['backbone.blocks.3.norm1.alpha'].shape == (384, )
    assert torch.equal(from_timm['backbone.blocks.3.ls2.gamma'],
                       timm_state['blocks.3.ls2'])
    assert torch.equal(from_timm['backbone.blocks.3.linear_tokens.weight'],
                       timm_state['blocks.3.linear_tokens.weight'])


def test_convert_distilled_checkpoint_layout():
    """Distilled ResMLPs (resmlp_*_dist.pth) have the same single head."""
    timm = pytest.importorskip('timm')
    with torch.device('meta'):
        plain = timm.create_model('resmlp_24_224').state_dict()
        dist = timm.create_model('resmlp_24_224.fb_distilled_in1k')
    dist = dist.state_dict()
    assert dist.keys() == plain.keys()
    out = convert_resmlp({k: torch.zeros(v.shape) for k, v in dist.items()})
    assert [k for k in out if k.startswith('head')] == ['head.fc.weight',
                                                        'head.fc.bias']
    assert 'backbone.blocks.23.ls2.gamma' in out


def test_convert_bare_backbone_passes_through():
    state = tiny().state_dict()
    out = convert_resmlp(state)
    assert out.keys() == {f'backbone.{k}' for k in state}
    for key, value in state.items():
        assert torch.equal(out[f'backbone.{key}'], value)


def test_convert_unknown_keys():
    state = dict(tiny().state_dict())
    state['blocks.0.attn.qkv.weight'] = torch.zeros(1)
    state['cls_token'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"2 key\(s\).*'blocks.0.attn.qkv"):
        convert_resmlp(state)
    with pytest.raises(KeyError, match='head_dist'):
        convert_resmlp({'head_dist.weight': torch.zeros(1)})


@pytest.fixture
def timm_tiny():
    """timm's ResMLP classes at the size of ``tiny()``, random weights."""
    pytest.importorskip('timm')
    from timm.models.mlp_mixer import Affine as TimmAffine
    from timm.models.mlp_mixer import MlpMixer, ResBlock
    torch.manual_seed(0)
    ref = MlpMixer(num_classes=10, img_size=32, patch_size=8, num_blocks=3,
                   embed_dim=32, mlp_ratio=2, block_layer=ResBlock,
                   norm_layer=TimmAffine)
    return randomize(ref, seed=2).eval()


def test_converter_used_by_pretrained(tmp_path, timm_tiny):
    """An official checkpoint ({'model': ...}) loads into a bare backbone."""
    torch.save({'model': official_state(timm_tiny.state_dict())},
               tmp_path / 'resmlp_official.pth')
    model = ResMLP(ARCH, img_size=32, patch_size=8, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'resmlp_official.pth')))
    model.init_weights()
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = timm_tiny.forward_features(x).mean(1)
        torch.testing.assert_close(model(x)[0], expected)


# ---------------------------------------------------------- timm parity
def build_classifier(arch, **backbone):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmvitplug.ResMLP', arch=arch,
                          out_type='avg_featmap', **backbone),
            neck=None,
            head=dict(
                type='LinearClsHead', num_classes=1000,
                in_channels=ResMLP.arch_zoo[arch]['embed_dims'])))


def test_timm_parity(timm_resmlp12):
    state = convert_resmlp(timm_resmlp12.state_dict())
    ours = build_classifier('resmlp-12').eval()
    ours.load_state_dict(state, strict=True)
    torch.manual_seed(2)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = timm_resmlp12(x)
        logits = ours(x, mode='tensor')
    assert expected.abs().max() > 1  # random head: non-trivial logits
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_timm_parity_featmap(timm_tiny):
    state = convert_resmlp(timm_tiny.state_dict())
    ours = ResMLP(ARCH, img_size=32, patch_size=8, out_type='featmap',
                  out_indices=(1, 2))
    ours.load_state_dict({k[9:]: v for k, v in state.items()
                          if k.startswith('backbone.')})
    ours.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        mid, last = ours(x)
        tokens = timm_tiny.stem(x)
        for block in timm_tiny.blocks[:2]:
            tokens = block(tokens)
        ref_last = timm_tiny.forward_features(x)
    assert mid.shape == last.shape == (2, 32, 4, 4)
    torch.testing.assert_close(mid.flatten(2).transpose(1, 2), tokens)
    torch.testing.assert_close(last.flatten(2).transpose(1, 2), ref_last)
