# Copyright (c) mmvitplug contributors.
"""mmvitplug.ConcatOutputs: DINO's linear-evaluation features."""
import pytest
import torch

from mmvitplug.models.necks import ConcatOutputs


def test_concatenates_in_order():
    neck = ConcatOutputs(num_inputs=3)
    parts = [torch.randn(2, c) for c in (4, 5, 6)]
    out, = neck(tuple(parts))
    assert out.shape == (2, 15)
    torch.testing.assert_close(out[:, :4], parts[0])
    torch.testing.assert_close(out[:, 9:], parts[2])
    assert list(neck.parameters()) == []


def test_linear_probe_features_of_the_last_blocks():
    """Backbone (4 blocks, norm_all_outputs) + neck = the normalised class
    tokens of every block side by side."""
    from mmvitplug.models.backbones import DeiT
    arch = dict(embed_dims=16, num_layers=4, num_heads=2,
                feedforward_channels=32)
    torch.manual_seed(0)
    backbone = DeiT(arch=arch, img_size=16, patch_size=8,
                    out_indices=(0, 1, 2, 3), norm_all_outputs=True).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        feats, = ConcatOutputs(4)(backbone(x))
        raw = DeiT(arch=arch, img_size=16, patch_size=8, out_type='raw',
                   out_indices=(0, 1, 2, 3), final_norm=False).eval()
        raw.load_state_dict(backbone.state_dict(), strict=False)
        tokens = raw(x)
    expected = torch.cat([backbone.norm(t)[:, 0] for t in tokens], dim=1)
    torch.testing.assert_close(feats, expected)


@pytest.mark.parametrize('num_inputs', [0, -1, 2.0, None])
def test_bad_num_inputs(num_inputs):
    with pytest.raises(ValueError, match='num_inputs must be a positive'):
        ConcatOutputs(num_inputs)


def test_mismatched_inputs_are_refused():
    neck = ConcatOutputs(num_inputs=2)
    with pytest.raises(ValueError, match=r'expects 2 backbone outputs.*got 3'):
        neck(tuple(torch.randn(2, 4) for _ in range(3)))
    with pytest.raises(ValueError, match='got Tensor'):
        neck(torch.randn(2, 4))
    with pytest.raises(ValueError,
                       match=r"output 1 is .*out_type='cls_token'"):
        neck((torch.randn(2, 4), torch.randn(2, 4, 2, 2)))
