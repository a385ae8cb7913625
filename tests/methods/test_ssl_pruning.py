# Copyright (c) mmvitplug contributors.
"""Pruning self-supervised networks (Caron et al. 2020): global magnitude
masks, the per-round schedule, the random-mask baseline and
MagnitudePruningHook (rewinding, masks kept through optimizer steps,
copies, checkpoints). There is no official code: every value is checked
against a hand computation."""
import copy
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper

from mmvitplug.engine.hooks import MagnitudePruningHook
from mmvitplug.engine.hooks.pruning import MASKS_FILE
from mmvitplug.layers.pruning import (apply_masks, global_magnitude_masks,
                                      kept_fraction, mask_optimizer_state,
                                      prunable_weights, random_masks,
                                      sparsity_schedule)
from mmvitplug.registry import HOOKS

# 7 weights in two tensors; three tied at |0.1|
TIES = {
    'a': torch.tensor([[0.5, -0.1], [0.3, 0.1]]),
    'b': torch.tensor([0.1, -0.2, 2.0]),
}


def kept(masks):
    return {n: m.tolist() for n, m in masks.items()}


# --- global magnitude masks
def test_global_magnitude_mask_by_hand_with_ties():
    # 3 of 7 pruned: the three |0.1| (a[0, 1], a[1, 1], b[0])
    masks = global_magnitude_masks(TIES, 3 / 7)
    assert kept(masks) == {
        'a': [[True, False], [True, False]],
        'b': [False, True, True]
    }
    # 2 of 7: a tie at the cut, broken by position (the first pruned)
    masks = global_magnitude_masks(TIES, 2 / 7)
    assert kept(masks) == {
        'a': [[True, False], [True, False]],
        'b': [True, True, True]
    }
    # global, not per tensor: b (one large, two small) loses 2 of 3
    masks = global_magnitude_masks(TIES, 5 / 7)
    assert kept(masks) == {
        'a': [[True, False], [False, False]],
        'b': [False, False, True]
    }
    for s in (0., 1 / 7, 4 / 7, 6 / 7):
        masks = global_magnitude_masks(TIES, s)
        assert sum(int((~m).sum()) for m in masks.values()) == round(7 * s)


def test_all_ties_give_the_exact_count():
    weights = {'w': torch.ones(10), 'v': -torch.ones(3, 3)}
    for s in (0.1, 0.5, 0.52, 0.9):
        masks = global_magnitude_masks(weights, s)
        assert sum(int((~m).sum()) for m in masks.values()) == round(19 * s)
    # position order: w's first
    assert kept(global_magnitude_masks(weights, 4 / 19))['w'] == \
        [False] * 4 + [True] * 6


def test_pruned_weights_stay_pruned_and_count():
    first = global_magnitude_masks(TIES, 2 / 7)
    # the pruned weights now large: still pruned, and part of the count
    grown = {n: w.clone() for n, w in TIES.items()}
    grown['a'][0, 1] = 9.
    second = global_magnitude_masks(grown, 4 / 7, first)
    assert kept(second) == {
        'a': [[True, False], [True, False]],
        'b': [False, False, True]
    }
    with pytest.raises(ValueError, match='fewer than the 2'):
        global_magnitude_masks(TIES, 1 / 7, first)
    with pytest.raises(KeyError, match='missing'):
        global_magnitude_masks(TIES, 0.5, {'a': first['a']})
    with pytest.raises(ValueError, match='sparsity must be'):
        global_magnitude_masks(TIES, 1.0)


# --- schedule
def test_sparsity_schedule_by_hand():
    # r = 1 - 0.2 ** (1 / 2) = 0.5528 each round
    s = sparsity_schedule(0.8, 2)
    assert s[0] == pytest.approx(1 - math.sqrt(0.2)) and s[1] == 0.8
    s = sparsity_schedule(0.9, 3)
    r = 1 - 0.1**(1 / 3)
    assert s == pytest.approx([r, 1 - (1 - r)**2, 0.9])
    assert s[2] == 0.9
    # the same fraction of the remaining weights each round
    s = sparsity_schedule(0.8 * 0.8 + 0.2, 5)  # 0.84
    rates = [(b - a) / (1 - a) for a, b in zip([0.] + s, s)]
    assert rates == pytest.approx([rates[0]] * 5)
    assert sparsity_schedule(0.5, 1) == [0.5]
    with pytest.raises(ValueError, match='num_rounds'):
        sparsity_schedule(0.5, 0)
    with pytest.raises(ValueError, match='final_sparsity'):
        sparsity_schedule(1.0, 2)


@pytest.mark.parametrize('final,rounds', [(0.8, 2), (0.9, 3), (0.85, 4)])
def test_rounds_reach_the_final_sparsity_exactly(final, rounds):
    torch.manual_seed(0)
    weights = {'a': torch.randn(30, 20), 'b': torch.randn(400)}
    masks = None
    for s in sparsity_schedule(final, rounds):
        masks = global_magnitude_masks(weights, s, masks)
        apply_masks(weights, masks)
    assert sum(int((~m).sum()) for m in masks.values()) == round(1000 * final)
    assert kept_fraction(masks) == pytest.approx(1 - final, abs=1e-12)
    # pruned = zero; the kept are the largest of the original
    assert int((weights['a'] == 0).sum() + (weights['b'] == 0).sum()) == \
        round(1000 * final)


# --- random masks
def test_random_masks_counts_and_subsets():
    torch.manual_seed(0)
    weights = {'a': torch.randn(20, 10), 'b': torch.randn(100)}
    prior = global_magnitude_masks(weights, 0.5)
    target = global_magnitude_masks(weights, 0.8, prior)
    g = torch.Generator().manual_seed(0)
    layer = random_masks(weights, masks=prior, mode='layerwise',
                         reference=target, generator=g)
    for n in weights:  # same count per tensor, inside the prior mask
        assert int(layer[n].sum()) == int(target[n].sum())
        assert not (layer[n] & ~prior[n]).any()
    assert any(not torch.equal(layer[n], target[n]) for n in weights)
    glob = random_masks(weights, 0.8, prior, generator=g)
    assert sum(int(m.sum()) for m in glob.values()) == 60
    assert all(not (glob[n] & ~prior[n]).any() for n in weights)
    # the generator decides
    again = random_masks(weights, masks=prior, mode='layerwise',
                         reference=target,
                         generator=torch.Generator().manual_seed(0))
    assert kept(again) == kept(layer)
    with pytest.raises(ValueError, match=r"mode must be one of \('global', "
                       r"'layerwise'\)"):
        random_masks(weights, 0.5, mode='per-layer')
    with pytest.raises(ValueError, match="'layerwise' takes reference"):
        random_masks(weights, 0.5, mode='layerwise')
    with pytest.raises(ValueError, match='more than'):
        random_masks(weights, masks=target, mode='layerwise',
                     reference=prior)


# --- weights and optimizer state
class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
            nn.Linear(16, 6))
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


def test_prunable_weights():
    net = Net()
    assert list(prunable_weights(net.backbone)) == ['0.weight', '4.weight']
    assert list(prunable_weights(net)) == [
        'backbone.0.weight', 'backbone.4.weight', 'head.weight'
    ]
    assert list(prunable_weights(net, exclude=('backbone.0.*', ))) == [
        'backbone.4.weight', 'head.weight'
    ]
    with pytest.raises(ValueError, match='no convolution or linear'):
        prunable_weights(nn.BatchNorm2d(3))
    with pytest.raises(TypeError, match='exclude'):
        prunable_weights(net, exclude='head.*')


@pytest.mark.parametrize('optim', ['adamw', 'sgd'])
def test_masked_state_and_gradients_keep_weights_zero(optim):
    """Zero weights + zero state + zero gradients: AdamW (decoupled decay,
    moments) and SGD (momentum, Nesterov, decay) steps leave them zero."""
    torch.manual_seed(0)
    net = Net()
    params = dict(net.named_parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.5) \
        if optim == 'adamw' else torch.optim.SGD(
            net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
            weight_decay=0.5)
    x = torch.randn(8, 2, 4, 4)
    for _ in range(3):  # state everywhere
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    weights = {n: params[n] for n in prunable_weights(net)}
    masks = global_magnitude_masks(weights, 0.6)
    apply_masks(params, masks)
    mask_optimizer_state(opt, params, masks)
    for n, m in masks.items():
        for v in opt.state[params[n]].values():
            if torch.is_tensor(v) and v.shape == m.shape:
                assert (v[~m] == 0).all()
        params[n].register_hook(lambda g, m=m: g * m)
    before = {n: p.detach().clone() for n, p in params.items()}
    for _ in range(5):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    for n, m in masks.items():
        assert (params[n][~m] == 0).all(), n
        assert not torch.equal(params[n][m], before[n][m]), n


# --- the hook
class Teacher(nn.Module):
    """An EMA-style copy: teacher.module.backbone.* mirrors backbone.*."""

    def __init__(self, net):
        super().__init__()
        self.module = copy.deepcopy(net)


class Model(nn.Module):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        net = Net()
        self.backbone = net.backbone
        self.head = net.head
        self.teacher = Teacher(net)
        for p in self.teacher.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        return self.head(self.backbone(x))


def fake_runner(tmp_path, optim='adamw', max_epochs=10, iters=4, seed=0,
                hooks=()):
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1) \
        if optim == 'adamw' else torch.optim.SGD(
            model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.1)
    return SimpleNamespace(
        model=model, optim_wrapper=OptimWrapper(opt), epoch=0, iter=0,
        max_epochs=max_epochs, train_dataloader=[None] * iters, seed=seed,
        work_dir=str(tmp_path), hooks=list(hooks),
        logger=MMLogger.get_instance('test_ssl_pruning'),
        message_hub=MessageHub.get_instance('test_ssl_pruning'))


def step(runner, hook):
    x = torch.randn(8, 2, 4, 4)
    runner.optim_wrapper.update_params(runner.model(x).pow(2).mean())
    hook.after_train_iter(runner, runner.iter)
    runner.iter += 1


def epoch(runner, hook):
    for _ in range(len(runner.train_dataloader)):
        step(runner, hook)
    hook.after_train_epoch(runner)
    runner.epoch += 1


def backbone_weights(model):
    return {
        f'backbone.{n}': p.detach().clone()
        for n, p in prunable_weights(model.backbone).items()
    }


def test_hook_prunes_rewinds_and_keeps_zeros(tmp_path):
    runner = fake_runner(tmp_path)
    hook = MagnitudePruningHook(
        sparsity=0.8, interval=2, num_rounds=2, rewind_iter=3)
    hook.before_train(runner)
    assert hook.rewind_state is None  # iteration 3, not 0
    step(runner, hook)
    step(runner, hook)
    step(runner, hook)  # the snapshot: after 3 steps
    early = copy.deepcopy(runner.model.state_dict())
    assert torch.equal(hook.rewind_state['backbone.4.weight'],
                       early['backbone.4.weight'])
    step(runner, hook)
    hook.after_train_epoch(runner)  # epoch 0: no round
    runner.epoch += 1
    assert hook.masks is None
    for _ in range(4):
        step(runner, hook)
    trained = backbone_weights(runner.model)
    hook.after_train_epoch(runner)  # end of epoch 2: round 1
    runner.epoch += 1
    masks = hook.masks
    assert hook.round == 1 and set(masks) == set(trained)
    assert all(
        torch.equal(masks[n], m) for n, m in global_magnitude_masks(
            trained, hook.schedule[0]).items())
    # rewound: kept weights = the snapshot's, pruned = 0, buffers too
    state = runner.model.state_dict()
    for n, m in masks.items():
        assert torch.equal(state[n][m], early[n][m])
        assert (state[n][~m] == 0).all()
        copy_name = f'teacher.module.{n}'
        assert (state[copy_name][~m] == 0).all()
    assert torch.equal(state['backbone.1.running_mean'],
                       early['backbone.1.running_mean'])
    assert torch.equal(state['head.weight'], early['head.weight'])
    assert not runner.optim_wrapper.optimizer.state  # fresh optimizer
    # pruned weights stay zero through AdamW steps (decay + moments)
    for _ in range(2):
        epoch(runner, hook)
    assert hook.round == 2
    total = sum(m.numel() for m in hook.masks.values())
    assert sum(int((~m).sum()) for m in hook.masks.values()) == \
        round(0.8 * total)
    assert all((~hook.masks[n] | masks[n]).all() for n in masks)  # subset
    for _ in range(3):
        epoch(runner, hook)
    state = runner.model.state_dict()
    for n, m in hook.masks.items():
        assert (state[n][~m] == 0).all() and (state[n][m] != 0).all()
    saved = torch.load(str(tmp_path / MASKS_FILE), weights_only=False)
    assert saved['round'] == 2 and saved['sparsity'] == 0.8
    assert saved['mask'] == 'magnitude'
    assert all(torch.equal(saved['masks'][n], m.cpu())
               for n, m in hook.masks.items())


def test_gradient_hooks_alone_keep_zeros_with_sgd_momentum(tmp_path):
    """Without the per-iteration re-masking: zero gradients and masked
    state suffice (what makes gradient clipping see no pruned weight)."""
    runner = fake_runner(tmp_path, optim='sgd')
    hook = MagnitudePruningHook(sparsity=0.5, interval=1, rewind_iter=None)
    hook.before_train(runner)
    for _ in range(3):  # momentum everywhere
        step(runner, hook)
    hook.prune(runner)
    for _ in range(5):
        x = torch.randn(8, 2, 4, 4)
        runner.optim_wrapper.update_params(runner.model(x).pow(2).mean())
        opt_state = runner.optim_wrapper.optimizer.state
        for n, m in hook.masks.items():
            p = dict(runner.model.named_parameters())[n]
            assert (p[~m] == 0).all() and (p[m] != 0).all()
            assert (opt_state[p]['momentum_buffer'][~m] == 0).all()


def test_no_rewinding_keeps_the_trained_weights(tmp_path):
    runner = fake_runner(tmp_path)
    hook = MagnitudePruningHook(sparsity=0.5, interval=1, rewind_iter=None)
    hook.before_train(runner)
    assert hook.rewind_state is None
    for _ in range(4):
        step(runner, hook)
    trained = backbone_weights(runner.model)
    hook.after_train_epoch(runner)
    for n, m in hook.masks.items():
        w = dict(runner.model.named_parameters())[n]
        assert torch.equal(w[m], trained[n][m])
    assert runner.optim_wrapper.optimizer.state  # not dropped, masked


def test_rewind_to_init(tmp_path):
    runner = fake_runner(tmp_path)
    init = copy.deepcopy(runner.model.state_dict())
    hook = MagnitudePruningHook(sparsity=0.5, interval=1)  # rewind_iter 0
    hook.before_train(runner)
    epoch(runner, hook)
    for n, m in hook.masks.items():
        w = runner.model.state_dict()[n]
        assert torch.equal(w[m], init[n][m])


@pytest.mark.parametrize('mode', ['random-layerwise', 'random-global'])
def test_random_mask_baseline(tmp_path, mode):
    runner = fake_runner(tmp_path)
    hook = MagnitudePruningHook(sparsity=0.75, interval=1, num_rounds=2,
                                mask=mode)
    hook.before_train(runner)
    for _ in range(3):
        step(runner, hook)
    weights = {n: p.detach().clone() for n, p in hook._weights.items()}
    magnitude = global_magnitude_masks(weights, hook.schedule[0])
    hook.prune(runner)
    total = sum(m.numel() for m in magnitude.values())
    n_kept = {n: int(m.sum()) for n, m in hook.masks.items()}
    assert sum(n_kept.values()) == total - round(total * hook.schedule[0])
    if mode == 'random-layerwise':
        assert n_kept == {n: int(m.sum()) for n, m in magnitude.items()}
    assert any(not torch.equal(hook.masks[n], magnitude[n])
               for n in magnitude)
    first = hook.masks
    hook.prune(runner)
    assert sum(int(m.sum()) for m in hook.masks.values()) == \
        total - round(total * 0.75)
    assert all((~hook.masks[n] | first[n]).all() for n in first)
    # the seed decides the draw
    other = fake_runner(tmp_path, seed=1)
    hook2 = MagnitudePruningHook(sparsity=0.75, interval=1, num_rounds=2,
                                 mask=mode)
    hook2.before_train(other)
    hook2._weights = {n: nn.Parameter(w) for n, w in weights.items()}
    hook2.prune(other)
    assert any(not torch.equal(hook2.masks[n], first[n]) for n in first)


def test_prefix_exclude_and_ema_hook_copies(tmp_path):
    ema = SimpleNamespace(ema_model=Teacher(Net()))
    runner = fake_runner(tmp_path, hooks=[ema])
    hook = MagnitudePruningHook(sparsity=0.5, interval=1, prefix='',
                                exclude=('teacher.*', 'backbone.0.*'))
    hook.before_train(runner)
    assert list(hook._weights) == ['backbone.4.weight', 'head.weight']
    hook.prune(runner)
    teacher = dict(runner.model.teacher.named_parameters())
    for n, m in hook.masks.items():
        copy_ = dict(ema.ema_model.named_parameters())[f'module.{n}']
        assert (copy_[~m] == 0).all()
        assert (teacher[f'module.{n}'][~m] == 0).all()
        assert (copy_[m] != 0).all()
    with pytest.raises(ValueError, match="prefix='neck'"):
        MagnitudePruningHook(sparsity=0.5, interval=1,
                             prefix='neck').before_train(runner)


def test_checkpoint_round_trip(tmp_path):
    runner = fake_runner(tmp_path)
    hook = MagnitudePruningHook(sparsity=0.8, interval=1, num_rounds=2)
    hook.before_train(runner)
    epoch(runner, hook)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    resumed = MagnitudePruningHook(sparsity=0.8, interval=1, num_rounds=2)
    resumed.after_load_checkpoint(runner, checkpoint)
    assert resumed.round == 1
    assert all(torch.equal(resumed.masks[n], m.cpu())
               for n, m in hook.masks.items())
    assert torch.equal(resumed.rewind_state['backbone.4.weight'],
                       hook.rewind_state['backbone.4.weight'])
    hook.after_run(runner)
    resumed.before_train(runner)
    epoch(runner, resumed)  # the second round
    assert resumed.round == 2
    # conv 4 x 2 x 3 x 3 + linear 6 x 16 = 168 weights, 134 pruned
    assert kept_fraction(resumed.masks) == (168 - 134) / 168
    resumed.after_run(runner)
    other = MagnitudePruningHook(sparsity=0.8, interval=1, num_rounds=2,
                                 exclude=('0.*', ))
    other.after_load_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match='masks of other weights'):
        other.before_train(runner)


def test_argument_errors(tmp_path):
    for kwargs, match in [
        (dict(sparsity=1.0), 'sparsity must be a number in'),
        (dict(sparsity=0), 'sparsity must be a number in'),
        (dict(interval=0), 'interval must be an integer'),
        (dict(num_rounds=1.5), 'num_rounds must be an integer'),
        (dict(rewind_iter=-1), 'rewind_iter must be an integer'),
        (dict(mask='lottery'), r"mask must be one of \('magnitude', "
         r"'random-layerwise', 'random-global'\)"),
        (dict(prefix=None), 'prefix must be a str'),
        (dict(exclude='stem.*'), 'exclude must be a sequence'),
    ]:
        args = dict(sparsity=0.5, interval=1)
        args.update(kwargs)
        with pytest.raises((ValueError, TypeError), match=match):
            MagnitudePruningHook(**args)
    runner = fake_runner(tmp_path, max_epochs=3)
    with pytest.raises(ValueError, match='beyond max_epochs=3'):
        MagnitudePruningHook(sparsity=0.5, interval=2,
                             num_rounds=2).before_train(runner)
    with pytest.raises(ValueError, match='rewind_iter=9 comes after'):
        MagnitudePruningHook(sparsity=0.5, interval=2,
                             rewind_iter=9).before_train(runner)


def test_bundled_configs_build_the_hook():
    root = 'configs/bundled/ssl_pruning/'
    pruned = Config.fromfile(
        root + 'prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py')
    rand = Config.fromfile(
        root + 'prune-random-deepcluster-regnety-5l16d-p4_1xb16_digits.py')
    hooks = [HOOKS.build(h) for h in (pruned.custom_hooks[-1],
                                      rand.custom_hooks[-1])]
    assert [h.mask for h in hooks] == ['magnitude', 'random-layerwise']
    assert [h.schedule for h in hooks] == [sparsity_schedule(0.8, 2)] * 2
    assert pruned.train_cfg.max_epochs == 18
    assert pruned.model == rand.model
    assert pruned.param_scheduler == rand.param_scheduler


def test_masks_with_labels_on_a_classifier(tmp_path):
    """Masks obtained with labels: the same hook on a supervised
    mmpretrain ImageClassifier (the digits RegNetY), trained by its own
    train_step."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(
        'configs/bundled/ssl_pruning/'
        'prune-deepcluster-regnety-5l16d-p4_1xb16_digits.py')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='ImageClassifier', backbone=cfg.model.backbone,
             head=dict(type='LinearClsHead', num_classes=10,
                       in_channels=128)))
    runner = fake_runner(tmp_path, iters=2)
    runner.model = model
    runner.optim_wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    hook = MagnitudePruningHook(sparsity=0.9, interval=1)
    hook.before_train(runner)
    data = dict(
        inputs=torch.randn(4, 3, 32, 32),
        data_samples=[DataSample().set_gt_label(i) for i in range(4)])
    for _ in range(2):
        model.train_step(data, runner.optim_wrapper)
        hook.after_train_iter(runner, runner.iter)
        runner.iter += 1
    hook.after_train_epoch(runner)
    assert hook.round == 1
    total = sum(m.numel() for m in hook.masks.values())
    pruned = sum(int((~m).sum()) for m in hook.masks.values())
    assert pruned == round(0.9 * total)
    model.train_step(data, runner.optim_wrapper)
    params = dict(model.named_parameters())
    assert all((params[n][~m] == 0).all() for n, m in hook.masks.items())
    assert 'head.fc.weight' not in hook.masks  # the backbone only
