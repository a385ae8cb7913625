# Copyright (c) mmvitplug contributors.
import pytest
import torch
import torch.nn as nn

from mmvitplug.layers import resize_pos_embed
from mmvitplug.models.backbones import DeiT

ARCH = dict(embed_dims=32, num_layers=3, num_heads=2, feedforward_channels=64)


def tiny(**kwargs):
    kwargs.setdefault('arch', ARCH)
    kwargs.setdefault('img_size', 32)
    kwargs.setdefault('patch_size', 8)
    torch.manual_seed(0)
    model = DeiT(**kwargs)
    model.init_weights()
    return model


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


@pytest.mark.parametrize('out_indices', [-1, 0, (0, -1), (-3, 1, 2)])
def test_out_types(out_indices):
    model = tiny(out_indices=out_indices, out_type='raw').eval()
    x = torch.randn(2, 3, 32, 48)  # 4 x 6 patches
    raws = model(x)
    n = 1 if isinstance(out_indices, int) else len(set(
        i % 3 for i in out_indices))
    assert len(raws) == n
    for raw in raws:
        assert raw.shape == (2, 1 + 24, 32)
    model.out_type = 'cls_token'
    for raw, out in zip(raws, model(x)):
        torch.testing.assert_close(out, raw[:, 0])
    model.out_type = 'avg_featmap'
    for raw, out in zip(raws, model(x)):
        torch.testing.assert_close(out, raw[:, 1:].mean(1))
    model.out_type = 'featmap'
    for raw, out in zip(raws, model(x)):
        assert out.shape == (2, 32, 4, 6)
        # row-major patch order: patch (i, j) is token 1 + 6 * i + j
        torch.testing.assert_close(out[:, :, 3, 2], raw[:, 1 + 6 * 3 + 2])


def test_out_indices_select_blocks_and_final_norm():
    model = tiny(out_indices=(0, 1, 2), out_type='raw').eval()
    x = torch.randn(2, 3, 32, 32)
    o0, o1, o2 = model(x)
    ref = model.norm(model.blocks[2](o1))
    torch.testing.assert_close(o2, ref)
    torch.testing.assert_close(o1, model.blocks[1](o0))
    no_norm = tiny(out_type='raw', final_norm=False).eval()
    no_norm.load_state_dict(model.state_dict(), strict=False)
    torch.testing.assert_close(no_norm(x)[0], model.blocks[2](o1))


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


def test_pos_embed_interpolated_to_input_grid():
    small = tiny(out_type='raw').eval()
    x = torch.randn(1, 3, 32, 48)
    big = tiny(out_type='raw', img_size=(32, 48)).eval()
    state = small.state_dict()
    state['pos_embed'] = resize_pos_embed(small.pos_embed, (4, 4), (4, 6))
    big.load_state_dict(state)
    torch.testing.assert_close(small(x)[0], big(x)[0])
    small.interpolate_mode = 'nearest'
    assert not torch.allclose(small(x)[0], big(x)[0])


@pytest.mark.parametrize('distilled', [False, True])
def test_all_parameters_receive_gradients(distilled):
    model = tiny(distilled=distilled, drop_rate=0.1, drop_path_rate=0.1)
    (out, ) = model(torch.randn(2, 3, 32, 32))
    loss = sum(o.square().sum() for o in out) if distilled else \
        out.square().sum()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('frozen_stages', [0, 1, 3])
def test_frozen_stages(frozen_stages):
    model = tiny(
        distilled=True, frozen_stages=frozen_stages, drop_rate=0.5)
    frozen_prefixes = ['patch_embed', 'cls_token', 'dist_token', 'pos_embed']
    frozen_prefixes += [f'blocks.{i}.' for i in range(frozen_stages)]
    if frozen_stages == 3:
        frozen_prefixes.append('norm.')
    is_frozen = {
        n: n.startswith(tuple(frozen_prefixes))
        for n, _ in model.named_parameters()
    }
    for name, p in model.named_parameters():
        assert p.requires_grad != is_frozen[name], name

    model.train()
    assert not model.patch_embed.training and not model.pos_drop.training
    for i, block in enumerate(model.blocks):
        assert block.training == (i >= frozen_stages)
        assert block.norm1.training == (i >= frozen_stages)
    assert model.norm.training == (frozen_stages < 3)

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    head = nn.Linear(32, 3)
    # all parameters go to the optimizer, as in an mmengine runner
    opt = torch.optim.SGD([*model.parameters(), *head.parameters()],
                          lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        (cls, dist), = model(torch.randn(2, 3, 32, 32))
        (head(cls).square().sum() + head(dist).sum()).backward()
        opt.step()
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name]) == is_frozen[name], name


def test_with_cp_identical(monkeypatch):
    from mmvitplug.models.backbones import deit
    calls = []
    real = deit.cp.checkpoint

    def counting(*args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return real(*args, **kwargs)

    monkeypatch.setattr(deit.cp, 'checkpoint', counting)
    kwargs = dict(drop_path_rate=0.3, drop_rate=0.2, out_type='featmap')
    ref, ckpt = tiny(**kwargs).train(), tiny(with_cp=True, **kwargs).train()
    ckpt.load_state_dict(ref.state_dict())
    x = torch.randn(4, 3, 32, 32)
    outs, grads = [], []
    for model in (ref, ckpt):
        torch.manual_seed(1)
        (out, ) = model(x)
        out.square().sum().backward()
        outs.append(out)
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert calls == [False] * 3
    torch.testing.assert_close(outs[0], outs[1])
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], msg=name)
    ckpt.eval()(x)
    assert len(calls) == 3  # no checkpointing outside training


def test_drop_path_rate_linear_and_stochastic():
    model = tiny(drop_path_rate=0.2, arch=dict(ARCH, num_layers=5))
    assert isinstance(model.blocks[0].drop_path1, nn.Identity)
    rates = [b.drop_path1.drop_prob for b in model.blocks[1:]]
    assert rates == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert [b.drop_path2.drop_prob for b in model.blocks[1:]] == rates
    x = torch.randn(8, 3, 32, 32)
    model.train()
    assert not torch.allclose(model(x)[0], model(x)[0])
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])


def test_dropout_rates_reach_layers():
    model = tiny(drop_rate=0.1, attn_drop_rate=0.2)
    assert model.pos_drop.p == 0.1
    assert model.blocks[1].attn.attn_drop.p == 0.2
    assert model.blocks[1].attn.proj_drop.p == 0.1
    assert model.blocks[1].mlp.drop.p == 0.1


def test_fused_attn_switch():
    fused, explicit = tiny(out_type='raw'), tiny(
        out_type='raw', fused_attn=False)
    assert all(b.attn.fused_attn for b in fused.blocks)
    assert not any(b.attn.fused_attn for b in explicit.blocks)
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(
        fused.eval()(x)[0], explicit.eval()(x)[0], atol=1e-5, rtol=0)


def test_get_layer_depth():
    model = tiny(distilled=True)
    depth = model.get_layer_depth
    for name in ('cls_token', 'dist_token', 'pos_embed',
                 'patch_embed.proj.weight'):
        assert depth(name) == (0, 5)
        assert depth('backbone.' + name, prefix='backbone.') == (0, 5)
    assert depth('blocks.0.attn.qkv.weight') == (1, 5)
    assert depth('backbone.blocks.2.mlp.fc1.bias', 'backbone.') == (3, 5)
    assert depth('norm.weight') == (4, 5)
    assert depth('head.fc.weight', prefix='backbone.') == (4, 5)


def test_default_init():
    model = tiny()
    qkv = model.blocks[0].attn.qkv
    assert 0.015 < qkv.weight.std().item() < 0.025
    assert torch.all(qkv.bias == 0)
    assert 0.015 < model.pos_embed.std().item() < 0.025
    assert model.cls_token.abs().sum() > 0
    assert torch.all(model.norm.weight == 1)
    assert torch.all(model.norm.bias == 0)
    custom = tiny(init_cfg=dict(type='Constant', layer='Linear', val=0.5))
    assert torch.all(custom.blocks[0].mlp.fc1.weight == 0.5)


def test_norm_cfg():
    model = tiny(norm_cfg=dict(type='LN', eps=1e-3))
    assert model.blocks[0].norm1.eps == 1e-3 and model.norm.eps == 1e-3


def test_in_channels():
    model = tiny(in_channels=1)
    assert model(torch.randn(1, 1, 32, 32))[0].shape == (1, 32)


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='deit-huge'), "Unknown arch 'deit-huge'.*deit-base-384"),
    (dict(arch=dict(embed_dims=8, num_layers=1, num_heads=1)),
     'feedforward_channels'),
    (dict(arch=dict(ARCH, depth=3)), "unknown \\['depth'\\]"),
    (dict(out_indices=3), r'-3\.\.2'),
    (dict(out_indices=(0, -4)), r'-3\.\.2'),
    (dict(out_type='pooled'),
     "Unknown out_type 'pooled'.*'cls_token', 'featmap', 'avg_featmap'"),
    (dict(frozen_stages=4), r'\[-1, 3\]'),
    (dict(img_size=36), 'not divisible by the patch size'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_bad_input_size():
    with pytest.raises(ValueError, match='32x36.*patch size 8x8'):
        tiny()(torch.randn(1, 3, 32, 36))


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
