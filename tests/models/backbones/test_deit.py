# Copyright (c) mmvitplug contributors.
from functools import partial

import pytest
import torch
import torch.nn as nn

from mmvitplug.layers import resize_pos_embed
from mmvitplug.models.backbones import DeiT
from _builders import TINY_ARCHS, build_tiny

# The mmpretrain backbone contract (out_indices / out_type, frozen_stages,
# with_cp, drop_path_rate, get_layer_depth, Pretrained init_cfg, argument
# errors, ...) is checked for every family in test_contract.py;
# this file tests what is DeiT-specific.
ARCH = TINY_ARCHS['DeiT']
tiny = partial(build_tiny, DeiT)


def test_arch_and_names():
    model = tiny(distilled=True)
    assert (model.embed_dims, model.num_layers) == (32, 3)
    assert model.num_extra_tokens == 2 and model.patch_size == 8
    assert model.pos_embed.shape == (1, 2 + 16, 32)
    names = {n for n, _ in model.named_parameters()}
    for key in ('patch_embed.proj.weight', 'cls_token', 'dist_token',
                'pos_embed', 'blocks.2.norm1.weight', 'blocks.2.attn.qkv.bias',
                'blocks.2.attn.proj.weight', 'blocks.2.norm2.bias',
                'blocks.2.mlp.fc1.weight', 'blocks.2.mlp.fc2.bias',
                'norm.weight'):
        assert key in names
    assert tiny().dist_token is None
    assert isinstance(tiny(final_norm=False).norm, nn.Identity)
    assert tiny(qkv_bias=False).blocks[0].attn.qkv.bias is None
    assert DeiT('deit-tiny-384').patch_embed.img_size == (384, 384)
    assert DeiT('deit-tiny', img_size=(224, 160)).pos_embed.shape[1] == 141


def test_distilled_outputs():
    model = tiny(distilled=True, out_type='raw').eval()
    x = torch.randn(2, 3, 32, 48)
    (raw, ) = model(x)
    assert raw.shape == (2, 2 + 24, 32)
    model.out_type = 'cls_token'
    ((cls, dist), ) = model(x)
    torch.testing.assert_close(cls, raw[:, 0])
    torch.testing.assert_close(dist, raw[:, 1])
    model.out_type = 'featmap'
    (fmap, ) = model(x)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), raw[:, 2:])


def test_dropout_rates_reach_layers():
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2)
    assert model.pos_drop.p == 0.1
    assert model.blocks[1].attn.attn_drop.p == 0.2
    assert model.blocks[1].attn.proj_drop.p == 0.1
    assert model.blocks[1].mlp.drop.p == 0.1


def test_default_init():
    model = tiny()
    qkv = model.blocks[0].attn.qkv
    assert 0.015 < qkv.weight.std().item() < 0.025
    assert torch.all(qkv.bias == 0)
    assert 0.015 < model.pos_embed.std().item() < 0.025
    assert model.cls_token.abs().sum() > 0
    assert torch.all(model.norm.weight == 1)
    assert torch.all(model.norm.bias == 0)


def test_norm_cfg():
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3))
    assert model.blocks[0].norm1.eps == 1e-3 and model.norm.eps == 1e-3


@pytest.mark.parametrize('arch, millions, exact', [
    ('deit-tiny', 5.7, 5_717_416),
    ('deit-small', 22.1, 22_050_664),
    ('deit-base', 86.6, 86_567_656),
    ('deit-base-384', 86.9, 86_859_496),
])
def test_paper_parameter_counts(arch, millions, exact):
    with torch.device('meta'):
        model = DeiT(arch)
    count = sum(p.numel() for p in model.parameters())
    count += model.embed_dims * 1000 + 1000  # ImageNet classifier
    assert count == exact
    assert round(count / 1e6, 1) == millions


# --------------------------------------------------------------- timm parity
PARITY = [
    ('deit_tiny_patch16_224', 'deit-tiny', 224),
    ('deit_small_patch16_224', 'deit-small', 224),
    pytest.param('deit_base_patch16_224', 'deit-base', 224,
                 marks=pytest.mark.e2e),
    pytest.param('deit_base_patch16_384', 'deit-base-384', 384,
                 marks=pytest.mark.e2e),
]


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
@pytest.mark.parametrize('name, arch, size', PARITY)
def test_timm_parity(name, arch, size, fused_attn):
    timm = pytest.importorskip('timm')
    from mmvitplug.converters import convert_deit
    torch.manual_seed(0)
    ref = timm.create_model(name, pretrained=False).eval()
    # timm's random init stands in for the official checkpoint (same layout)
    state = convert_deit({'model': ref.state_dict()})
    ours = build_classifier(arch, fused_attn=fused_attn).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = ref(x)
        logits = ours(x, mode='tensor')
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_pretrained_224_into_384(tmp_path):
    """224 weights in a 384 model: pos_embed resized like official DeiT."""
    timm = pytest.importorskip('timm')
    from timm.layers import resample_abs_pos_embed
    torch.manual_seed(0)
    state = timm.create_model('deit_tiny_patch16_224').state_dict()
    torch.save({'model': state}, tmp_path / 'deit_tiny_224.pth')
    ours = build_classifier(
        'deit-tiny-384',
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(tmp_path / 'deit_tiny_224.pth'),
            prefix='backbone.'))
    ours.init_weights()
    ours.eval()
    # non-antialiased bicubic, as the official 384 fine-tuning did
    pos = resample_abs_pos_embed(
        state['pos_embed'], [24, 24], antialias=False)
    torch.testing.assert_close(ours.backbone.pos_embed.data, pos)
    torch.testing.assert_close(
        ours.backbone.pos_embed.data,
        resize_pos_embed(state['pos_embed'], (14, 14), (24, 24)))

    ref = timm.create_model('deit_tiny_patch16_224', img_size=384).eval()
    ref.load_state_dict(dict(state, pos_embed=pos))
    ours.head.fc.load_state_dict(ref.head.state_dict())
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, mode='tensor'), ref(x), atol=1e-4, rtol=1e-4)


def test_norm_all_outputs_equals_timm_intermediate_layers():
    """DINO's linear evaluation features: the class tokens of the last 4
    blocks, each after the final norm (timm's ``get_intermediate_layers``
    with ``norm=True``, the official DINO ``get_intermediate_layers``)."""
    timm = pytest.importorskip('timm')
    from mmvitplug.converters import convert_deit
    torch.manual_seed(0)
    ref = timm.create_model(
        'vit_small_patch16_224', img_size=32, patch_size=8, depth=5,
        embed_dim=32, num_heads=2, mlp_ratio=2, num_classes=0).eval()
    state = convert_deit({'model': ref.state_dict()})
    state = {k[len('backbone.'):]: v for k, v in state.items()
             if k.startswith('backbone.')}
    arch = dict(embed_dims=32, num_layers=5, num_heads=2,
                feedforward_channels=64)
    ours = DeiT(arch=arch, img_size=32, patch_size=8, out_indices=(1, 2, 3, 4),
                norm_all_outputs=True).eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = ref.get_intermediate_layers(
            x, n=4, return_prefix_tokens=True, norm=True)
        outs = ours(x)
        plain = DeiT(arch=arch, img_size=32, patch_size=8,
                     out_indices=(1, 2, 3, 4)).eval()
        plain.load_state_dict(state)
        unnormed = plain(x)
    for out, (_, prefix) in zip(outs, expected):
        torch.testing.assert_close(out, prefix[:, 0], atol=1e-5, rtol=1e-5)
    # without it only the last block's output is normalised
    torch.testing.assert_close(unnormed[-1], outs[-1])
    assert not torch.allclose(unnormed[0], outs[0], atol=1e-3)
    with pytest.raises(ValueError, match='needs final_norm=True'):
        DeiT(arch=arch, final_norm=False, norm_all_outputs=True)
