# Copyright (c) mmvitplug contributors.
"""DynamicViT (https://arxiv.org/abs/2106.02034): the policy softmax and
the ratio / token losses against hand-computed values, the top-k gather,
the predictor, training-mode masking against inference-mode gathering, the
Gumbel decisions, any token grid, the inference keep counts, the lr scale
of the optimizer groups, loading a plain DeiT checkpoint, the supported and
refused backbones, every argument and error; golden parity with the
official ``VisionTransformerDiffPruning`` (values made by running
raoyongming/DynamicViT 1322e62 with timm 1.0.31, the official
``batch_index_select``, a fixed Gumbel noise)."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmvitplug.layers import (Block, TokenKeepPredictor, batch_index_select,
                              block_forward_with_policy, keep_ratios,
                              record_attention, softmax_with_policy)
from mmvitplug.models.backbones import CaiT, ConViT, DynamicViT, PiT
from mmvitplug.models.losses import DynamicViTRatioLoss, KeptTokenMSELoss
from _builders import (DEIT3_SETTINGS, REPO_ROOT, TEST_DATA, TINY_ARCHS,
                       build_tiny)

CONFIG = osp.join(REPO_ROOT, 'configs', 'bundled', 'dynamic_vit',
                  'dynamicvit-deit-4l192d-p8_1xb16-6e_digits.py')
E2 = math.exp(-2.)
E1 = math.exp(-1.)


def deit(num_layers=4, **kwargs):
    arch = dict(TINY_ARCHS['DeiT'], num_layers=num_layers)
    arch.update(kwargs.pop('arch', {}))
    return dict(
        dict(type='mmvitplug.DeiT', arch=arch, img_size=32, patch_size=8),
        **kwargs)


def dynamic(seed=0, **kwargs):
    kwargs.setdefault('backbone', deit())
    torch.manual_seed(seed)
    model = DynamicViT(**kwargs)
    model.init_weights()
    return model


# ------------------------------------------------------------ primitives
def test_softmax_with_policy_hand_values():
    # query i attends to the kept keys and to itself: token 1 is dropped
    logits = torch.tensor([[0., 1., 2.], [1., 0., 0.], [2., 1., 0.]])
    logits = logits.view(1, 1, 3, 3)
    policy = torch.tensor([[1., 0., 1.]])
    expected = torch.tensor([
        [E2 / (1 + E2), 0., 1 / (1 + E2)],  # key 1 dropped
        [1 / (1 + 2 * E1), E1 / (1 + 2 * E1), E1 / (1 + 2 * E1)],  # self
        [1 / (1 + E2), 0., E2 / (1 + E2)],
    ])
    out = softmax_with_policy(logits, policy, eps=0.)
    torch.testing.assert_close(out[0, 0], expected, atol=1e-7, rtol=0)
    # the official eps: (w + eps / N) / (sum + eps)
    eps = 1e-6
    out = softmax_with_policy(logits, policy[..., None])  # (B, N, 1) too
    row0 = torch.tensor([E2 + eps / 3, eps / 3, 1 + eps / 3])
    row0 = row0 / (1 + E2 + eps)
    torch.testing.assert_close(out[0, 0, 0], row0, atol=1e-9, rtol=1e-6)
    assert out[0, 0, 0, 1] > 0
    # a policy of ones is the softmax (up to eps); float32 inside
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(
        softmax_with_policy(x, torch.ones(2, 5)), x.softmax(-1), atol=1e-5,
        rtol=0)
    half = softmax_with_policy(x.to(torch.bfloat16), torch.ones(2, 5))
    assert half.dtype == torch.bfloat16


def test_softmax_with_policy_errors():
    with pytest.raises(ValueError, match='policy must be'):
        softmax_with_policy(torch.zeros(1, 1, 3, 3), torch.ones(1, 4))
    with pytest.raises(ValueError, match='logits must be'):
        softmax_with_policy(torch.zeros(1, 3, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match='eps'):
        softmax_with_policy(torch.zeros(1, 1, 3, 3), torch.ones(1, 3), -1.)


def test_batch_index_select():
    x = torch.arange(12.).view(2, 3, 2)
    index = torch.tensor([[2, 0], [1, 1]])
    out = batch_index_select(x, index)
    assert out.tolist() == [[[4., 5.], [0., 1.]], [[8., 9.], [8., 9.]]]
    flat = batch_index_select(x[..., 0], index)
    assert flat.tolist() == [[4., 0.], [8., 8.]]
    with pytest.raises(ValueError, match='index must be'):
        batch_index_select(x, torch.zeros(3, 1, dtype=torch.long))
    with pytest.raises(ValueError, match='x of shape'):
        batch_index_select(x[None], index)


def test_block_policy_equals_gather():
    torch.manual_seed(0)
    block = Block(16, 2, init_values=0.5).eval()
    x = torch.randn(2, 6, 16)
    keep = torch.tensor([[1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 1, 0]]).float()
    out = block_forward_with_policy(block, x, keep)
    for b in range(2):
        kept = keep[b].bool()
        alone = block(x[b:b + 1, kept])
        torch.testing.assert_close(out[b:b + 1, kept], alone, atol=1e-5,
                                   rtol=0)
    # a policy of ones: the block's own (fused) attention, up to eps
    torch.testing.assert_close(
        block_forward_with_policy(block, x, torch.ones(2, 6)), block(x),
        atol=1e-5, rtol=0)
    # no policy: the block's own forward; the weights are recorded
    torch.testing.assert_close(block_forward_with_policy(block, x, None),
                               block(x))
    with record_attention() as weights:
        block_forward_with_policy(block, x, keep)
    assert len(weights) == 1 and weights[0].shape == (2, 2, 6, 6)
    with pytest.raises(TypeError, match='mmvitplug.layers.Block'):
        block_forward_with_policy(torch.nn.Identity(), x, keep)


def test_predictor_global_mean_of_kept_tokens():
    torch.manual_seed(0)
    predictor = TokenKeepPredictor(8)
    x = torch.randn(1, 5, 8)
    policy = torch.tensor([[1., 1., 0., 1., 0.]])
    out = predictor(x, policy)
    assert out.shape == (1, 5, 2)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(1, 5))
    changed = x.clone()
    changed[:, 2] += 10.  # a dropped token does not enter the global mean
    torch.testing.assert_close(predictor(changed, policy)[:, [0, 1, 3]],
                               out[:, [0, 1, 3]])
    changed[:, 1] = torch.randn(8) * 3.  # a kept one does
    assert not torch.allclose(predictor(changed, policy)[:, 0], out[:, 0])
    assert predictor(x, torch.zeros(1, 5)).isfinite().all()  # none kept
    with pytest.raises(ValueError, match='dims'):
        TokenKeepPredictor(2)


def test_keep_ratios():
    torch.testing.assert_close(
        torch.tensor(keep_ratios(0.7, 3)), torch.tensor([0.7, 0.49, 0.343]))
    assert keep_ratios([0.9, 0.5], 2) == [0.9, 0.5]
    for bad in (0, 1.5, True, [0.5, 0.9], [0.5], 'a'):
        with pytest.raises(ValueError, match='keep_ratio'):
            keep_ratios(bad, 2)


# ---------------------------------------------------------------- losses
def test_ratio_loss_closed_form():
    d1 = torch.tensor([[1., 1., 0., 0.], [1., 1., 1., 1.]])
    d2 = torch.tensor([[1., 0., 0., 0.], [1., 1., 0., 0.]])
    loss = DynamicViTRatioLoss(keep_ratio=0.5, num_locations=2,
                               loss_weight=2.)
    # targets 0.5, 0.25; kept fractions (0.5, 1.0), (0.25, 0.5):
    # location 1: (0 + 0.25) / 2; location 2: (0 + 0.0625) / 2
    expected = 2. * (0.125 + 0.03125) / 2
    assert loss([d1, d2]).item() == pytest.approx(expected)
    assert loss([d1[..., None], d2[..., None]]).item() == pytest.approx(
        expected)
    explicit = DynamicViTRatioLoss(keep_ratio=[0.75, 0.5], num_locations=2,
                                   loss_weight=1.)
    # (0.0625 + 0.0625) / 2 and (0.0625 + 0) / 2, averaged
    assert explicit([d1, d2]).item() == pytest.approx(
        (0.0625 + 0.03125) / 2)
    with pytest.raises(ValueError, match='2 keep decisions'):
        loss([d1])
    with pytest.raises(ValueError, match='num_locations'):
        DynamicViTRatioLoss(num_locations=0)
    with pytest.raises(ValueError, match='loss_weight'):
        DynamicViTRatioLoss(loss_weight=-1.)


def test_kept_token_mse_hand_values():
    preds = torch.tensor([[[9., 9.], [1., 2.], [5., 5.], [3., 0.]]],
                         requires_grad=True)  # class token, 3 patches
    target = torch.zeros(1, 4, 2)
    mask = torch.tensor([[1., 0., 1.]])
    loss = KeptTokenMSELoss(loss_weight=0.5)
    # kept patches 0 and 2: (1 + 4 + 9 + 0) / 4, the class token left out
    assert loss(preds, target, mask).item() == pytest.approx(0.5 * 14 / 4)
    zero = loss(preds, target, torch.zeros(1, 3))
    assert zero.item() == 0.
    zero.backward()  # still in the graph
    with pytest.raises(ValueError, match='does not fit'):
        loss(preds, target, torch.ones(1, 5))
    with pytest.raises(ValueError, match='differ in shape'):
        loss(preds, target[:, 1:], mask)


# ---------------------------------------------------------------- backbone
def test_pruning_locations_and_keep_counts():
    assert dynamic(backbone=deit(12)).pruning_loc == [3, 6, 9]
    model = dynamic()
    assert model.pruning_loc == [1, 2, 3]
    assert dynamic(pruning_loc=(2, )).pruning_loc == [2]
    assert model.num_kept(16) == [11, 7, 5]
    assert model.num_kept(196) == [137, 96, 67]  # the official DeiT counts
    assert model.num_kept(1) == [1, 1, 1]


@pytest.mark.parametrize('hw', [(32, 32), (32, 40), (48, 24)])
def test_any_token_grid_keeps_floor_counts(hw):
    model = dynamic().eval()
    sizes = []
    for block in model.vit.blocks:
        block.register_forward_pre_hook(
            lambda m, args: sizes.append(args[0].shape[1]))
    out = model(torch.randn(2, 3, *hw))
    n = (hw[0] // 8) * (hw[1] // 8)
    kept = [int(n * 0.7), int(n * 0.49), int(n * 0.343)]
    assert sizes == [1 + n] + [1 + k for k in kept]
    assert out[0].shape == (2, 32)
    model.train()(torch.randn(2, 3, *hw))  # masking: any grid too


def test_gumbel_decisions_are_hard_and_multiplicative():
    model = dynamic().train()
    decisions = []
    for tap in model.keep_decisions:
        tap.register_forward_hook(lambda m, a, out: decisions.append(out))
    out = model(torch.randn(4, 3, 32, 40))
    assert len(decisions) == 3
    for d in decisions:
        assert d.shape == (4, 20)
        assert set(d.unique().tolist()) <= {0., 1.}
    assert (decisions[1] <= decisions[0]).all()
    assert (decisions[2] <= decisions[1]).all()
    # straight-through: the predictors learn through the masked attention
    out[0].sum().backward()
    for predictor in model.predictors:
        grad = predictor.out_conv[-2].weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_gradient_checkpointing_of_the_wrapped_vit():
    """The wrapped ViT's with_cp checkpoints the policy blocks too: same
    training output and gradients."""
    x = torch.randn(2, 3, 32, 32)
    results = []
    for with_cp in (False, True):
        model = dynamic(backbone=deit(with_cp=with_cp)).train()
        torch.manual_seed(3)  # the same Gumbel noise
        out = model(x)[0]
        out.sum().backward()
        results.append(
            (out, model.predictors[0].in_conv[1].weight.grad.clone()))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])


def test_training_masking_equals_inference_gathering(monkeypatch):
    """With decisions that keep exactly the top-k tokens (of the scores,
    among those still kept), the masked training pass gives the class token
    of the gathered inference pass."""
    model = dynamic(backbone=deit(drop_rate=0.)).eval()
    x = torch.randn(3, 3, 32, 40)
    expected = model(x)[0]
    counts = iter(model.num_kept(20))
    state = dict(prev=None)

    def topk_one_hot(logits, tau=1., hard=False, dim=-1):
        score = logits[..., 0]
        if state['prev'] is not None:
            score = score.masked_fill(state['prev'] == 0, float('-inf'))
        keep = torch.zeros_like(score).scatter(
            1, score.topk(next(counts), dim=1)[1], 1.)
        state['prev'] = keep
        return torch.stack([keep, 1 - keep], dim=-1)

    monkeypatch.setattr(F, 'gumbel_softmax', topk_one_hot)
    model.train()
    torch.testing.assert_close(model(x)[0], expected, atol=1e-5, rtol=0)


def test_keep_ratio_one_is_the_plain_backbone():
    plain = MODELS.build(deit()).eval()
    plain.init_weights()
    model = dynamic(keep_ratio=1.).eval()
    model.load_state_dict(plain.state_dict(), strict=False)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(model(x)[0], plain(x)[0], atol=1e-5, rtol=0)


def test_loads_a_plain_deit_checkpoint():
    torch.manual_seed(1)
    plain = MODELS.build(
        dict(type='ImageClassifier', backbone=deit(),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    result = model.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert sorted(result.missing_keys) == sorted(
        k for k in model.state_dict() if k.startswith('backbone.predictors.'))
    for key, value in plain.state_dict().items():
        own = key.replace('backbone.', 'backbone.vit.', 1)
        assert torch.equal(model.state_dict()[own], value)
    # and its own checkpoints load back as they are
    again = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.backbone.predictors[0].in_conv[1].weight,
                       model.backbone.predictors[0].in_conv[1].weight)


@pytest.mark.parametrize('kwargs', [
    dict(distilled=True),
    dict(arch=DEIT3_SETTINGS),
])
def test_deit_variants(kwargs):
    model = dynamic(backbone=deit(**kwargs))
    x = torch.randn(2, 3, 32, 32)
    out = model.train()(x)[0]
    pruned = model.eval()(x)[0]
    if kwargs.get('distilled'):  # class and distillation tokens kept
        assert model.num_extra_tokens == 2
        assert out[0].shape == pruned[1].shape == (2, 32)
    else:
        assert out.shape == pruned.shape == (2, 32)


def test_refused_backbones():
    # CaiT: the class token joins after the trunk (class attention)
    with pytest.raises(ValueError, match='CaiT has num_extra_tokens=0'):
        DynamicViT(build_tiny(CaiT, init=False), pruning_loc=(1, ))
    with pytest.raises(ValueError, match='own stages'):
        DynamicViT(build_tiny(PiT, init=False))
    # ConViT: its class token joins in the trunk
    with pytest.raises(ValueError, match='ConViT has its own stages'):
        DynamicViT(build_tiny(ConViT, init=False))
    # blocks from the first pruning location on run with the policy
    vit = MODELS.build(deit())
    vit.blocks[2].attn = torch.nn.Identity()
    with pytest.raises(ValueError, match='block 2 of DeiT is a Block with '
                       'Identity'):
        DynamicViT(vit)
    assert DynamicViT(vit, pruning_loc=(3, )).pruning_loc == [3]
    with pytest.raises(TypeError, match='VisionBackbone'):
        DynamicViT(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="out_type='cls_token'"):
        DynamicViT(deit(out_type='featmap'))
    with pytest.raises(ValueError, match="out_type='cls_token'"):
        DynamicViT(deit(out_indices=(1, 3)))


@pytest.mark.parametrize('pruning_loc', [(), (4, ), (2, 1), (2, 2),
                                         (1, 0.5), (0., ), (1.5, ), 'ab',
                                         (True, )])
def test_bad_pruning_loc(pruning_loc):
    with pytest.raises(ValueError, match='pruning_loc'):
        DynamicViT(deit(), pruning_loc=pruning_loc)


def test_bad_keep_ratio():
    for bad in (0., 1.2, [0.7, 0.5], [0.5, 0.6, 0.7]):
        with pytest.raises(ValueError, match='keep_ratio'):
            DynamicViT(deit(), keep_ratio=bad)


def test_layer_depths_and_lr_scale_groups():
    model = dynamic()
    assert model.get_layer_depth('predictors.0.in_conv.1.weight') == (1, 2)
    assert model.get_layer_depth('vit.blocks.0.attn.qkv.weight') == (0, 2)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (0, 2)
    cfg = Config.fromfile(CONFIG)
    classifier = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.DynamicViT', backbone=deit()),
             head=dict(type='LinearClsHead', num_classes=10, in_channels=32,
                       loss=dict(type='CrossEntropyLoss'))))
    optimizer = build_optim_wrapper(classifier, cfg.optim_wrapper).optimizer
    settings = {}
    for group in optimizer.param_groups:
        for p in group['params']:
            settings[id(p)] = (group['lr'], group['weight_decay'])
    named = dict(classifier.named_parameters())

    def of(name):
        return settings[id(named[name])]

    assert of('backbone.predictors.0.in_conv.1.weight') == (1e-3, 0.05)
    assert of('backbone.predictors.0.in_conv.1.bias') == (1e-3, 0.)
    assert of('backbone.vit.blocks.0.attn.qkv.weight') == \
        pytest.approx((1e-5, 0.05))
    assert of('backbone.vit.blocks.0.norm1.weight') == \
        pytest.approx((1e-5, 0.))
    assert of('head.fc.weight') == pytest.approx((1e-5, 0.05))
    assert of('backbone.vit.cls_token') == (0., 0.)  # frozen, officially
    assert of('backbone.vit.pos_embed') == (0., 0.)


# ---------------------------------------------------------- the algorithm
def test_bundled_config_losses(tmp_path):
    """The bundled recipe's distiller computes every official term from
    the recorded decisions and tokens (a random teacher checkpoint of the
    config's teacher), and the teacher initialises the student."""
    cfg = Config.fromfile(CONFIG)
    teacher = MODELS.build(cfg.teacher)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    cfg.model.teacher_ckpt = ckpt
    cfg.model.backbone.backbone.init_cfg.checkpoint = ckpt
    cfg.model.head.init_cfg.checkpoint = ckpt
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in teacher.state_dict().items():
        own = key.replace('backbone.', 'backbone.vit.', 1)
        assert torch.equal(model.state_dict()[own], value), key
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    torch.manual_seed(0)
    losses = model.train().loss(torch.randn(4, 3, 32, 32), samples)
    assert sorted(losses) == ['loss_cls', 'loss_kd', 'loss_ratio',
                              'loss_token']
    assert all(v.isfinite() for v in losses.values())
    assert losses['loss_ratio'] > 0
    sum(losses.values()).backward()
    assert model.backbone.predictors[0].in_conv[1].weight.grad is not None
    # inference runs the pruned student alone
    assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2, 10)


# ------------------------------------------------------- official parity
GOLDEN = osp.join(TEST_DATA, 'dynamic_vit_golden.pt')


def test_golden_parity_with_the_official_model(monkeypatch):
    """The official ``VisionTransformerDiffPruning`` (raoyongming/DynamicViT
    1322e62, 16 dims, 4 blocks, pruning before blocks 1, 2, 3, rho 0.7, 224
    px: its hard-coded 14 x 14 grid), run with a fixed Gumbel noise: the
    pruned inference logits, the training logits, final patch tokens and
    keep decisions, and the gradient reaching the first predictor."""
    golden = torch.load(GOLDEN, weights_only=True)
    model = DynamicViT(
        deit(arch=dict(embed_dims=16, num_heads=2, feedforward_channels=64),
             img_size=224, patch_size=16),
        pruning_loc=(1, 2, 3), keep_ratio=0.7)
    head = torch.nn.Linear(16, 10)
    state = {}
    for key, value in golden['state_dict'].items():
        if key.startswith('head.'):
            continue
        state[key.replace('score_predictor.', 'predictors.')] = value
    model.load_state_dict(state)  # plain DeiT keys + the predictors
    head.weight.data.copy_(golden['state_dict']['head.weight'])
    head.bias.data.copy_(golden['state_dict']['head.bias'])
    small = golden['small']
    x = small.repeat_interleave(16, -1).repeat_interleave(16, -2)
    calls = []

    def fixed_gumbel(logits, tau=1., hard=False, dim=-1):
        y = ((logits + golden['noise'][len(calls)]) / tau).softmax(dim)
        calls.append(1)
        y_hard = torch.zeros_like(logits).scatter_(
            dim, y.max(dim, keepdim=True)[1], 1.)
        return y_hard - y.detach() + y

    with torch.no_grad():
        logits = head(model.eval()(x)[0])
    torch.testing.assert_close(logits, golden['eval_logits'], atol=1e-5,
                               rtol=1e-4)
    monkeypatch.setattr(F, 'gumbel_softmax', fixed_gumbel)
    tokens, decisions = [], []
    model.vit.norm.register_forward_hook(
        lambda m, a, out: tokens.append(out[:, 1:]))
    for tap in model.keep_decisions:
        tap.register_forward_hook(lambda m, a, out: decisions.append(out))
    logits = head(model.train()(x)[0])
    torch.testing.assert_close(logits, golden['train_logits'], atol=1e-5,
                               rtol=1e-4)
    torch.testing.assert_close(tokens[0], golden['train_tokens'],
                               atol=1e-5, rtol=1e-4)
    assert torch.equal(torch.stack(decisions), golden['decisions'])
    (logits.sum() + tokens[0].pow(2).sum()).backward()
    torch.testing.assert_close(
        model.predictors[0].in_conv[1].weight.grad,
        golden['predictor0_grad'], atol=1e-5, rtol=1e-4)
