# Copyright (c) mmvitplug contributors.
"""RevCol: golden parity with the official code, the reversible backward
(gradients equal to the plain columns', drop path replayed, what it
saves), depths and stochastic depth by block and column, padding, errors.

``tests/data/revcol_golden.pt`` was produced once from the official code
(megvii-research/RevCol ``models/revcol.py``, ``FullNet(channels=[8, 16,
24, 32], layers=[1, 1, 2, 1], num_subnet=4, num_classes=10,
inter_supv=True)``) in a scratch environment, with randomised norms,
shortcuts (alpha), layer scales and biases: two 64x96 images, the last
column's four maps and every column's level-3 map in eval mode; the last
column's maps in training mode with drop path 0.5 right after
``torch.manual_seed(3)``; the classifier and decoder outputs, the
compound loss, and the parameter counts of RevCol-T/S/B/L/XL.
"""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmvitplug.converters import convert_revcol, get_converter
from mmvitplug.models.backbones import RevCol
from mmvitplug.models.utils.pretrained import load_pretrained
from _builders import TEST_DATA

ARCH = dict(channels=(8, 16, 24, 32), depths=(1, 1, 2, 1), num_columns=4)
GOLDEN = osp.join(TEST_DATA, 'revcol_golden.pt')


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def golden_backbone(golden, **kwargs):
    """The golden model's backbone, loaded from its official checkpoint
    (heads not converted yet: backbone keys only)."""
    model = RevCol(ARCH, out_indices=(0, 1, 2, 3), **kwargs)
    state = {k: v for k, v in golden['state_dict'].items()
             if k.startswith(('stem.', 'subnet'))}
    report = load_pretrained(model, {'model': state}, logger=None)
    assert report.converted and report.complete
    assert report.missing_keys == [] and report.unexpected_keys == []
    return model


@pytest.mark.parametrize('reversible', [True, False])
def test_golden_parity_eval(golden, reversible):
    model = golden_backbone(golden, reversible=reversible).eval()
    with torch.no_grad():
        outs = model(golden['x'])
    for out, ref in zip(outs, golden['columns']):
        assert out.shape == ref.shape and out.is_contiguous()
        assert (out - ref).abs().max() <= 1e-4


@pytest.mark.parametrize('reversible', [True, False])
def test_golden_parity_training_with_drop_path(golden, reversible):
    """Stochastic depth draws the official masks in the official order
    (column by column, level by level, block by block)."""
    model = golden_backbone(golden, reversible=reversible,
                            drop_path_rate=0.5).train()
    torch.manual_seed(3)
    with torch.no_grad():
        outs = model(golden['x'])
    for out, ref in zip(outs, golden['dp_columns']):
        assert (out - ref).abs().max() <= 1e-4


def test_converter(golden):
    state = golden['state_dict']
    backbone = {k: v for k, v in state.items()
                if k.startswith(('stem.', 'subnet'))}
    assert get_converter('RevCol').recognises(backbone)
    converted = convert_revcol(backbone)
    first_alphas = [k for k in backbone if k.startswith('subnet0.alpha')]
    assert len(first_alphas) == 4
    assert len(converted) == len(backbone) - 4
    assert 'backbone.levels.2.3.up.0.weight' in converted
    assert converted['backbone.levels.2.3.up.0.weight'] is backbone[
        'subnet3.level2.fusion.up.channel_reschedule.0.weight']
    assert converted['backbone.levels.1.2.alpha'] is backbone[
        'subnet2.alpha1']
    with pytest.raises(KeyError, match=r"convert_revcol: 1 key\(s\) are "
                       r"not in the official RevCol layout: "
                       r"\['subnet1.level4.blocks.0.gamma'\]"):
        convert_revcol({'subnet1.level4.blocks.0.gamma': torch.ones(1)})


@pytest.mark.parametrize('arch, official', [
    ('revcol-t', 'revcol_tiny'),
    ('revcol-s', 'revcol_small'),
    ('revcol-b', 'revcol_base'),
    ('revcol-l', 'revcol_large'),
    ('revcol-xl', 'revcol_xlarge'),
])
def test_param_counts_equal_official(golden, arch, official):
    """The backbone (stem and columns); the official one also counts the
    first column's four shortcuts (sum of the channels), which scale its
    zero initial state and are not built here."""
    with torch.device('meta'):
        model = RevCol(arch)
    total = sum(p.numel() for p in model.parameters()) + sum(model.channels)
    assert round(total / 1e6, 3) == \
        golden['num_params'][official]['backbone']


def randomized(model):
    """Layer scales and shortcuts away from their init, so every block and
    every reversible connection matters."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator,
                                dtype=p.dtype)
            if name.endswith('gamma'):
                p.copy_(0.3 * noise)
            elif name.endswith('alpha'):
                p.copy_(noise.sign() * (0.3 + 0.7 * noise.abs().tanh()))
            else:
                p.add_(0.02 * noise)
    return model


def run(model, x, weights=None, seed=3):
    """Outputs, parameter gradients and input gradient of a weighted sum
    of the outputs, the RNG seeded right before the forward."""
    model.train().zero_grad()
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)
    outs = model(x)
    if weights is None:
        generator = torch.Generator().manual_seed(2)
        weights = [torch.randn(o.shape, generator=generator, dtype=o.dtype)
                   for o in outs]
    sum((w * o).sum() for w, o in zip(weights, outs)).backward()
    grads = {n: p.grad for n, p in model.named_parameters()
             if p.grad is not None}
    return outs, grads, x.grad, weights


@pytest.mark.parametrize('drop_path_rate', [0., 0.5])
def test_reversible_backward_equals_the_plain_one(drop_path_rate):
    """Float64: outputs, every parameter gradient and the input gradient
    of the reversible columns equal the plain columns' (with stochastic
    depth: the backward replays the forward's masks)."""
    rev = randomized(RevCol(ARCH, out_indices=(0, 1, 2, 3),
                            drop_path_rate=drop_path_rate).double())
    plain = copy.deepcopy(rev)
    plain.reversible = False
    x = torch.randn(2, 3, 64, 96, dtype=torch.float64)
    outs, grads, x_grad, weights = run(rev, x)
    ref_outs, ref_grads, ref_x_grad, _ = run(plain, x, weights)
    for out, ref in zip(outs, ref_outs):
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert grads.keys() == ref_grads.keys() == {
        n for n, _ in rev.named_parameters()}
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-9,
                                   atol=1e-10, msg=name)
        assert grad.abs().sum() > 0, name
    torch.testing.assert_close(x_grad, ref_x_grad, rtol=1e-9, atol=1e-10)
    if drop_path_rate:  # the replay matters: another seed, other grads
        _, other, _, _ = run(plain, x, weights, seed=4)
        assert not torch.allclose(other['stem.0.weight'],
                                  ref_grads['stem.0.weight'])


def test_reversible_with_a_frozen_stem_still_trains_the_columns():
    """No input of a column requires grad: its parameters still get their
    gradients (they are inputs of the reversible function)."""
    rev = randomized(RevCol(ARCH, frozen_stages=0).double())
    plain = copy.deepcopy(rev)
    plain.reversible = False
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    _, grads, _, weights = run(rev, x)
    _, ref_grads, _, _ = run(plain, x, weights)
    assert 'stem.0.weight' not in grads
    assert grads.keys() == ref_grads.keys()
    assert len(grads) == sum(1 for _ in rev.named_parameters()) - 4
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], msg=name)


def saved_bytes(model, x):
    """Bytes of the tensors autograd keeps for the backward."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = model(x)
    return total, outs


def test_reversible_keeps_only_the_column_outputs():
    """The reversible forward saves each column's outputs (and the stem
    output), a small fraction of what the plain forward saves."""
    model = RevCol(ARCH).train()
    x = torch.randn(2, 3, 64, 64)
    rev, _ = saved_bytes(model, x)
    model.reversible = False
    plain, _ = saved_bytes(model, x)
    stem_output = 2 * 8 * 16 * 16 * 4
    maps = 2 * (8 * 16 * 16 + 16 * 8 * 8 + 24 * 4 * 4 + 32 * 2 * 2) * 4
    stem_saved = 2 * 3 * 64 * 64 * 4 * 2  # stem conv and norm inputs
    assert rev <= stem_saved + 4 * (stem_output + maps) + 4096
    assert rev < plain / 4


def official_layer_ids(name, layers, num_subnet):
    """The official detection code's layer-wise decay id of a parameter
    (Detection/mmcv_custom/layer_decay_optimizer_constructor.py,
    ``get_num_layer_layer_wise``), on official names; and the number of
    ids."""
    depth = sum(layers)
    dp = np.zeros((depth, num_subnet))
    dp[:, 0] = np.arange(depth)
    dp[0, :] = np.arange(num_subnet)
    for i in range(1, depth):
        for j in range(1, num_subnet):
            dp[i][j] = min(dp[i][j - 1], dp[i - 1][j]) + 1
    dp = dp.astype(int) + 1
    parts = name.split('.')
    if parts[0] == 'stem':
        return 0, dp[-1][-1] + 2
    subnet = int(parts[0][6:])
    if parts[1].startswith('alpha'):
        return dp[0][subnet], dp[-1][-1] + 2
    level = int(parts[1][-1])
    block = sum(layers[:level])
    if parts[2] == 'blocks':
        block += int(parts[3])
    return dp[block][subnet], dp[-1][-1] + 2


def official_name(name):
    """mmvitplug RevCol name -> official name."""
    parts = name.split('.')
    if parts[0] == 'stem':
        return name
    level, column, rest = parts[1], parts[2], parts[3:]
    if rest[0] == 'alpha':
        return f'subnet{column}.alpha{level}'
    if rest[0] in ('down', 'up'):
        inner = 'down' if rest[0] == 'down' else 'up.channel_reschedule'
        return f'subnet{column}.level{level}.fusion.{inner}.' + \
            '.'.join(rest[1:])
    return f'subnet{column}.level{level}.' + '.'.join(rest)


@pytest.mark.parametrize('arch', [ARCH, 'revcol-t', 'revcol-b'])
def test_layer_depths_are_the_official_layer_ids(arch):
    """Level l of column i enters after i columns and the blocks below:
    the official layer-wise decay ids (the diagonal of blocks x
    columns)."""
    with torch.device('meta'):
        model = RevCol(arch)
    layers, columns = list(model.depths), model.num_columns
    for name, _ in model.named_parameters():
        assert model.get_layer_depth(name) == official_layer_ids(
            official_name(name), layers, columns), name
    top = sum(layers) + columns
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == \
        (top, top + 1)


def test_drop_path_linear_over_the_blocks_of_a_column():
    model = RevCol(ARCH, drop_path_rate=0.4)
    for column in range(4):
        rates = [
            getattr(block.drop_path, 'drop_prob', 0.)
            for level in model.levels for block in level[column].blocks
        ]
        assert rates == pytest.approx([0., 0.1, 0.2, 0.3, 0.4])


def test_alphas_stay_invertible():
    """|alpha| >= 1e-3, sign kept, before every forward (as officially);
    the first column has none (it would scale the zero initial state)."""
    model = RevCol(ARCH)
    assert all(level[0].alpha is None for level in model.levels)
    alpha = model.levels[2][1].alpha
    with torch.no_grad():
        alpha[0, :3, 0, 0] = torch.tensor([1e-5, -1e-5, -0.5])
    model(torch.randn(1, 3, 32, 32))
    assert alpha[0, :3, 0, 0].tolist() == pytest.approx([1e-3, -1e-3, -0.5])


def test_golden_column_outputs(golden):
    """out_columns: level 3 of every column, as the intermediate
    supervision reads them; columns after the last requested are not
    run."""
    model = golden_backbone(golden).eval()
    model.out_columns, model.out_indices = (0, 1, 2, 3), (3, )
    with torch.no_grad():
        outs = model(golden['x'])
    for out, ref in zip(outs, golden['column_c3']):
        assert (out - ref).abs().max() <= 1e-4
    early = RevCol(ARCH, out_columns=(0, 1), out_indices=(2, 3)).eval()
    early.load_state_dict(model.state_dict())
    ran = []
    for level in early.levels:
        for column, module in enumerate(level):
            module.register_forward_hook(
                lambda *_, column=column: ran.append(column))
    with torch.no_grad():
        outs = early(golden['x'])
    assert max(ran) == 1 and len(outs) == 4
    assert [o.shape[1] for o in outs] == [24, 32, 24, 32]
    torch.testing.assert_close(outs[1], golden['column_c3'][0],
                               atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match=r'out_columns entry 4 is out of '
                       r'range; valid indices are -4..3 \(4 columns\)'):
        RevCol(ARCH, out_columns=(0, 4))


def test_any_size_is_padded_to_32_and_cropped():
    model = randomized(RevCol(ARCH, out_indices=(0, 1, 2, 3))).eval()
    x = torch.randn(1, 3, 50, 70)
    padded = F.pad(x, (0, 26, 0, 14))
    with torch.no_grad():
        outs, full = model(x), model(padded)
    for out, ref, stride in zip(outs, full, (4, 8, 16, 32)):
        h, w = -(-50 // stride), -(-70 // stride)
        assert out.shape[-2:] == (h, w)
        torch.testing.assert_close(out, ref[..., :h, :w])


def test_bad_arguments():
    with pytest.raises(ValueError, match='with_cp=True applies to '
                       'reversible=False'):
        RevCol(ARCH, with_cp=True)
    RevCol(ARCH, with_cp=True, reversible=False)
    with pytest.raises(ValueError, match='kernel_size must be odd, got 4'):
        RevCol(ARCH, kernel_size=4)
    with pytest.raises(ValueError, match='num_columns must be a positive '
                       'int, got 0'):
        RevCol(dict(ARCH, num_columns=0))
    with pytest.raises(ValueError, match='4 stages'):
        RevCol(dict(ARCH, depths=(1, 1, 1), channels=(8, 16, 24)))
    with pytest.raises(ValueError, match='revcol-xl'):
        RevCol('revcol-h')
