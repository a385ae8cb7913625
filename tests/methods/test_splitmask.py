# Copyright (c) mmvitplug contributors.
"""SplitMask: the split, the subset encoding, the decoder, the pixel / HOG
targets and the loss, against hand-computed values."""
import math

import pytest
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from mmpretrain.models.selfsup.maskfeat import HOGGenerator
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from mmvitplug.models.backbones import CCT, DeiT, PatchConvNet, PiT, ResMLP
from mmvitplug.models.heads import (SplitMaskHead, SplitMaskHOGTarget,
                                    SplitMaskPixelTarget)
from mmvitplug.models.losses import SplitMaskLoss
from mmvitplug.models.selfsup import SplitMask
from mmvitplug.models.selfsup.splitmask import encode_subset, split_patches
from _builders import build_tiny

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


def tiny_deit(**kwargs):
    cfg = dict(arch=ARCH, img_size=32, patch_size=8)
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = DeiT(**cfg)
    model.init_weights()
    return model


def splitmask(backbone=None, target=None, **kwargs):
    torch.manual_seed(0)
    model = SplitMask(
        backbone=backbone if backbone is not None else tiny_deit(),
        head=dict(type='mmvitplug.SplitMaskHead', embed_dims=16,
                  num_heads=2),
        target_generator=target or dict(
            type='mmvitplug.SplitMaskPixelTarget', patch_size=8),
        **kwargs)
    model.init_weights()
    return model


# --------------------------------------------------------------- the split


def test_split_is_a_per_image_partition():
    torch.manual_seed(0)
    index_a, index_b, in_a = split_patches(6, 10, 0.5)
    assert index_a.shape == (6, 5) and index_b.shape == (6, 5)
    for a, b, mask in zip(index_a, index_b, in_a):
        assert set(a.tolist()).isdisjoint(b.tolist())
        assert sorted(a.tolist() + b.tolist()) == list(range(10))
        assert a.tolist() == sorted(a.tolist())
        assert mask.nonzero().flatten().tolist() == a.tolist()
    # each image draws its own split
    assert len({tuple(a.tolist()) for a in index_a}) > 1


def test_split_ratio_sets_the_subset_sizes():
    index_a, index_b, in_a = split_patches(2, 10, 0.3)
    assert index_a.shape == (2, 3) and index_b.shape == (2, 7)
    assert in_a.sum().item() == 6
    with pytest.raises(ValueError, match='at least one patch'):
        split_patches(2, 10, 0.01)
    with pytest.raises(ValueError, match='split_ratio'):
        splitmask(split_ratio=1.)


# --------------------------------------------------------- subset encoding


def test_encoding_every_patch_is_the_backbone_forward():
    backbone = tiny_deit(out_type='raw').eval()
    x = torch.randn(2, 3, 32, 32)
    tokens, grid = backbone.embed(x)
    index = torch.arange(16).expand(2, -1)
    out = encode_subset(backbone, tokens, grid, index)
    ref = backbone(x)[0][:, 1:]  # without the class token
    torch.testing.assert_close(out, ref)
    assert backbone.out_type == 'raw'


def test_a_subset_keeps_its_positions():
    backbone = tiny_deit(out_type='cls_token').eval()
    x = torch.randn(2, 3, 32, 32)
    tokens, grid = backbone.embed(x)
    index = torch.tensor([[0, 5, 9], [3, 4, 15]])
    out = encode_subset(backbone, tokens, grid, index)
    # by hand: patch embedding + position embedding of the kept patches
    patches = backbone.patch_embed(x)[0]
    pos = backbone.pos_embed[:, 1:].expand(2, -1, -1)
    cls = backbone.cls_token + backbone.pos_embed[:, :1]
    rows = torch.arange(2)[:, None]
    ref = torch.cat([cls.expand(2, -1, -1),
                     (patches + pos)[rows, index]], dim=1)
    for block in backbone.blocks:
        ref = block(ref)
    ref = backbone.norm(ref)[:, 1:]
    torch.testing.assert_close(out, ref)
    assert backbone.out_type == 'cls_token'  # restored


# ------------------------------------------------- backbones it refuses


def test_pyramid_backbone_is_refused():
    with pytest.raises(TypeError, match='PiT overrides forward_stage'):
        splitmask(backbone=build_tiny(PiT))


def test_non_plugin_backbone_is_refused():
    vit = MODELS.build(
        dict(type='VisionTransformer', arch='b', img_size=32, patch_size=8))
    with pytest.raises(TypeError, match='not an mmvitplug backbone'):
        splitmask(backbone=vit)


def test_fixed_token_mixing_backbone_is_refused():
    model = splitmask(backbone=build_tiny(ResMLP))
    with pytest.raises(TypeError, match='ResMLP cannot encode a subset'):
        model.loss(torch.randn(2, 3, 32, 32))


def test_convolutional_trunk_is_refused():
    model = splitmask(
        backbone=build_tiny(PatchConvNet),
        target=dict(type='mmvitplug.SplitMaskPixelTarget', patch_size=4))
    with pytest.raises(TypeError, match=r'PatchConvNet.embed must give'):
        model.loss(torch.randn(2, 3, 16, 16))


class RollTokens(nn.Module):
    """A layer that mixes tokens by their order."""

    def forward(self, x):
        return x + x.roll(1, dims=1)


def test_order_mixing_layer_is_refused():
    backbone = tiny_deit()
    backbone._stage_layers[0] = [RollTokens()]
    model = splitmask(backbone=backbone)
    with pytest.raises(TypeError, match='mixes tokens by their order'):
        model.loss(torch.randn(2, 3, 32, 32))


# ----------------------------------------------------------------- targets


def test_pixel_target_patches_and_normalisation():
    image = torch.arange(16.).view(1, 1, 4, 4)
    raw = SplitMaskPixelTarget(patch_size=2, in_channels=1,
                               norm_pix=False)(image, (2, 2))
    assert raw.shape == (1, 4, 4)
    # patch (row 0, col 1): pixels (0, 2), (0, 3), (1, 2), (1, 3)
    assert raw[0, 1].tolist() == [2., 3., 6., 7.]
    assert raw[0, 2].tolist() == [8., 9., 12., 13.]
    norm = SplitMaskPixelTarget(patch_size=2, in_channels=1)(image, (2, 2))
    # mean 4.5, biased variance (2.5^2 + 1.5^2 + 1.5^2 + 2.5^2) / 4 = 4.25
    expected = (torch.tensor([2., 3., 6., 7.]) - 4.5) / math.sqrt(4.25 + 1e-6)
    torch.testing.assert_close(norm[0, 1], expected)
    # (row, column, channel) order, as MAE's patchify
    rgb = torch.arange(2 * 2 * 3.).view(3, 2, 2).unsqueeze(0)
    out = SplitMaskPixelTarget(patch_size=2, norm_pix=False)(rgb, (1, 1))
    assert out[0, 0].tolist() == [0., 4., 8., 1., 5., 9., 2., 6., 10.,
                                  3., 7., 11.]
    assert SplitMaskPixelTarget(patch_size=16).out_channels == 768


def test_target_checks_the_patch_grid():
    with pytest.raises(ValueError, match='patch_size'):
        SplitMaskPixelTarget(patch_size=4)(torch.zeros(1, 3, 32, 32), (4, 4))


def test_hog_target_of_a_vertical_edge():
    # left half 0, right half 1: Sobel gx = -4 on columns 3 and 4, gy = 0,
    # orientation atan2(-4, 0) / pi * 9 = -4.5 -> bin floor(-4.5) % 9 = 4;
    # every patch's 4x4 cell holds one column of the edge: after the L2
    # norm, bin 4 = 1 and the other bins 0, in each of the 3 channels.
    image = torch.zeros(1, 3, 8, 8)
    image[..., 4:] = 1.
    target = SplitMaskHOGTarget(patch_size=4, pool=4, gaussian_window=0)
    out = target(image, (2, 2))
    assert out.shape == (1, 4, 27) and target.out_channels == 27
    expected = torch.zeros(27)
    expected[[4, 13, 22]] = 1.
    for patch in range(4):
        torch.testing.assert_close(out[0, patch], expected)
    flat = target(torch.ones(1, 3, 8, 8), (2, 2))
    assert flat.abs().max() == 0


def test_hog_target_is_maskfeat_on_its_grid():
    torch.manual_seed(0)
    image = torch.randn(1, 3, 224, 224)
    ours = SplitMaskHOGTarget(patch_size=16)(image, (14, 14))
    ref = HOGGenerator(nbins=9, pool=8, gaussian_window=16)(image)
    assert ours.shape == (1, 196, 108)
    torch.testing.assert_close(ours, ref)


def test_hog_target_arguments_are_checked():
    with pytest.raises(ValueError, match='divisor of patch_size'):
        SplitMaskHOGTarget(patch_size=4, pool=3)
    with pytest.raises(ValueError, match='gaussian_window'):
        SplitMaskHOGTarget(patch_size=4, pool=4, gaussian_window=16)(
            torch.zeros(1, 3, 8, 8), (2, 2))
    assert SplitMaskHOGTarget(patch_size=8, nbins=4, pool=4).out_channels \
        == 3 * 4 * 4


# ----------------------------------------------------------------- decoder


def test_decoder_places_tokens_and_mask_tokens():
    torch.manual_seed(0)
    head = SplitMaskHead(in_channels=8, out_channels=5, embed_dims=16,
                         num_layers=2, num_heads=2)
    head.init_weights()
    seen = {}
    head.blocks[0].register_forward_pre_hook(
        lambda m, args: seen.setdefault('x', args[0]))
    tokens = torch.randn(2, 3, 8)
    index = torch.tensor([[0, 2, 5], [1, 3, 4]])
    pred, feats = head(tokens, index, (2, 3))
    assert pred.shape == (2, 6, 5) and feats.shape == (2, 6, 16)
    assert len(head.blocks) == 2
    pos = build_2d_sincos_position_embedding((2, 3), 16)[0]
    expected = head.mask_token[0].expand(2, 6, 16) + pos
    expected = expected.clone()
    embedded = head.embed(tokens)
    for b in range(2):
        expected[b, index[b]] = embedded[b] + pos[index[b]]
    torch.testing.assert_close(seen['x'], expected)
    with pytest.raises(ValueError, match='multiple of 4'):
        SplitMaskHead(8, 5, embed_dims=18)


# -------------------------------------------------------------------- loss


def test_reconstruction_scores_only_the_other_subset():
    in_a = torch.tensor([[True, False, True, False]])
    target = torch.zeros(1, 4, 2)
    # branch A predicts B's patches 1 and 3: errors 1 and 2 (mean 1.5);
    # its predictions of A's own patches (100) are not scored
    pred_a = torch.tensor([[[100., 100.], [1., 1.], [100., 100.], [2., 0.]]])
    # branch B predicts A's patches 0 and 2: errors 9 and 0 (mean 4.5)
    pred_b = torch.tensor([[[3., 3.], [100., 100.], [0., 0.], [100., 100.]]])
    desc = torch.eye(2)[:1]
    losses = SplitMaskLoss()(pred_a, pred_b, target, in_a, desc, desc)
    assert losses['loss_rec'].item() == pytest.approx((1.5 + 4.5) / 2)


def test_reconstruction_of_token_targets_is_cross_entropy():
    in_a = torch.tensor([[True, False]])
    target = torch.tensor([[0, 1]])
    pred_a = torch.tensor([[[9., 9.], [0., 1.]]])  # scores patch 1: label 1
    pred_b = torch.tensor([[[1., 0.], [9., 9.]]])  # scores patch 0: label 0
    desc = torch.ones(1, 2)
    losses = SplitMaskLoss()(pred_a, pred_b, target, in_a, desc, desc)
    assert losses['loss_rec'].item() == pytest.approx(
        math.log(1 + math.exp(-1)))


def nce(x_a, x_b, **kwargs):
    loss = SplitMaskLoss(**kwargs)
    return loss.info_nce(torch.tensor(x_a), torch.tensor(x_b)).item()


def test_info_nce_hand_computed():
    eye = [[1., 0.], [0., 1.]]
    # logits [[2, 0], [0, 2]]: each row -log(e^2 / (e^2 + 1))
    assert nce(eye, eye, temperature=0.5) == pytest.approx(
        math.log(1 + math.exp(-2)))
    # swapped partners: -log(1 / (e^2 + 1))
    assert nce(eye, [[0., 1.], [1., 0.]], temperature=0.5) == pytest.approx(
        math.log(1 + math.exp(2)))
    # asymmetric similarities [[1, 1], [0, 0]]: rows log 2, log 2; columns
    # log(1 + e^-1), log(1 + e)
    rows = math.log(2)
    cols = (math.log(1 + math.exp(-1)) + math.log(1 + math.e)) / 2
    x_b = [[1., 0.], [1., 0.]]
    assert nce(eye, x_b, temperature=1.) == pytest.approx((rows + cols) / 2)
    assert nce(eye, x_b, temperature=1., symmetric=False) == pytest.approx(
        rows)
    # without the L2 normalisation the norms count: logits [[2, 0], [0, 1]]
    big = [[2., 0.], [0., 1.]]
    assert nce(big, eye, temperature=1., normalize=False,
               symmetric=False) == pytest.approx(
                   (math.log(1 + math.exp(-2)) +
                    math.log(1 + math.exp(-1))) / 2)
    assert nce(big, eye, temperature=1., symmetric=False) == pytest.approx(
        math.log(1 + math.exp(-1)))


def test_nce_weight_and_arguments():
    in_a = torch.tensor([[True, False]])
    pred, target = torch.zeros(1, 2, 1), torch.zeros(1, 2, 1)
    x_a, x_b = torch.eye(2), torch.eye(2)
    full = SplitMaskLoss(temperature=0.5)(pred.expand(2, -1, -1),
                                          pred.expand(2, -1, -1),
                                          target.expand(2, -1, -1),
                                          in_a.expand(2, -1), x_a, x_b)
    half = SplitMaskLoss(temperature=0.5, nce_weight=0.5)(
        pred.expand(2, -1, -1), pred.expand(2, -1, -1),
        target.expand(2, -1, -1), in_a.expand(2, -1), x_a, x_b)
    assert half['loss_nce'].item() == pytest.approx(
        full['loss_nce'].item() / 2)
    with pytest.raises(ValueError, match='temperature'):
        SplitMaskLoss(temperature=0)
    with pytest.raises(ValueError, match='nce_weight'):
        SplitMaskLoss(nce_weight=-1)


# --------------------------------------------------------------- algorithm


def test_loss_trains_the_backbone_and_the_decoder():
    model = splitmask()
    torch.manual_seed(1)
    losses = model.loss([torch.randn(4, 3, 32, 32)])
    assert set(losses) == {'loss_rec', 'loss_nce', 'nce_acc', 'desc_std'}
    assert not losses['nce_acc'].requires_grad
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name in ('backbone.blocks.0.attn.qkv.weight',
                 'backbone.patch_embed.proj.weight', 'backbone.pos_embed',
                 'head.mask_token', 'head.pred.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert model.pretrained_backbone == 'backbone'
    assert model.head.out_channels == 8 * 8 * 3
    assert model.head.in_channels == 32


def test_split_ratio_reaches_the_decoder():
    model = splitmask(split_ratio=0.25)
    sizes = []
    model.head.register_forward_pre_hook(
        lambda m, args: sizes.append(args[1].shape[1]))
    model.loss(torch.randn(2, 3, 32, 32))
    assert sizes == [4, 12]  # 25% / 75% of the 16 patches


def test_the_loss_config_is_used():
    model = splitmask(
        loss=dict(type='mmvitplug.SplitMaskLoss', nce_weight=0.))
    losses = model.loss(torch.randn(2, 3, 32, 32))
    assert losses['loss_nce'].item() == 0


class TokenTarget(nn.Module):
    """A stand-in tokenizer: 5 visual words, one per patch."""
    kind = 'classification'
    out_channels = 5

    def forward(self, images, grid):
        return torch.arange(math.prod(grid)).remainder(5).expand(
            len(images), -1)


def test_a_tokenizer_target_plugs_in():
    model = splitmask(target=TokenTarget())
    assert model.head.out_channels == 5
    losses = model.loss(torch.randn(2, 3, 32, 32))
    assert 0 < losses['loss_rec'].item() < 10


def test_target_and_head_must_agree():
    with pytest.raises(ValueError, match='out_channels'):
        SplitMask(
            backbone=tiny_deit(),
            head=dict(type='mmvitplug.SplitMaskHead', out_channels=7),
            target_generator=dict(
                type='mmvitplug.SplitMaskPixelTarget', patch_size=8))

    class NoKind(nn.Module):
        out_channels = 3

    with pytest.raises(TypeError, match='kind'):
        SplitMask(
            backbone=tiny_deit(),
            head=dict(type='mmvitplug.SplitMaskHead'),
            target_generator=NoKind())


@pytest.mark.parametrize('cls', [CCT], ids=['CCT'])
def test_other_flat_families_train(cls):
    model = splitmask(
        backbone=build_tiny(cls),
        target=dict(type='mmvitplug.SplitMaskHOGTarget', patch_size=4,
                    pool=2, gaussian_window=0))
    losses = model.loss(torch.randn(2, 3, 16, 16))
    assert torch.isfinite(losses['loss_rec']) and losses['loss_rec'] > 0


def test_cait_trains():
    from mmvitplug.models.backbones import CaiT
    model = splitmask(backbone=build_tiny(CaiT))
    losses = model.loss(torch.randn(2, 3, 32, 32))
    assert torch.isfinite(losses['loss_nce'])
