# Copyright (c) mmvitplug contributors.
"""Mesa (https://arxiv.org/abs/2111.11124): 8-bit codes of the tensors
saved for backward, exact forward.

Gradients are compared with full-precision autograd's: every wrapped op's
parameter and input gradients are within ``GRAD_RTOL`` (relative Frobenius
error) of fp32's; with 255 steps per group range the measured errors are
~1e-3..1.5e-2.
"""
import copy
import types

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from mmvitplug.layers import Attention, Block, attend, count_saved_bytes
from mmvitplug.layers.mesa import (MESA_OPS, MesaAttend, MesaBatchNorm2d,
                                   MesaConv2d, MesaGELU, MesaLayerNorm,
                                   MesaLinear, MesaMatMul, MesaQuantizer,
                                   MesaReLU, MesaSoftmax, check_policy,
                                   convert_to_mesa, dequantize, packbits,
                                   quantize, unpackbits)

#: relative error of Mesa gradients w.r.t. fp32 autograd's
GRAD_RTOL = 3e-2
DIGITS = 'configs/bundled/mesa/mesa-deit-4l192d-p8_1xb16_digits.py'


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


# ----------------------------------------------------------------------------
# quantise / dequantise
# ----------------------------------------------------------------------------


def test_quantize_hand_values_and_clamp():
    # alpha 1, beta 0, round to nearest: code = round(x * 255)
    x = torch.tensor([[0., 0.5, 1., 0.26, 2., -1.]])
    codes = quantize(x, torch.ones(1), torch.zeros(1), noise=0.5)
    assert codes.dtype == torch.uint8
    # 127.5 rounds half to even; 2 (beyond the range) clamps to 255 where
    # the official kernel would store 510 & 0xff = 254, -1 clamps to 0
    assert codes.tolist() == [[0, 128, 255, 66, 255, 0]]
    back = dequantize(codes, torch.ones(1), torch.zeros(1))
    assert torch.allclose(back, torch.tensor(
        [[0., 128 / 255, 1., 66 / 255, 1., 0.]]))


def test_quantize_groups():
    # two groups of the last dimension, each with its own range / offset
    x = torch.tensor([[1., 2., 10., 30.]])
    clip, shift = torch.tensor([1., 20.]), torch.tensor([1., 10.])
    codes = quantize(x, clip, shift, group_dim=-1, noise=0.5)
    assert codes.tolist() == [[0, 255, 0, 255]]
    # grouping along dimension 1 (heads)
    y = torch.stack([torch.zeros(2, 3), torch.full((2, 3), 4.)])[None]
    codes = quantize(y, torch.tensor([1., 4.]), torch.tensor([0., 2.]),
                     group_dim=1, noise=0.5)
    assert codes[0, 0].eq(0).all() and codes[0, 1].eq(128).all()
    with pytest.raises(ValueError, match='not divisible by num_groups=3'):
        quantize(x, torch.ones(3), torch.zeros(3))


@pytest.mark.parametrize('noise', [0.5, None])
def test_round_trip_error_bound(noise):
    torch.manual_seed(0)
    x = torch.randn(8, 16, 12) * torch.tensor([1., 10., 0.1]).repeat(4)
    q = MesaQuantizer(num_groups=3)
    q.update(x)
    codes = quantize(x, q.clip_val, q.shift, noise=noise)
    back = dequantize(codes, q.clip_val, q.shift)
    step = (q.clip_val / 255).repeat_interleave(4)
    err = (back - x).abs()
    # nearest: half a step; stochastic: under one step
    bound = step / 2 if noise == 0.5 else step
    assert (err <= bound * (1 + 1e-5) + 1e-7).all()
    if noise is None:  # stochastic rounding is unbiased
        many = torch.stack([
            dequantize(quantize(x, q.clip_val, q.shift), q.clip_val,
                       q.shift) for _ in range(200)
        ]).mean(0)
        assert ((many - x).abs() <= step * 0.25).float().mean() > 0.99


def test_quantizer_ema_by_hand():
    q = MesaQuantizer(num_groups=2, ema_decay=0.9)
    a = torch.tensor([[0., 1., -2., 2.]])  # groups (0, 1) and (-2, 2)
    b = torch.tensor([[1., 3., 0., 1.]])  # ranges 2 and 1, mins 1 and 0
    q.update(a)  # the first update sets them
    assert q.clip_val.tolist() == [1., 4.] and q.shift.tolist() == [0., -2.]
    q.update(b)
    assert torch.allclose(q.clip_val, torch.tensor([.9 * 1 + .1 * 2,
                                                    .9 * 4 + .1 * 1]))
    assert torch.allclose(q.shift, torch.tensor([.9 * 0 + .1 * 1,
                                                 .9 * -2 + .1 * 0]))
    assert q.num_updates.item() == 2
    # buffers, not parameters, and not in the state dict
    assert not list(q.parameters()) and q.state_dict() == {}
    assert {n for n, _ in q.named_buffers()} == {
        'clip_val', 'shift', 'num_updates'}


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_groups=0), 'num_groups'),
    (dict(ema_decay=1.), 'ema_decay'),
    (dict(group_dim='x'), 'group_dim'),
])
def test_quantizer_bad_args(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MesaQuantizer(**kwargs)


def test_packbits_round_trip():
    mask = torch.rand(3, 7, 5) > 0.5
    packed = packbits(mask)
    assert packed.dtype == torch.uint8 and packed.numel() == 14  # 105 bits
    assert torch.equal(unpackbits(packed, mask.shape), mask)


# ----------------------------------------------------------------------------
# each op: forward bit-identical, gradients close to fp32's
# ----------------------------------------------------------------------------


def _params(fn):
    return list(fn.parameters()) if isinstance(fn, nn.Module) else []


def _check_op(plain, mesa, *inputs, exact_grad=False):
    torch.manual_seed(1)
    ins1 = [x.clone().requires_grad_() for x in inputs]
    ins2 = [x.clone().requires_grad_() for x in inputs]
    y1, y2 = plain(*ins1), mesa(*ins2)
    assert torch.equal(y1, y2)
    g = torch.randn_like(y1)
    y1.backward(g)
    y2.backward(g)
    grads = [(a.grad, b.grad) for a, b in zip(ins1, ins2)]
    grads += [(p1.grad, p2.grad)
              for p1, p2 in zip(_params(plain), _params(mesa))]
    for g1, g2 in grads:
        if exact_grad:
            assert torch.equal(g1, g2)
        else:
            assert rel_err(g2, g1) < GRAD_RTOL
    return grads


def _pair(module, convert, **kwargs):
    torch.manual_seed(0)
    plain = module.train()
    return plain, convert(copy.deepcopy(plain), **kwargs).train()


def test_linear():
    plain, mesa = _pair(nn.Linear(12, 5), MesaLinear.from_module,
                        num_groups=3)
    _check_op(plain, mesa, torch.randn(4, 7, 12))
    assert isinstance(mesa, nn.Linear) and mesa.mesa_quant.num_groups == 3
    assert mesa.mesa_quant.num_updates.item() == 1
    with pytest.raises(ValueError, match='in_features'):
        MesaLinear(10, 5, num_groups=3)


def test_conv2d():
    plain, mesa = _pair(nn.Conv2d(4, 6, 3, stride=2, padding=1),
                        MesaConv2d.from_module, num_groups=2)
    _check_op(plain, mesa, torch.randn(2, 4, 9, 9))
    with pytest.raises(ValueError, match='zero padding'):
        MesaConv2d.from_module(nn.Conv2d(4, 6, 3, padding=1,
                                         padding_mode='reflect'))
    with pytest.raises(ValueError, match='zero padding'):
        MesaConv2d(4, 6, 3, padding='same')


@pytest.mark.parametrize('approximate', ['none', 'tanh'])
def test_gelu(approximate):
    plain, mesa = _pair(nn.GELU(approximate), MesaGELU.from_module,
                        num_groups=2)
    _check_op(plain, mesa, torch.randn(3, 5, 8) * 3)


def test_softmax():
    plain, mesa = _pair(nn.Softmax(-1), MesaSoftmax.from_module,
                        num_groups=3)
    _check_op(plain, mesa, torch.randn(2, 3, 6, 6) * 2)
    with pytest.raises(ValueError, match='dim=None'):
        MesaSoftmax.from_module(nn.Softmax())


def test_softmax_computed_in_float32_on_a_low_precision_input(monkeypatch):
    """CUDA autocast runs softmax in float32 on a bfloat16 input; its CUDA
    backward kernel then needs the input dtype of that float32 softmax (it
    refused bfloat16 with a float32 gradient, seen on an H200). Emulated
    here: softmax upcasts, and the backward op checks CUDA's contract."""
    backward = torch.ops.aten._softmax_backward_data
    calls = []

    def cuda_contract(grad, out, dim, input_dtype):
        calls.append(input_dtype)
        assert grad.dtype == input_dtype or (
            input_dtype == torch.half and grad.dtype == torch.float)
        return backward(grad, out, dim, input_dtype)

    monkeypatch.setattr(torch.ops.aten, '_softmax_backward_data',
                        cuda_contract)
    monkeypatch.setattr(torch, 'softmax',
                        lambda x, dim: F.softmax(x.float(), dim))
    mesa = MesaSoftmax(dim=-1, num_groups=1).train()
    x = (torch.randn(2, 5, 5) * 2).bfloat16().requires_grad_()
    ref = x.detach().float().requires_grad_()
    g = torch.randn(2, 5, 5)
    mesa(x).backward(g)
    F.softmax(ref, -1).backward(g)
    assert calls == [torch.float32]
    assert x.grad.dtype == torch.bfloat16  # autograd casts it back
    assert rel_err(x.grad.float(), ref.grad.bfloat16().float()) < GRAD_RTOL


def test_matmul():
    _check_op(torch.matmul, MesaMatMul(num_groups=3),
              torch.randn(2, 3, 5, 4), torch.randn(2, 3, 4, 6))


def test_layernorm_without_affine():
    plain, mesa = _pair(nn.LayerNorm(8, elementwise_affine=False),
                        MesaLayerNorm.from_module, num_groups=2)
    _check_op(plain, mesa, torch.randn(3, 4, 8))


def test_layernorm_small_variance_rows():
    """A row of tiny variance (a class token at initialisation) keeps its
    gradient: Mesa stores the normalised input; storing the input itself
    (the official code) multiplies the code error by 1 / std."""
    torch.manual_seed(0)
    x = torch.randn(2, 9, 24)
    x[:, 0] *= 1e-3
    g = torch.randn(2, 9, 24)
    plain = nn.LayerNorm(24, eps=1e-6)
    with torch.no_grad():
        plain.weight.normal_(1, 0.1)
    mesa = MesaLayerNorm.from_module(copy.deepcopy(plain), num_groups=3)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    plain(x1).backward(g)
    mesa(x2).backward(g)
    ours = rel_err(x2.grad[:, 0], x1.grad[:, 0])
    assert ours < GRAD_RTOL
    # the official scheme: codes of x itself, exact mean / rstd
    q = MesaQuantizer(3)
    q.update(x)
    x_hat = dequantize(quantize(x, q.clip_val, q.shift), q.clip_val,
                       q.shift)
    mean = x.mean(-1, keepdim=True)
    rstd = (x.var(-1, unbiased=False, keepdim=True) + 1e-6).rsqrt()
    official = torch.ops.aten.native_layer_norm_backward(
        g, x_hat, [24], mean, rstd, plain.weight, plain.bias,
        [True, False, False])[0]
    assert rel_err(official[:, 0], x1.grad[:, 0]) > 10 * ours, ours


def test_batchnorm_and_running_stats():
    plain, mesa = _pair(nn.BatchNorm2d(4), MesaBatchNorm2d.from_module,
                        num_groups=2)
    _check_op(plain, mesa, torch.randn(3, 4, 5, 5) * 2 + 1)
    assert torch.equal(plain.running_mean, mesa.running_mean)
    assert torch.equal(plain.running_var, mesa.running_var)
    assert mesa.num_batches_tracked.item() == 1
    # cumulative average (momentum None)
    plain, mesa = _pair(nn.BatchNorm2d(4, momentum=None),
                        MesaBatchNorm2d.from_module)
    _check_op(plain, mesa, torch.randn(3, 4, 5, 5))
    assert torch.equal(plain.running_var, mesa.running_var)


def test_relu_exact_gradient():
    plain, mesa = _pair(nn.ReLU(), MesaReLU.from_module)
    x = torch.randn(3, 5, 7)
    _check_op(plain, mesa, x, exact_grad=True)
    with count_saved_bytes() as saved:
        mesa(x.requires_grad_())
    assert saved['bytes'] == 105 // 8 + 1  # one bit an element


def test_inactive_outside_training_or_grad():
    mesa = MesaLinear(6, 4, num_groups=2)
    x = torch.randn(2, 6, requires_grad=True)
    with torch.no_grad():
        mesa(x)
    mesa.eval()
    mesa(x)
    assert mesa.mesa_quant.num_updates.item() == 0


def test_saved_tensors_are_codes():
    mesa = MesaLinear(16, 8, num_groups=4)
    x = torch.randn(10, 16, requires_grad=True)
    with count_saved_bytes(exclude=list(mesa.parameters())) as saved:
        mesa(x)
    # 160 one-byte codes + the range and offset of 4 groups (fp32)
    assert saved == dict(bytes=160 + 2 * 16, tensors=3)
    with count_saved_bytes(exclude=list(mesa.parameters())) as saved:
        F.linear(x, mesa.weight, mesa.bias)
    assert saved == dict(bytes=160 * 4, tensors=1)
    # a frozen weight needs no input: nothing saved
    mesa.weight.requires_grad_(False)
    with count_saved_bytes(exclude=list(mesa.parameters())) as saved:
        mesa(x).sum().backward()
    assert saved['bytes'] == 0 and x.grad is not None


def test_count_saved_bytes_dedups_storages():
    x = torch.randn(4, requires_grad=True)
    with count_saved_bytes() as saved:
        x * x  # x saved twice, one storage
    assert saved == dict(bytes=16, tensors=2)
    with count_saved_bytes(exclude=[x]) as saved:
        x * x
    assert saved == dict(bytes=0, tensors=0)


# ----------------------------------------------------------------------------
# attention
# ----------------------------------------------------------------------------


def test_mesa_attend_matches_explicit_path():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    keep = torch.rand(2, 1, 1, 5) > 0.3
    keep[0, ..., :] = False  # every key of batch 0 masked
    op = MesaAttend(3)
    for mask in (None, keep):
        ins1 = [t.clone().requires_grad_() for t in (q, k, v)]
        ins2 = [t.clone().requires_grad_() for t in (q, k, v)]
        out1 = attend(*ins1, mask=mask, fused=False)
        out2 = op(*ins2, mask=mask)
        assert torch.equal(out1, out2)
        g = torch.randn_like(out1)
        out1.backward(g)
        out2.backward(g)
        for a, b in zip(ins1, ins2):
            assert torch.isfinite(b.grad).all()
            assert rel_err(b.grad, a.grad) < GRAD_RTOL
    # outside training: attend itself (the fused path)
    op.eval()
    assert torch.equal(op(q, k, v), attend(q, k, v))
    assert op.qk.quant_a.num_updates.item() == 2
    with pytest.raises(ValueError, match='softmax or matmul'):
        MesaAttend(3, softmax=False, matmul=False)


@pytest.mark.parametrize('softmax,matmul', [(True, False), (False, True)])
def test_mesa_attend_parts(softmax, matmul):
    op = MesaAttend(2, softmax=softmax, matmul=matmul)
    assert (op.quant_softmax is not None) == softmax
    assert (op.qk is not None) == (op.av is not None) == matmul
    q = torch.randn(1, 2, 4, 3, requires_grad=True)
    with count_saved_bytes() as saved:
        op(q, q, q)
    assert saved['bytes'] > 0


# ----------------------------------------------------------------------------
# conversion of a model
# ----------------------------------------------------------------------------


def _deit(**kwargs):
    from mmvitplug.models.backbones.deit import DeiT
    torch.manual_seed(0)
    model = DeiT(
        arch=dict(embed_dims=48, num_layers=2, num_heads=3,
                  feedforward_channels=96), img_size=32, patch_size=8,
        **kwargs)
    with torch.no_grad():
        model.cls_token.normal_(0, 0.02)
        model.pos_embed.normal_(0, 0.02)
    return model


def test_convert_deit_keeps_parameters_and_state_dict():
    model = _deit()
    params = dict(model.named_parameters())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    counts = convert_to_mesa(model, dict(num_groups=3))
    assert counts == dict(linear=8, conv=1, gelu=2, relu=0, layernorm=5,
                          batchnorm=0, softmax=2, matmul=2)
    assert all(p is params[n] for n, p in model.named_parameters())
    assert list(model.state_dict()) == list(state)
    model.load_state_dict(state)  # strict, both ways
    _deit().load_state_dict(model.state_dict())
    blk = model.blocks[0]
    assert type(blk.attn.qkv) is MesaLinear and type(blk.norm1) is \
        MesaLayerNorm and type(blk.mlp.act) is MesaGELU
    assert isinstance(blk.attn.attend_op, MesaAttend)
    assert blk.attn.attend_op.num_heads == 3
    # groups: gcd(num_groups, channels): the 3-channel patch conv and
    # 48 / 96-channel tensors
    assert model.patch_embed.proj.mesa_quant.num_groups == 3
    # converting again changes nothing
    before = list(model.modules())
    assert convert_to_mesa(model, dict(num_groups=3)) == counts
    assert list(model.modules()) == before


def test_converted_deit_forward_identical_and_gradients_close():
    ref = _deit(fused_attn=False).train()
    model = copy.deepcopy(ref)
    convert_to_mesa(model, dict(num_groups=3))
    x = torch.randn(4, 3, 32, 32)
    out_ref, out = ref(x)[0], model(x)[0]
    assert torch.equal(out_ref, out)  # training mode: the Mesa path
    r = torch.randn_like(out)
    (out_ref * r).sum().backward()
    (out * r).sum().backward()
    for (name, p1), p2 in zip(ref.named_parameters(), model.parameters()):
        assert rel_err(p2.grad, p1.grad) < GRAD_RTOL, name
    # evaluation: the unconverted modules' computation, fused attention too
    fused = _deit().eval()
    converted = copy.deepcopy(fused)
    convert_to_mesa(converted, dict(num_groups=3))
    with torch.no_grad():
        assert torch.equal(ref.eval()(x)[0], model.eval()(x)[0])
        assert torch.equal(fused(x)[0], converted(x)[0])


def test_saved_bytes_of_a_deit_block_halved():
    """The claim: the bytes a DeiT block saves for backward drop >= 2x
    (~4x) whether the baseline uses the fused or the explicit attention."""
    torch.manual_seed(0)
    x = torch.randn(2, 50, 96, requires_grad=True)
    saved = {}
    for name, fused in (('fused', True), ('explicit', False)):
        block = Block(96, 3, fused_attn=fused).train()
        with count_saved_bytes(exclude=list(block.parameters())) as s:
            block(x)
        saved[name] = s['bytes']
    block = Block(96, 3).train()
    convert_to_mesa(block, dict(num_groups=3))
    with count_saved_bytes(exclude=list(block.parameters())) as s:
        block(x)
    saved['mesa'] = s['bytes']
    assert saved['fused'] / saved['mesa'] >= 2
    assert saved['explicit'] / saved['mesa'] >= 3


def test_convert_policy_options_and_errors():
    model = _deit()
    counts = convert_to_mesa(
        model, dict(ops=['linear'], num_groups=3, ema_decay=0.5,
                    skip=['blocks.1*', 'patch_embed']))
    assert counts == dict(linear=4)  # block 0's 4 linears only
    assert type(model.blocks[1].attn.qkv) is nn.Linear
    assert model.blocks[0].attn.attend_op is None
    assert model.blocks[0].attn.qkv.mesa_quant.ema_decay == 0.5
    with pytest.raises(ValueError, match=r"unknown Mesa policy keys \['bits"):
        convert_to_mesa(_deit(), dict(bits=8))
    with pytest.raises(ValueError, match="subset of"):
        convert_to_mesa(_deit(), dict(ops=['dropout']))
    with pytest.raises(TypeError, match='ops'):
        check_policy(dict(ops='linear'))
    with pytest.raises(ValueError, match='match no module'):
        convert_to_mesa(_deit(), dict(skip=['blocks.9']))
    with pytest.raises(ValueError, match='converts no module'):
        convert_to_mesa(_deit(), dict(ops=['batchnorm']))
    with pytest.raises(ValueError, match='zero padding'):
        convert_to_mesa(nn.Sequential(nn.Conv2d(3, 3, 3, padding='same')))
    with pytest.raises(ValueError, match='SyncBatchNorm'):
        convert_to_mesa(nn.Sequential(nn.SyncBatchNorm(4)))
    assert check_policy(None) == dict(ops=MESA_OPS, num_groups=1,
                                      ema_decay=0.9, skip=())


def test_attention_subclasses_keep_their_forward():
    from mmvitplug.models.backbones.lit import RelPosAttention
    assert RelPosAttention.forward is not Attention.forward
    model = nn.Sequential(Attention(12, 3))
    assert convert_to_mesa(model, dict(ops=['softmax'])) == dict(softmax=1)
    assert model[0].attend_op.qk is None


# ----------------------------------------------------------------------------
# the switch: MesaHook from a config
# ----------------------------------------------------------------------------


def test_hook_from_digits_config_trains_a_step():
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import mmvitplug  # noqa: F401
    from mmvitplug.registry import HOOKS
    cfg = Config.fromfile(DIGITS)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    params = list(model.parameters())
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    hook = HOOKS.build(cfg.custom_hooks[0])
    assert hook.priority == 'VERY_HIGH'
    logs = []
    runner = types.SimpleNamespace(
        model=model, logger=types.SimpleNamespace(info=logs.append))
    hook.before_run(runner)
    assert 'Mesa: 8-bit saved activations for 17 linear' in logs[0]
    assert list(model.parameters()) == params
    assert type(model.backbone.patch_embed.proj) is nn.Conv2d
    assert type(model.head.fc) is MesaLinear
    data = dict(
        inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                for _ in range(4)],
        data_samples=[DataSample().set_gt_label(i) for i in range(4)])
    before = [p.detach().clone() for p in params]
    model.train()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    assert any(not torch.equal(a, p) for a, p in zip(before, params))
    assert model.head.fc.mesa_quant.num_updates.item() == 1
    with pytest.raises(ValueError, match='unknown Mesa policy keys'):
        HOOKS.build(dict(type='mmvitplug.MesaHook', policy=dict(level=256)))


@pytest.mark.parametrize('name,heads', [('tiny', 3), ('small', 6)])
def test_imagenet_configs_use_the_official_policy(name, heads):
    """HubHop/deit-mesa: policy_tiny-8bit.txt enables fc, matmul, gelu,
    layernorm, softmax with ema_decay 0.9; quant_groups = num_heads."""
    cfg = Config.fromfile(f'configs/mesa/mesa-deit-{name}_8xb128_in1k.py')
    hooks = [h for h in cfg.custom_hooks if h.type == 'mmvitplug.MesaHook']
    assert len(hooks) == 1
    policy = check_policy(hooks[0].policy)
    assert set(policy['ops']) == {'linear', 'matmul', 'gelu', 'layernorm',
                                  'softmax'}
    assert policy['num_groups'] == heads and policy['ema_decay'] == 0.9
    assert cfg.model.backbone.arch == f'deit-{name}'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
