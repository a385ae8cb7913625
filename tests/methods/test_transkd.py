# Copyright (c) mmvitplug contributors.
"""TransKD: the distillers of the configs (Base, GL, EA) give the official
fused maps, projected embeddings, losses, gradients and BatchNorm statistics
(golden values made by running the official code); the connectors' own
behaviour and errors; CWD against the official criterion."""
import copy
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmvitplug.models.distill import (ConfigurableDistiller, CSFConnector,
                                      EmbeddingAssistantConnector,
                                      GLMixerConnector)
from mmvitplug.models.losses import ChannelWiseDivergenceLoss
from _builders import REPO_ROOT

GOLDEN = osp.join(osp.dirname(osp.dirname(__file__)), 'data',
                  'transkd_golden.pt')
# golden (official RuipingL/TransKD 39ab795, train/CSF.py, CSF_GLMixer.py,
# CSF_EA.py): SKF of a student with stages of 8 / 16 / 24 / 32 channels
# (16 / 8 / 4 / 2 px, from a 64 px image) and a teacher of 12 / 20 / 28 / 36,
# 16 mid channels, fixed student / teacher maps and patch-embedding tokens,
# train mode; the GL-Mixer weights set to 0.7 / 0.3 (uninitialised in the
# official code), 4 stage-4 heads. Per variant: the SKF state dict before
# the forward, its fused maps and projected embeddings, hcl + PEA (0.1, 0.1,
# 0.5, 1) losses, gradients and the BatchNorm statistics after the step.
DISTILLERS = osp.join(REPO_ROOT, 'configs', '_base_', 'distillers')
#: variant -> its change to TransKD-Base's distiller (None: Base itself)
VARIANTS = {'csf': None, 'glmixer': 'transkd_gl', 'ea': 'transkd_ea'}


@pytest.fixture(scope='module')
def golden():
    return torch.load(GOLDEN)


class Emit(nn.Module):
    """A patch embedding that returns fixed tokens, as mmseg's PatchEmbed
    returns ``(tokens, hw_shape)``."""

    def __init__(self, tokens):
        super().__init__()
        self.tokens = tokens

    def forward(self, x):
        return self.tokens, x.shape[-2:]


class StubMiT(nn.Module):
    """The module paths of mmseg's MixVisionTransformer (``layers[i][0]``
    the patch embeddings, whose inputs are the image, then the previous
    stage map), emitting fixed maps and tokens."""

    def __init__(self, maps, tokens):
        super().__init__()
        self.maps = maps
        self.layers = nn.ModuleList(
            [nn.ModuleList([Emit(t)]) for t in tokens])

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            layer[0](x if i == 0 else self.maps[i - 1])
        return list(self.maps)


def _segmentor(maps, tokens):
    model = nn.Module()
    model.backbone = StubMiT(maps, tokens)
    return model


def _distiller(variant, cfg):
    """The config's distiller at the golden sizes."""
    s, t = cfg['in_channels'], cfg['out_channels']
    dist = Config.fromfile(osp.join(DISTILLERS,
                                    'transkd.py')).transkd_distiller
    change = VARIANTS[variant]
    if change is not None:
        delta = Config.fromfile(osp.join(DISTILLERS, f'{change}.py'))[change]
        dist = Config._merge_a_into_b(delta, dist)
    dist = copy.deepcopy(dist.to_dict())
    for name, conn in dist['connectors'].items():
        if name == 'csf':
            conn.update(in_channels=s, out_channels=t,
                        mid_channels=cfg['mid_channel'])
        elif name == 'glmixer':
            conn.update(channels=s[3], num_heads=cfg['glmixer_num_heads'][3],
                        attn_weight=cfg['atten_weight'],
                        conv_weight=cfg['conv_weight'])
        else:
            i = int(name[-1]) - 1
            conn.update(in_channels=s[i], out_channels=t[i])
            if 'input_channels' in conn:  # an Embedding Assistant
                conn.update(input_channels=([3] + s)[i])
    return ConfigurableDistiller(**dist)


def _official_to_ours(variant, official):
    """Our connectors' state dict from the official SKF's (its BN-free
    batch-of-one branch ``fc1`` has no counterpart)."""
    ours = {}
    for key, value in official.items():
        m = re.match(r'skfs\.(\d)\.(\w+)\.(.*)', key)
        if m:
            stage = 3 - int(m[1])  # skfs are deepest first
            part, rest = m[2], m[3]
            if part == 'fc1':
                continue
            name = {
                'conv1': f'lateral.{stage}.{rest}',
                'conv2': f'output.{stage}.{rest}',
                'fc': f'fuse.{stage}.' + re.sub(r'^0\.', 'squeeze.',
                                                re.sub(r'^1\.', 'norm.',
                                                       rest)),
                'fcs': f'fuse.{stage}.select.{rest}',
            }[part]
            ours[f'csf.{name}'] = value
            continue
        # the PEA projections (an Embedding Assistant's ``proj`` too)
        m = re.match(r'embed(\d)_linearproject\.(.*)', key)
        if m:
            ours[f'pea{m[1]}.proj.{m[2]}'] = value
            continue
        m = re.match(r'patch_embed(\d)\.(proj|norm)\.(.*)', key)
        if m:
            part = 'embed' if m[2] == 'proj' else 'norm'
            ours[f'pea{m[1]}.{part}.{m[3]}'] = value
            continue
        m = re.match(r'fuse_weights\.(\d)', key)
        if m:
            i = int(m[1])
            ours[f'pea{i % 4 + 1}.' + ('w_proj' if i < 4 else 'w_embed')] = \
                value
            continue
        glmixer = {'atten_weight': 'attn_weight', 'conv_weight':
                   'conv_weight', 'conv1': 'conv_a', 'conv2': 'conv_b',
                   'attn4': 'attn'}
        head, _, rest = key.partition('.')
        ours['glmixer.' + '.'.join(
            p for p in (glmixer[head], rest) if p)] = value
    return ours


@pytest.mark.parametrize('variant', sorted(VARIANTS))
def test_matches_the_official_code(golden, variant):
    cfg, inputs, ref = golden['config'], golden['inputs'], golden[variant]
    distiller = _distiller(variant, cfg)
    mapping = _official_to_ours(variant, ref['state_dict'])
    missing, unexpected = distiller.connectors.load_state_dict(
        {k: v.clone() for k, v in mapping.items()}, strict=True)
    assert not missing and not unexpected
    student = _segmentor(inputs['student_feats'], inputs['student_embeds'])
    teacher = _segmentor(inputs['teacher_feats'], inputs['teacher_embeds'])
    distiller.prepare({'': student, 'teacher': teacher})
    distiller.train()
    with distiller.recording():
        student.backbone(inputs['image'])
        teacher.backbone(inputs['image'])
        losses = distiller.compute_losses(torch.zeros(2))
        fused = distiller.connectors['csf'](inputs['student_feats'])
    for ours, theirs in zip(fused, ref['results']):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_hcl'], ref['loss_hcl'],
                               rtol=1e-5, atol=1e-6)
    pea = sum(losses[f'loss_pea{i}'] for i in range(1, 5))
    torch.testing.assert_close(pea, ref['loss_pea'], rtol=1e-5, atol=1e-6)
    # the forward above ran the BatchNorms twice: compare the statistics of
    # the losses' forward alone
    distiller.connectors.load_state_dict(mapping, strict=True)
    with distiller.recording():
        student.backbone(inputs['image'])
        teacher.backbone(inputs['image'])
        losses = distiller.compute_losses(torch.zeros(2))
    sum(losses.values()).backward()
    ours = dict(distiller.connectors.named_parameters())
    ours.update(distiller.connectors.named_buffers())
    for key, grad in ref['grads'].items():
        if '.fc1.' in key:
            continue
        name = next(iter(_official_to_ours(variant, {key: grad})))
        torch.testing.assert_close(ours[name].grad, grad, rtol=1e-4,
                                   atol=1e-6, msg=key)
    for key, value in ref['bn_after'].items():
        name = next(iter(_official_to_ours(variant, {key: value})))
        torch.testing.assert_close(ours[name], value, msg=key)
    # no parameter left without a gradient (the official fc1 has none)
    assert all(p.grad is not None for p in distiller.parameters())


def test_glmixer_add(golden):
    """``add=True`` adds the input tokens before the projection."""
    cfg, inputs, ref = golden['config'], golden['inputs'], golden['glmixer']
    mapping = _official_to_ours('glmixer', ref['state_dict'])
    mixer = GLMixerConnector(32, 4, add=True)
    mixer.load_state_dict({
        k[len('glmixer.'):]: v
        for k, v in mapping.items() if k.startswith('glmixer.')
    })
    proj = nn.Linear(32, 36)
    proj.load_state_dict({
        k[len('pea4.proj.'):]: v
        for k, v in mapping.items() if k.startswith('pea4.proj.')
    })
    out = proj(mixer(inputs['student_embeds'][3]))
    torch.testing.assert_close(out, ref['embedproj3_add_true'], rtol=1e-5,
                               atol=1e-6)
    assert cfg['glmixer_add'] is False


@pytest.mark.parametrize('temperature', [1.0, 4.0])
def test_cwd_matches_the_official_criterion(golden, temperature):
    """Channel-wise KL (the official CriterionCWD, channel norm, 'kl') x T^2,
    averaged over images and channels."""
    cwd = golden['cwd']
    ours = ChannelWiseDivergenceLoss(tau=temperature)(cwd['s'], cwd['t'])
    torch.testing.assert_close(ours, cwd['loss'][temperature], rtol=1e-5,
                               atol=1e-6)


# ---------------------------------------------------------------- behaviour
def test_csf_fuses_top_down():
    """Each output depends on its own stage and every deeper one, not on
    shallower ones; the deepest is its stage alone."""
    torch.manual_seed(0)
    csf = CSFConnector([4, 6, 8], [5, 7, 9], mid_channels=8).eval()
    feats = [torch.randn(2, c, s, s, requires_grad=True)
             for c, s in ((4, 8), (6, 4), (8, 2))]
    outs = csf(feats)
    assert [tuple(o.shape) for o in outs] == [(2, 5, 8, 8), (2, 7, 4, 4),
                                              (2, 9, 2, 2)]
    for i, out in enumerate(outs):
        grads = torch.autograd.grad(out.sum(), feats, allow_unused=True,
                                    retain_graph=True)
        reached = [g is not None and bool(g.abs().sum() > 0) for g in grads]
        assert reached == [j >= i for j in range(3)], (i, reached)
    # the deepest: BN(conv3x3(BN(conv1x1(f))))
    expected = csf.output[2](csf.lateral[2](feats[2]))
    torch.testing.assert_close(outs[2], expected)


def test_csf_any_input_size():
    """Odd sizes (an image that is not a multiple of 32): the deeper fused
    map is resized to the shallower one (nearest)."""
    csf = CSFConnector([4, 6], [4, 6], mid_channels=8)
    outs = csf([torch.randn(2, 4, 7, 5), torch.randn(2, 6, 4, 3)])
    assert [tuple(o.shape[-2:]) for o in outs] == [(7, 5), (4, 3)]


def test_csf_errors():
    with pytest.raises(ValueError, match='must be as long'):
        CSFConnector([4, 6], [4])
    with pytest.raises(ValueError, match='in_channels must be a non-empty'):
        CSFConnector([], [])
    with pytest.raises(ValueError, match='mid_channels must be a positive'):
        CSFConnector([4], [4], mid_channels=0)
    csf = CSFConnector([4, 6], [4, 6], mid_channels=8)
    with pytest.raises(ValueError, match='takes the 2 stage maps'):
        csf([torch.randn(2, 4, 4, 4)])
    with pytest.raises(ValueError, match=r'stage 2: expected a map \(N, 6'):
        csf([torch.randn(2, 4, 4, 4), torch.randn(2, 5, 2, 2)])
    # a batch of one trains only with a norm that does not need a batch
    with pytest.raises(ValueError, match='at least 2 images per process'):
        csf([torch.randn(1, 4, 4, 4), torch.randn(1, 6, 2, 2)])
    csf.eval()
    csf([torch.randn(1, 4, 4, 4), torch.randn(1, 6, 2, 2)])
    gn = CSFConnector([4, 6], [4, 6], mid_channels=8,
                      norm_cfg=dict(type='GN', num_groups=2))
    gn([torch.randn(1, 4, 4, 4), torch.randn(1, 6, 2, 2)])


def test_csf_attn_channels_and_init():
    csf = CSFConnector([4, 6], [4, 6], mid_channels=64)
    assert csf.fuse[0].squeeze.out_channels == 32  # max(64 // 16, 32)
    csf = CSFConnector([4, 6], [4, 6], mid_channels=1024)
    assert csf.fuse[0].squeeze.out_channels == 64
    csf = CSFConnector([4, 6], [4, 6], mid_channels=64, attn_channels=8)
    assert csf.fuse[0].squeeze.out_channels == 8
    # kaiming_uniform_(a=1): bound sqrt(3 / fan_in)
    torch.manual_seed(0)
    weight = CSFConnector([400], [4], mid_channels=64).lateral[0][0].weight
    assert weight.abs().max() <= (3 / 400)**0.5
    assert weight.abs().max() > 0.9 * (3 / 400)**0.5


def test_glmixer_weights_and_branches():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 8)
    mixer = GLMixerConnector(8, 2, attn_weight=0.0, conv_weight=0.0)
    torch.testing.assert_close(mixer(x), torch.zeros_like(x))
    assert torch.equal(
        GLMixerConnector(8, 2, attn_weight=0., conv_weight=0.,
                         add=True)(x), x)
    mixer = GLMixerConnector(8, 2, attn_weight=1.0, conv_weight=0.0)
    torch.testing.assert_close(mixer(x), mixer.attn(x))
    # the local branch mixes neighbouring tokens only (3 taps)
    mixer = GLMixerConnector(8, 2, attn_weight=0.0, conv_weight=1.0)
    x.requires_grad_(True)
    grad, = torch.autograd.grad(mixer(x)[:, 3].sum(), x)
    assert [bool(grad[:, j].abs().sum() > 0) for j in range(6)] == [
        False, False, True, True, True, False]
    assert [p for p, _ in mixer.named_parameters()][:2] == [
        'attn_weight', 'conv_weight']
    assert mixer.attn.qkv.bias is None  # official: no qkv bias
    for bad, match in ((dict(num_heads=3), 'does not divide'),
                       (dict(attn_weight=float('nan')), 'finite number'),
                       (dict(add=1), 'add must be True or False')):
        with pytest.raises((ValueError, TypeError), match=match):
            GLMixerConnector(**{'channels': 8, 'num_heads': 2, **bad})
    with pytest.raises(ValueError, match=r'takes tokens \(N, L, 8\)'):
        GLMixerConnector(8, 2)(torch.randn(2, 6, 4))


def test_embedding_assistant():
    torch.manual_seed(0)
    ea = EmbeddingAssistantConnector(4, 6, input_channels=3, patch_size=7,
                                     stride=4, weights=(0.1, 0.5))
    assert (ea.w_proj.item(), ea.w_embed.item()) == pytest.approx((0.1, 0.5))
    assert torch.equal(ea.embed.bias, torch.zeros(6))
    assert ea.embed.weight.std().item() == pytest.approx(
        (2 / (7 * 7 * 6))**0.5, rel=0.2)
    image, tokens = torch.randn(2, 3, 16, 16), torch.randn(2, 16, 4)
    out = ea([tokens, image])
    expected = 0.1 * ea.proj(tokens) + 0.5 * ea.norm(
        ea.embed(image).flatten(2).transpose(1, 2))
    torch.testing.assert_close(out, expected)
    # a module's positional inputs (a tuple) are taken as their first
    torch.testing.assert_close(ea([tokens, (image, )]), out)
    with pytest.raises(ValueError, match=r'takes \[tokens, input\]'):
        ea(tokens)
    with pytest.raises(ValueError, match='gives 16 tokens and the student'):
        ea([torch.randn(2, 9, 4), image])
    with pytest.raises(ValueError, match=r'must be a map \(N, 3, H, W\)'):
        ea([tokens, torch.randn(2, 4, 16, 16)])
    with pytest.raises(ValueError, match='two initial blend weights'):
        EmbeddingAssistantConnector(4, 6, 3, 7, 4, weights=0.1)


# ------------------------------------------------------------------ configs
def test_bundled_teacher_is_what_its_config_trains():
    """The teacher file of the bundled configs builds the model its training
    config trains (its checkpoint fills the teacher: same keys and
    shapes)."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    teacher = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_teachers',
                 'segformer-mit-4l64d-p4_shapes-ade.py')).teacher
    trained = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'bundled', 'transkd',
                 'segformer-mit-4l64d-p4_1xb8_shapes-ade.py')).model
    with DefaultScope.overwrite_default_scope('mmseg'):
        shapes = [{k: v.shape for k, v in MODELS.build(m).state_dict().items()}
                  for m in (teacher, trained)]
    assert shapes[0] == shapes[1]
