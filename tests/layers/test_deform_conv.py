# Copyright (c) mmvitplug contributors.
"""DeformConv2dPack (torchvision's DCNv1) against mmcv's, and LIT's
deformable token merging."""
import pytest
import torch
import torch.nn.functional as F

from mmvitplug.layers import DeformableTokenMerging, DeformConv2dPack


def _random_offsets(layer, std=1.5):
    torch.manual_seed(1)
    with torch.no_grad():
        layer.conv_offset.weight.normal_(0, std)
        layer.conv_offset.bias.normal_(0, std)


@pytest.mark.parametrize('kernel,stride,padding,groups', [
    (2, 2, 0, 1),  # DTM
    (3, 1, 1, 2),
])
def test_equals_mmcv_deform_conv(kernel, stride, padding, groups):
    """The same weights in mmcv's DeformConv2dPack (its CPU kernel; it has
    no bias, added here) give the same output and input gradient: same
    offset layout, same bilinear sampling (also outside the image)."""
    from mmcv.ops import DeformConv2dPack as MMCVDeformConv2dPack
    torch.manual_seed(0)
    ours = DeformConv2dPack(8, 6, kernel, stride, padding,
                            deform_groups=groups)
    _random_offsets(ours)
    theirs = MMCVDeformConv2dPack(8, 6, kernel, stride=stride,
                                  padding=padding, deform_groups=groups)
    state = ours.state_dict()
    bias = state.pop('bias')
    theirs.load_state_dict(state)
    x = torch.randn(2, 8, 7, 6, requires_grad=True)
    y = ours(x)
    grad, = torch.autograd.grad(y.square().sum(), x)
    x2 = x.detach().clone().requires_grad_()
    y2 = theirs(x2) + bias[:, None, None]
    grad2, = torch.autograd.grad(y2.square().sum(), x2)
    assert y.shape == y2.shape
    torch.testing.assert_close(y, y2, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad, grad2, atol=1e-4, rtol=1e-4)


def test_starts_as_the_plain_convolution_and_learns_offsets():
    torch.manual_seed(0)
    layer = DeformConv2dPack(4, 8, 2, stride=2)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(
        layer(x), F.conv2d(x, layer.weight, layer.bias, stride=2))
    layer(x).square().sum().backward()
    # zero offsets, yet the offset branch gets a gradient
    assert layer.conv_offset.weight.grad.abs().sum() > 0
    assert set(layer.state_dict()) == {
        'weight', 'bias', 'conv_offset.weight', 'conv_offset.bias'}


def test_no_bias():
    layer = DeformConv2dPack(4, 8, 3, padding=1, bias=False)
    assert layer.bias is None and 'bias' not in layer.state_dict()
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.weight, None,
                                                  padding=1))


def test_bad_deform_groups():
    with pytest.raises(ValueError, match='in_channels 6 must be a multiple '
                       'of deform_groups 4'):
        DeformConv2dPack(6, 8, 3, deform_groups=4)


def test_token_merging():
    torch.manual_seed(0)
    dtm = DeformableTokenMerging(8, 16).eval()
    # the official names (LIT / LITv2 checkpoints: downsample.*)
    assert set(dtm.state_dict()) == {
        'dconv.weight', 'dconv.bias', 'dconv.conv_offset.weight',
        'dconv.conv_offset.bias', 'norm_layer.weight', 'norm_layer.bias',
        'norm_layer.running_mean', 'norm_layer.running_var',
        'norm_layer.num_batches_tracked'}
    x = torch.randn(2, 4 * 6, 8)
    out, hw = dtm(x, (4, 6))
    assert hw == (2, 3) and out.shape == (2, 6, 16)
    # zero offsets: a 2x2 patch merge, then BN and GELU
    grid = x.transpose(1, 2).reshape(2, 8, 4, 6)
    merged = F.conv2d(grid, dtm.dconv.weight, dtm.dconv.bias, stride=2)
    expected = F.gelu(dtm.norm_layer(merged)).flatten(2).transpose(1, 2)
    torch.testing.assert_close(out, expected)
    # an odd side drops its last row (official detection backbone)
    x = torch.randn(2, 5 * 6, 8)
    out, hw = dtm(x, (5, 6))
    assert hw == (2, 3)
    grid = x.transpose(1, 2).reshape(2, 8, 5, 6)
    torch.testing.assert_close(out, dtm(
        grid[:, :, :4].flatten(2).transpose(1, 2), (4, 6))[0])
    with pytest.raises(ValueError, match=r'grid of at least 2x2, got shape '
                       r'\(2, 30, 8\) for the grid 6x6'):
        dtm(x, (6, 6))
