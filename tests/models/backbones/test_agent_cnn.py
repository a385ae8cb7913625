# Copyright (c) mmvitplug contributors.
"""AgentCNN (Bootstrapping ViTs): parity with the official code, the shared
mode (kernel from the ViT's attention, gradients into the ViT, the ViT kept
out of the module tree), the joint conv types, errors, and the mmpretrain
backbone contract (the staged contract checks of
``test_contract_staged.py`` run here on tiny joint and shared
agents).

``tests/data/agent_cnn_golden.pt`` was made once from the official code
(zhfeing/Bootstrapping-ViTs-pytorch @85f12e9, ``vit_mutual``: the shared
``JointModel`` with its ``ViT`` and ``MutualCNN``, and the joint ``get_cnn``
CNN), at embed dims 18 on one 2 x 3 x 32 x 32 input, by a scratch script
outside the repository (cv_lib stubbed: the model code only imports its
``MidExtractor`` and registry names). Weights, BN statistics included, are
random. Each case holds the official weights, each block's output (before
the downsampling), the map after the final BN + GELU, the logits (eval),
the ViT's logits (shared cases), and a training-mode forward with the
gradients of ``(logits * proj).sum()``:

- ``shared_h9``: 2 layers, 9 heads (k = 3), MLP 36, vit_like input (patch
  8), pre-norm;
- ``shared_h6``: 2 layers, 6 heads (the bottom kernel row unused), LN eps
  1e-6, resnet_like input (mid_channel 8), ``down_sample_layers [0]``,
  post-norm;
- ``joint_heads``: ``conv_manyhead`` with 6 heads, vit_like, post-norm,
  ``down_sample_layers [1]`` (a pooling after the last block);
- ``joint_full``: ``conv_sl`` (full 3 x 3), resnet_like, pre-norm,
  ``down_sample_layers [0]``.
"""
import copy
import io
import os.path as osp
import re

import pytest
import test_contract_staged as staged
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmvitplug.models.backbones import AgentCNN, DeiT
from mmvitplug.models.backbones.agent_cnn import HeadConv, ModuleRef
from _builders import TEST_DATA
from _contract import perturb

GOLDEN = osp.join(TEST_DATA, 'agent_cnn_golden.pt')
TOL = dict(atol=1e-5, rtol=0)  # the golden comparisons

#: 3 blocks of 18 channels, 9 heads (k = 3), a pooling after block 0
TINY = dict(embed_dims=18, num_layers=3, num_heads=9, feedforward_channels=36,
            patch_size=8, down_sample_layers=(0, ))
ALL = (0, 1, 2)


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """One intra-op thread: the tensors are tiny, and on a busy machine a
    second thread only makes every small convolution wait for it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_vit(num_heads=9, num_layers=3, dims=18, ffn=36, seed=0):
    """A DeiT whose blocks can be shared with a tiny agent."""
    torch.manual_seed(seed)
    return DeiT(
        dict(embed_dims=dims, num_layers=num_layers, num_heads=num_heads,
             feedforward_channels=ffn, img_size=32, patch_size=8))


class SharedAgent(AgentCNN):
    """A shared-mode AgentCNN bound at construction to a DeiT of its arch
    (held by the agent only through the binding, as in shared mode), so
    that the contract checks, which build a model from its constructor
    arguments, run on shared agents."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, shared=True, **kwargs)
        self.share_weights_with(
            DeiT(dict(embed_dims=self.embed_dims, num_layers=self.num_layers,
                      num_heads=self.num_heads,
                      feedforward_channels=self.feedforward_channels)))


JOINT = staged.StagedFamily(
    cls=AgentCNN,
    arch=TINY,
    kwargs={},
    out_types=('avg_featmap', 'featmap'),
    shapes={  # vit_like patch 8, then a 2x2 pooling after block 0
        (32, 32): ((18, 4, 4), (18, 2, 2), (18, 2, 2)),
        (40, 56): ((18, 5, 7), (18, 2, 3), (18, 2, 3)),
    },
    variants={
        'heads': {},
        'full': dict(conv_type='full'),
        'res_like': dict(input_proj='resnet_like', stem_channels=8,
                         down_sample_layers=(0, 2), pre_norm=False),
    },
    full='heads',
    bad_input=((4, 16), '4x16 is smaller than the 8x8 patches'),
    drop_path='linear',
    frozen_kwargs=dict(drop_rate=0.5, branch_drop_rate=0.5),
    pyramid=False,
    label='AgentCNN')
SHARED = staged.StagedFamily(
    cls=SharedAgent,
    arch=TINY,
    kwargs={},
    out_types=('avg_featmap', 'featmap'),
    shapes=JOINT.shapes,
    variants={'pre_norm': {}, 'post_norm': dict(pre_norm=False)},
    full='pre_norm',
    bad_input=JOINT.bad_input,
    drop_path='linear',
    frozen_kwargs=dict(drop_rate=0.5, branch_drop_rate=0.5),
    pyramid=False,
    label='SharedAgent')
FAMILIES = [JOINT, SHARED]


def build(variant='heads', *, seed=0, init=True, **kwargs):
    """A tiny joint agent (``variant`` of :data:`JOINT`)."""
    return staged.build(JOINT, variant=variant, seed=seed, init=init,
                        **kwargs)


def shared_agent(vit=None, arch=TINY, **kwargs):
    torch.manual_seed(0)
    model = AgentCNN(arch, shared=True, **kwargs)
    model.init_weights()
    return model.share_weights_with(vit if vit is not None else tiny_vit())


def images(batch=2, size=32, seed=0):
    return torch.randn(batch, 3, size, size,
                       generator=torch.Generator().manual_seed(seed))


def count(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------- parity with the official code
@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN, weights_only=True)


def official_vit_to_deit(state):
    """Official ``ViT`` keys -> :class:`DeiT` keys (the head dropped)."""
    out = {}
    for key, value in state.items():
        if key.startswith('cls_head.'):
            continue
        if key == 'pos_embed.pos_embed':  # (N + 1, 1, C) -> (1, N + 1, C)
            key, value = 'pos_embed', value.transpose(0, 1)
        for old, new in (('transformer.layers.', 'blocks.'),
                         ('transformer.norm.', 'norm.'),
                         ('.attention.linear_qkv.', '.attn.qkv.'),
                         ('.attention.linear_out.', '.attn.proj.'),
                         ('.mlp.linear1.', '.mlp.fc1.'),
                         ('.mlp.linear2.', '.mlp.fc2.')):
            key = key.replace(old, new)
        out[key] = value
    return out


def official_cnn_to_agent(state):
    """Official ``MutualCNN`` / ``CNN`` keys -> :class:`AgentCNN` keys (the
    classifier ``linear`` dropped)."""
    out = {}
    for key, value in state.items():
        if key.startswith('linear.'):
            continue
        key = re.sub(r'^layers\.', 'blocks.', key)
        key = re.sub(r'^bn\.', 'norm.', key)
        for old, new in (('.cnn_block.conv.', '.conv.'),
                         ('.cnn_block.', '.conv.'),
                         ('.mlp_block.conv1.', '.mlp.fc1.'),
                         ('.mlp_block.conv2.', '.mlp.fc2.')):
            key = key.replace(old, new)
        out[key] = value
    return out


def golden_agent(case, **kwargs):
    num_layers = len(case['layers'])
    arch = dict(embed_dims=18, num_layers=num_layers,
                num_heads=case['heads'], feedforward_channels=case['ffn'])
    if case['input_proj'] == 'vit_like':
        kwargs['patch_size'] = 8
    else:
        kwargs['stem_channels'] = 8
    return AgentCNN(
        arch, input_proj=case['input_proj'],
        down_sample_layers=case['down'], pre_norm=case['pre_norm'],
        out_indices=tuple(range(num_layers)), out_type='featmap', **kwargs)


def check_against_golden(cnn, case, x):
    """Block maps, top map, logits (eval); logits in training mode (batch
    statistics), whose backward the caller checks."""
    weight, bias = case['cnn']['linear.weight'], case['cnn']['linear.bias']
    cnn.eval()
    with torch.no_grad(), cnn.also_output('avg_featmap') as pooled:
        maps = cnn(x)
    for i, (ours, theirs) in enumerate(zip(maps[:-1], case['layers'])):
        torch.testing.assert_close(ours, theirs, **TOL, msg=f'block {i}')
    torch.testing.assert_close(maps[-1], case['top'], **TOL)
    torch.testing.assert_close(
        F.linear(pooled[-1], weight, bias), case['logits'], **TOL)
    cnn.train()
    with cnn.also_output('avg_featmap') as pooled:
        cnn(x)
    logits = F.linear(pooled[-1], weight, bias)
    torch.testing.assert_close(logits, case['train_logits'], **TOL)
    (logits * case['proj']).sum().backward()


@pytest.mark.parametrize('name', ['shared_h9', 'shared_h6'])
def test_shared_mode_matches_official(golden, name):
    """The official weights in our DeiT give the official ViT's logits; our
    shared agent bound to it gives the official agent's maps and logits,
    and the official gradients in the ViT's parameters (<= 1e-5)."""
    case, x = golden['cases'][name], golden['x']
    vit = DeiT(
        dict(embed_dims=18, num_layers=len(case['layers']),
             num_heads=case['heads'], feedforward_channels=case['ffn'],
             img_size=32, patch_size=8),
        norm_cfg=dict(type='LN', eps=case['eps'])).eval()
    vit.load_state_dict(official_vit_to_deit(case['vit']))
    with torch.no_grad():
        torch.testing.assert_close(
            F.linear(vit(x)[0], case['vit']['cls_head.weight'],
                     case['vit']['cls_head.bias']), case['vit_logits'],
            **TOL)
    cnn = golden_agent(case, shared=True)
    cnn.load_state_dict(official_cnn_to_agent(case['cnn']))
    cnn.share_weights_with(vit)
    check_against_golden(cnn, case, x)
    expected = official_vit_to_deit(case['vit_grads'])
    for key, p in vit.named_parameters():
        if key in expected:
            torch.testing.assert_close(p.grad, expected[key], **TOL, msg=key)
        else:  # the official CNN does not use it either (e.g. qkv.bias)
            assert p.grad is None, key
    assert {k for k in expected if '.attn.qkv.' in k} == {
        f'blocks.{i}.attn.qkv.weight' for i in range(len(case['layers']))}


@pytest.mark.parametrize('name', ['joint_heads', 'joint_full'])
def test_joint_mode_matches_official(golden, name):
    """Official ``Conv_ManyHead`` / ``Conv_SL`` agents: maps, logits and the
    gradients of the first block's convolution (<= 1e-5)."""
    case, x = golden['cases'][name], golden['x']
    cnn = golden_agent(case, conv_type=case['conv_type'])
    cnn.load_state_dict(official_cnn_to_agent(case['cnn']))
    check_against_golden(cnn, case, x)
    params = dict(cnn.named_parameters())
    expected = official_cnn_to_agent(case['cnn_grads'])
    assert set(expected) == {'blocks.0.conv.weight', 'blocks.0.conv.bias'}
    for key, grad in expected.items():
        torch.testing.assert_close(params[key].grad, grad, **TOL, msg=key)


# ------------------------------------------------------------- shared mode
def explicit_kernel(attn, k):
    """K[:, :, h // k, h % k] = W_o^h W_v^h, written out head by head."""
    dims, heads = attn.proj.weight.shape[0], attn.num_heads
    d = dims // heads
    w_v = attn.qkv.weight[2 * dims:]
    kernel = torch.zeros(dims, dims, k, k)
    for h in range(heads):
        kernel[:, :, h // k, h % k] = \
            attn.proj.weight[:, h * d:(h + 1) * d] @ w_v[h * d:(h + 1) * d]
    return kernel


def per_head_loop(x, attn, k):
    """out[p] = sum_h W_h x[p + offset_h] + b_o, with zero padding: head h
    reads the neighbour at offset (h // k - k // 2, h % k - k // 2)."""
    dims, heads = attn.proj.weight.shape[0], attn.num_heads
    d = dims // heads
    w_v = attn.qkv.weight[2 * dims:]
    H, W = x.shape[2:]
    padded = F.pad(x, (k // 2, ) * 4)
    out = attn.proj.bias[None, :, None, None].expand(x.shape[0], -1, H, W)
    for h in range(heads):
        w_h = attn.proj.weight[:, h * d:(h + 1) * d] @ w_v[h * d:(h + 1) * d]
        dy, dx = h // k, h % k
        shifted = padded[:, :, dy:dy + H, dx:dx + W]
        out = out + torch.einsum('oi,bihw->bohw', w_h, shifted)
    return out


@pytest.mark.parametrize('heads', [9, 6, 5])
def test_shared_conv_is_the_assembled_kernel(heads):
    """The shared convolution is F.conv2d with K[:, :, h // k, h % k] =
    W_o^h W_v^h and bias b_o, i.e. the per-head sum over shifted inputs;
    with 6 (or 5) heads the bottom kernel row (and the positions after
    the last head) stay zero."""
    dims = heads * 3
    vit = tiny_vit(num_heads=heads, dims=dims)
    cnn = shared_agent(vit, arch=dict(TINY, embed_dims=dims,
                                      num_heads=heads))
    block, attn = cnn.blocks[1], vit.blocks[1].attn
    with torch.no_grad():
        attn.proj.bias.normal_()
        attn.qkv.bias.normal_()  # ignored, as the official
        kernel, bias = block.kernel()
        assert kernel.shape == (dims, dims, 3, 3) and bias is attn.proj.bias
        torch.testing.assert_close(kernel, explicit_kernel(attn, 3))
        flat = kernel.flatten(2)
        assert torch.all(flat[..., heads:] == 0)
        assert torch.all(flat[..., :heads].abs().sum((0, 1)) > 0)
        if heads == 6:
            assert torch.all(kernel[:, :, 2] == 0)
        y = torch.randn(2, dims, 5, 6)
        ours = block._conv(y)
        torch.testing.assert_close(
            ours, F.conv2d(y, explicit_kernel(attn, 3), attn.proj.bias,
                           padding=1))
        torch.testing.assert_close(ours, per_head_loop(y, attn, 3),
                                   atol=1e-5, rtol=1e-5)


def test_shared_mlp_is_the_vits_mlp():
    """The MLP branch is the ViT block's MLP applied at every pixel."""
    vit = tiny_vit()
    cnn = shared_agent(vit).eval()
    y = torch.randn(2, 18, 3, 4)
    with torch.no_grad():
        ours = cnn.blocks[0]._mlp(y)
        tokens = vit.blocks[0].mlp(y.flatten(2).transpose(1, 2))
    torch.testing.assert_close(ours, tokens.transpose(1, 2).reshape_as(y))


def test_gradients_reach_the_vit_value_proj_and_mlp():
    """The CNN's loss reaches the ViT's value weights (not its query / key
    rows, nor the qkv bias), proj and fc1 / fc2, and nothing of the ViT
    that the CNN does not use."""
    vit = tiny_vit()
    cnn = shared_agent(vit, out_type='featmap', out_indices=ALL)
    (out, *_) = cnn(images(4))
    (out.square().sum() + sum(o.sum() for o in _)).backward()
    for i, block in enumerate(vit.blocks):
        grad = block.attn.qkv.weight.grad
        assert torch.all(grad[:36] == 0), i  # query and key rows
        assert grad[36:].abs().sum(1).min() > 0, i  # every value row
        assert block.attn.qkv.bias.grad is None
        for p in (block.attn.proj.weight, block.attn.proj.bias,
                  block.mlp.fc1.weight, block.mlp.fc1.bias,
                  block.mlp.fc2.weight, block.mlp.fc2.bias):
            assert p.grad is not None and p.grad.abs().sum() > 0, i
        for p in (*block.norm1.parameters(), *block.norm2.parameters()):
            assert p.grad is None
    for p in (vit.patch_embed.proj.weight, vit.pos_embed, vit.cls_token,
              vit.norm.weight):
        assert p.grad is None


def test_the_vit_stays_out_of_the_module_tree():
    """No ViT key in the CNN's state dict, no ViT parameter among the
    CNN's (so a model registering both hands each to the optimizer once),
    and init_weights / train / .to of the CNN leave the ViT alone."""
    vit = tiny_vit()
    cnn = shared_agent(vit)
    keys = set(cnn.state_dict())
    # a joint agent's keys without its conv / MLP weights
    assert keys == {
        k for k in build().state_dict()
        if not re.fullmatch(r'blocks\.\d\.(conv|mlp\.fc\d)\.(weight|bias)', k)
    }
    assert not any('attn' in k or 'qkv' in k or 'fc1' in k for k in keys)
    assert {id(p) for p in cnn.parameters()}.isdisjoint(
        id(p) for p in vit.parameters())
    assert all(not m.__class__.__name__.startswith(('Block', 'Attention'))
               for m in cnn.modules())
    both = nn.ModuleDict(dict(vit=vit, cnn=cnn))
    assert count(both) == count(vit) + count(cnn)
    # its own parameters only: input projection, BatchNorms
    assert count(cnn) == 3 * 64 * 18 + 18 + 3 * 4 * 18 + 2 * 18
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    cnn._is_init = False
    cnn.init_weights()
    cnn.double()
    cnn.eval()
    vit.train()
    assert vit.training and all(m.training for m in vit.modules())
    for key, value in vit.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(
            value, before[key]), key
    # the kernel follows the ViT's dtype
    vit.double()
    assert cnn(images().double())[0].dtype == torch.float64


def test_deep_copies_share_or_follow_the_vit():
    """A copy of the CNN alone shares the live ViT (nothing of it is
    copied); a copy of a model holding both (an EMA copy), whatever the
    order of its children, binds the CNN copy to the ViT copy."""
    vit = tiny_vit()
    cnn = shared_agent(vit).eval()
    x = images()
    alone = copy.deepcopy(cnn)
    assert all(a.vit_block is b for a, b in zip(alone.blocks, vit.blocks))
    vit_storages = {p.data_ptr() for p in vit.parameters()}
    assert vit_storages.isdisjoint(p.data_ptr() for p in alone.parameters())
    torch.testing.assert_close(alone(x), cnn(x))

    for order in (('vit', 'cnn'), ('cnn', 'vit')):
        both = nn.ModuleDict({name: dict(vit=vit, cnn=cnn)[name]
                              for name in order})
        ema = copy.deepcopy(both)
        assert ema['vit'] is not vit
        assert all(a.vit_block is b
                   for a, b in zip(ema['cnn'].blocks, ema['vit'].blocks))
        assert all(a.vit_block is b for a, b in zip(cnn.blocks, vit.blocks))
        with torch.no_grad():
            ema['vit'].blocks[0].attn.proj.bias.add_(1.)
        assert not torch.allclose(ema['cnn'](x)[0], cnn(x)[0]), order
    # mmengine's EMA model copies the whole model the same way
    from mmengine.model import ExponentialMovingAverage
    ema = ExponentialMovingAverage(nn.ModuleDict(dict(cnn=cnn, vit=vit)))
    assert all(a.vit_block is b for a, b in zip(ema.module['cnn'].blocks,
                                                ema.module['vit'].blocks))
    # a pickled model holding both comes back bound to its own ViT
    buffer = io.BytesIO()
    torch.save(nn.ModuleDict(dict(cnn=cnn, vit=vit)), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    assert all(a.vit_block is b for a, b in zip(loaded['cnn'].blocks,
                                                loaded['vit'].blocks))
    torch.testing.assert_close(loaded['cnn'](x), cnn(x))


def test_module_ref_pending_copy_resolves_once():
    module = nn.Linear(2, 2)
    ref = ModuleRef(module)
    holder = [ref, module]  # the module copied after the reference
    copied = copy.deepcopy(holder)
    assert copied[0]._memo is not None  # not resolved yet
    assert copied[0].module is copied[1]
    assert copied[0]._memo is None
    assert copy.deepcopy(ref).module is module


def test_rebinding_and_binding_blocks():
    """Binding again replaces the ViT; a sequence of blocks binds too."""
    x = images()
    vit_a, vit_b = tiny_vit(seed=0), tiny_vit(seed=1)
    cnn = shared_agent(vit_a).eval()
    out_a = cnn(x)[0]
    cnn.share_weights_with(list(vit_b.blocks))
    assert cnn.blocks[2].vit_block is vit_b.blocks[2]
    out_b = cnn(x)[0]
    assert not torch.allclose(out_a, out_b)
    cnn.share_weights_with(vit_b.blocks)
    torch.testing.assert_close(cnn(x)[0], out_b)


def test_shared_with_cp_gives_the_same_vit_gradients():
    grads = []
    for with_cp in (False, True):
        vit = tiny_vit()
        cnn = shared_agent(vit, with_cp=with_cp, out_type='featmap').train()
        cnn(images(4))[0].square().sum().backward()
        grads.append({k: p.grad for k, p in vit.named_parameters()
                      if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for key, grad in grads[0].items():
        torch.testing.assert_close(grads[1][key], grad, msg=key)


def test_shared_errors():
    with pytest.raises(RuntimeError, match=r'not bound to a ViT: call '
                       r'AgentCNN.share_weights_with\(vit\)'):
        AgentCNN(TINY, shared=True)(images())
    with pytest.raises(RuntimeError, match='needs AgentCNN.shared=True.'):
        build().share_weights_with(tiny_vit())
    cnn = AgentCNN(TINY, shared=True)
    with pytest.raises(ValueError, match='The ViT has 2 blocks but the '
                       'AgentCNN has 3'):
        cnn.share_weights_with(tiny_vit(num_layers=2))
    with pytest.raises(ValueError, match=r'attn.qkv maps 27 -> 81 channels'
                       r'.*needs 18 -> 54'):
        cnn.share_weights_with(tiny_vit(dims=27))
    with pytest.raises(ValueError, match=r'mlp.fc1 maps 18 -> 72 channels'):
        cnn.share_weights_with(tiny_vit(ffn=72))
    with pytest.raises(ValueError, match='ViT block 0 has 6 heads but the '
                       'AgentCNN has num_heads=9'):
        cnn.share_weights_with(tiny_vit(num_heads=6))
    with pytest.raises(ValueError, match=r'num_heads=3 gives the even kernel '
                       r'size ceil\(sqrt\(3\)\) = 2.*1, 5\.\.9, 17\.\.25'):
        cnn.share_weights_with(tiny_vit(num_heads=3))
    with pytest.raises(ValueError, match='a Linear without `blocks`'):
        cnn.share_weights_with(nn.Linear(2, 2))
    blocks = list(tiny_vit().blocks)
    blocks[1] = nn.Identity()
    with pytest.raises(ValueError, match='ViT block 1 .Identity. has no '
                       'attn.qkv'):
        cnn.share_weights_with(blocks)
    assert not cnn.is_bound and not build().is_bound
    with pytest.raises(ValueError, match="conv_type='full' has no ViT "
                       'counterpart'):
        AgentCNN(TINY, shared=True, conv_type='full')
    assert AgentCNN(TINY, shared=True, conv_type='heads').conv_type is None


# -------------------------------------------------------------- joint mode
def test_conv_types_and_parameter_counts():
    """'full': a k x k nn.Conv2d; 'heads': only (C, C, H) weights."""
    full, heads = build(conv_type='full'), build(conv_type='heads')
    six = build(arch=dict(TINY, num_heads=6))
    assert all(type(b.conv) is nn.Conv2d and b.conv.kernel_size == (3, 3)
               for b in full.blocks)
    assert all(isinstance(b.conv, HeadConv) and b.conv.weight.shape ==
               (18, 18, 9) for b in heads.blocks)
    assert six.blocks[0].conv.weight.shape == (18, 18, 6)
    stem = 3 * 64 * 18 + 18
    mlp_norms = 2 * 18 * 36 + 36 + 18 + 4 * 18
    top = 2 * 18
    assert count(full) == stem + 3 * (18 * 18 * 9 + 18 + mlp_norms) + top
    assert count(heads) == count(full)  # 9 heads fill the 3 x 3 kernel
    assert count(six) == stem + 3 * (18 * 18 * 6 + 18 + mlp_norms) + top
    assert count(build('res_like')) == (3 * 49 * 8 + 2 * 8 + 8 * 9 * 18 +
                                        18) + count(heads) - stem
    assert build(arch=dict(TINY, num_heads=6), conv_type='full') \
        .blocks[0].conv.weight.shape == (18, 18, 3, 3)


def test_heads_kernel_positions_stay_zero_in_training():
    """'heads' with 6 heads: the kernel's bottom row is structurally zero
    (not a parameter), also after optimizer steps with weight decay."""
    model = build(arch=dict(TINY, num_heads=6), out_type='featmap')
    assert not any(p.ndim == 4 and p.shape[-1] == 3
                   for n, p in model.named_parameters() if '.conv.' in n)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(2):
        model(images(4))[0].square().mean().backward()
        opt.step()
        opt.zero_grad()
    for block in model.blocks:
        kernel = block.conv.kernel()
        assert torch.all(kernel[:, :, 2] == 0)
        torch.testing.assert_close(kernel.flatten(2)[..., :6],
                                   block.conv.weight)
        assert kernel.flatten(2)[..., :6].abs().sum((0, 1)).min() > 0


def test_default_init():
    """Xavier-uniform convolutions (per-head weights of (C, C, H) too),
    zero biases, BatchNorms one / zero."""
    for model in (build(), build('res_like'), build('full')):
        for name, p in model.named_parameters():
            if name.endswith('bias'):
                assert torch.all(p == 0), name
            elif p.ndim == 1:
                assert torch.all(p == 1), name
            else:
                fan_in = p.shape[1] * p[0, 0].numel()
                fan_out = p.shape[0] * p[0, 0].numel()
                bound = (6 / (fan_in + fan_out))**0.5
                assert p.abs().max() <= bound and p.std() > bound / 3, name


# --------------------------------------------------- constructor arguments
def test_zoo():
    """The official configs; joint parameter counts of each layout."""
    expected = {
        'agent-small': (288, 6, 9, 1152, 'vit_like', (), True, 'full',
                        8_699_616),
        'agent-small-res_like': (288, 6, 9, 1152, 'resnet_like', (0, 1),
                                 True, 'full', 8_653_856),
        'agent-base': (384, 12, 6, 1536, 'vit_like', (), False, 'heads',
                       25_114_752),
        'agent-base-res_like': (384, 12, 6, 1536, 'resnet_like', (2, 8),
                                False, 'heads', 25_050_560),
    }
    assert set(AgentCNN.arch_zoo) == set(expected)
    for name, values in expected.items():
        with torch.device('meta'):
            model = AgentCNN(name)
        got = (model.embed_dims, model.num_layers, model.num_heads,
               model.feedforward_channels, model.input_proj_type,
               model.down_sample_layers, model.pre_norm, model.conv_type,
               count(model))
        assert got == values, name
    with torch.device('meta'):
        shared = AgentCNN('agent-small', shared=True)
    assert count(shared) == 3 * 256 * 288 + 288 + 6 * 4 * 288 + 2 * 288
    assert shared.conv_type is None and shared.is_bound is False


def test_input_projections_and_down_sampling():
    """resnet_like: stride 8; poolings after the listed blocks (negative
    indices count from the end); maps at any size."""
    model = build('res_like', out_type='featmap', out_indices=ALL).eval()
    assert isinstance(model.input_proj.maxpool, nn.MaxPool2d)
    assert model.input_proj.conv1.bias is None
    assert model.patch_size == 8 and model.down_sample_layers == (0, 2)
    # the last block's pooling comes before the top
    assert [o.shape[-2:] for o in model(images(1, 64))] == \
        [(8, 8), (4, 4), (2, 2)]
    assert [o.shape[-2:] for o in model(torch.randn(1, 3, 45, 70))] == \
        [(6, 9), (3, 4), (1, 2)]
    assert build(down_sample_layers=[-1, 1]).down_sample_layers == (1, 2)
    out = build(patch_size=4, out_type='featmap').eval()(images())
    assert out[0].shape == (2, 18, 4, 4)  # 8x8 patches of 4, pooled


def test_pre_and_post_norm():
    """pre_norm puts each BN before its branch, post-norm after it."""
    x = torch.randn(2, 18, 4, 4)
    for pre_norm in (True, False):
        block = build(pre_norm=pre_norm).blocks[1]
        perturb(block).eval()
        conv, mlp = block.conv, block.mlp
        with torch.no_grad():
            if pre_norm:
                y = x + conv(block.norm1(x))
                y = y + mlp(block.norm2(y))
            else:
                y = x + block.norm1(conv(x))
                y = y + block.norm2(mlp(y))
            torch.testing.assert_close(block(x), y)


@pytest.mark.parametrize('shared', [False, True])
@pytest.mark.parametrize('arg', ['drop_rate', 'branch_drop_rate'])
def test_drop_rates(shared, arg):
    """drop_rate: MLP dropout; branch_drop_rate: dropout on each branch's
    output; each active in training only."""
    x = images()
    outs = []
    for rate in (0., 0.3):
        model = shared_agent(**{arg: rate}) if shared else build(**{arg: rate})
        for block in model.blocks:
            mlp_drop = block.mlp_drop if shared else block.mlp.drop
            assert (mlp_drop.p, block.branch_drop.p) == (
                (rate, 0.) if arg == 'drop_rate' else (0., rate))
        model.train()
        for seed in (0, 1):
            torch.manual_seed(seed)
            outs.append(model(x)[0])
        model.eval()
        torch.testing.assert_close(model(x), model(x))
    torch.testing.assert_close(outs[0], outs[1])  # no dropout: equal
    assert not torch.allclose(outs[2], outs[3])


def test_norm_cfg_in_channels_and_registry():
    from mmpretrain.registry import MODELS
    model = build('res_like', norm_cfg=dict(type='SyncBN', eps=1e-3))
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._NormBase)]
    assert len(norms) == 1 + 2 * 3 + 1
    assert all(isinstance(m, nn.SyncBatchNorm) and m.eps == 1e-3
               for m in norms)
    classifier = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmvitplug.AgentCNN', arch=TINY,
                           in_channels=1),
             neck=None,
             head=dict(type='LinearClsHead', num_classes=4,
                       in_channels=18))).eval()
    assert classifier(torch.randn(2, 1, 32, 32), mode='tensor').shape == \
        (2, 4)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(input_proj='patchify'), ValueError,
     r"Unknown input_proj 'patchify'; choose from \['vit_like', "
     r"'resnet_like'\]"),
    (dict(conv_type='dense'), ValueError,
     r"Unknown conv_type 'dense'; choose from \['full', 'heads'\]"),
    (dict(arch=dict(TINY, conv_type='dense')), ValueError,
     r"Unknown arch conv_type 'dense'; choose from \['full', 'heads'\]"),
    (dict(input_proj='resnet_like', patch_size=8), ValueError,
     r"patch_size is for the vit_like input projection; input_proj is "
     r"'resnet_like'"),
    (dict(stem_channels=8), ValueError,
     r"stem_channels is for the resnet_like input projection; input_proj "
     r"is 'vit_like'"),
    (dict(input_proj='resnet_like', stem_channels=0), ValueError,
     'stem_channels must be a positive int, got 0'),
    (dict(patch_size=0), ValueError, 'patch_size must be a positive int'),
    (dict(down_sample_layers=(3, )), ValueError,
     r'down_sample_layers entry 3 is out of range; valid indices are '
     r'-3\.\.2 \(3 blocks\)'),
    (dict(pre_norm=1), ValueError, 'pre_norm must be True or False, got 1'),
    (dict(shared=None), ValueError, 'shared must be True or False'),
    (dict(arch=dict(TINY, num_heads=4, embed_dims=16)), ValueError,
     r'num_heads=4 gives the even kernel size ceil\(sqrt\(4\)\) = 2; .*'
     r'num_heads in 1, 5\.\.9, 17\.\.25, 37\.\.49, ... \(e\.g\. 6 or 9\)'),
    (dict(arch=dict(TINY, num_heads=10)), ValueError,
     r'num_heads=10 gives the even kernel size'),
    (dict(arch=dict(TINY, num_heads=5)), ValueError,
     r'embed_dims \(18\) must be divisible by num_heads \(5\)'),
    (dict(drop_path_rate=1.), ValueError, r'drop_prob must be in \[0, 1\)'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        build(**kwargs)


# ------------------------------------------------------------ the contract
STAGED_CHECKS = [
    'test_arch_dict_and_zoo_name', 'test_featmaps_at_every_size',
    'test_out_indices_select_stage_outputs',
    'test_avg_featmap_is_the_mean_of_featmap', 'test_bad_input_size',
    'test_other_init_cfg_applies_on_top', 'test_pretrained_inside_list_raises',
    'test_in_channels', 'test_drop_path_rate'
]


@pytest.mark.parametrize('fam', FAMILIES, ids=lambda f: f.id)
@pytest.mark.parametrize('check', STAGED_CHECKS)
def test_staged_contract(fam, check):
    getattr(staged, check)(fam)


@pytest.mark.parametrize('fam', FAMILIES, ids=lambda f: f.id)
def test_contract_bad_arguments(fam):
    for case in staged._bad_arguments(fam):
        staged.test_bad_arguments(*case.values)


@pytest.mark.parametrize('fam', FAMILIES, ids=lambda f: f.id)
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 'all'])
def test_contract_frozen_stages(fam, frozen_stages):
    staged.test_frozen_stages(fam, frozen_stages)


@pytest.mark.parametrize('fam, variant', [(f, v) for f in FAMILIES
                                          for v in f.variants],
                         ids=lambda v: getattr(v, 'id', v))
def test_contract_gradients_depths_with_cp(fam, variant, monkeypatch):
    staged.test_all_parameters_receive_gradients(fam, variant)
    staged.test_layer_depth_is_where_parameters_enter(fam, variant)
    staged.test_with_cp_identical(fam, variant, monkeypatch)


@pytest.mark.parametrize('fam', FAMILIES, ids=lambda f: f.id)
@pytest.mark.parametrize('prefix', ['backbone.', None])
def test_contract_pretrained_loads_once(fam, prefix, tmp_path):
    staged.test_pretrained_init_cfg_loads_once(fam, prefix, tmp_path)


@pytest.mark.parametrize('variant', ['heads', 'res_like'])
def test_get_layer_depth(variant):
    """Input projection 0, block i i + 1, the top (and a head) 4."""
    model = build(variant)
    for name, _ in model.named_parameters():
        head = name.split('.')[0]
        expected = dict(input_proj=0, norm=4).get(head)
        if expected is None:
            expected = int(name.split('.')[1]) + 1
        assert model.get_layer_depth(name) == (expected, 5), name
        assert model.get_layer_depth('backbone.' + name, 'backbone.') == \
            (expected, 5), name
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (4, 5)
    with pytest.raises(KeyError, match='not a parameter of AgentCNN'):
        model.get_layer_depth('backbone.blocks.0.attn.qkv.weight',
                              'backbone.')
