# Copyright (c) mmvitplug contributors.
"""DropoutLinearClsHead: LinearClsHead + dropout on its input."""
import pytest
import torch
from mmpretrain.models.heads import LinearClsHead

from mmvitplug.registry import MODELS


def heads(rate):
    torch.manual_seed(0)
    ours = MODELS.build(
        dict(type='DropoutLinearClsHead', num_classes=5, in_channels=8,
             dropout_rate=rate))
    plain = LinearClsHead(num_classes=5, in_channels=8)
    plain.load_state_dict(ours.state_dict())  # same keys: fc.*
    return ours, plain


def test_eval_equals_linear_head():
    ours, plain = heads(0.5)
    feats = (torch.randn(4, 8), )
    ours.eval(), plain.eval()
    assert torch.equal(ours(feats), plain(feats))


def test_training_drops_features():
    ours, plain = heads(0.5)
    feats = (torch.randn(64, 8), )
    torch.manual_seed(1)
    dropped = ours.train().pre_logits(feats)
    zeros = (dropped == 0).float().mean()
    assert 0.3 < zeros < 0.7  # about half the features
    kept = dropped != 0
    assert torch.allclose(dropped[kept], 2 * feats[0][kept])  # 1 / (1 - p)
    assert torch.equal(heads(0.)[0].train()(feats), plain(feats))


def test_bad_rate():
    with pytest.raises(ValueError, match=r'dropout_rate must be in \[0, 1\)'
                       r', got 1.0'):
        MODELS.build(dict(type='DropoutLinearClsHead', num_classes=5,
                          in_channels=8, dropout_rate=1.0))
