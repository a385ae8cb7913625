# Copyright (c) mmvitplug contributors.
"""The declarative backbone base on a staged pyramid and on broken
declarations.

The families of ``test_contract.py`` are flat trunks (one
block a stage). Here a toy Swin / PVT-like pyramid, declared the way a
future family will be (stages of several layers, a downsampling layer
opening each later stage), checks that staged backbones fit the same base
without special cases, and deliberately broken declarations check that
the base refuses them.
"""
import pytest
import torch
import torch.nn as nn

from mmvitplug.models.backbones import Parts
from mmvitplug.models.backbones.base import (drop_path_rates, format_featmap,
                                             format_tokens)
from _contract import ToyPyramid


def test_pyramid_outputs_per_stage():
    model = ToyPyramid().eval()
    img = torch.randn(2, 3, 32, 48)
    o0, o1, o2 = model(img)
    assert [o.shape for o in (o0, o1, o2)] == [(2, 4, 8, 12), (2, 8, 4, 6),
                                               (2, 16, 2, 3)]
    # each output is its stage's layers applied to the previous output
    torch.testing.assert_close(o0, model.stages[0](model.stem_conv(img)))
    torch.testing.assert_close(o1, model.stages[1](o0))
    torch.testing.assert_close(o2, model.head_norm(model.stages[2](o1)))
    pooled = ToyPyramid(out_type='avg_featmap', out_indices=-1).eval()
    pooled.load_state_dict(model.state_dict())
    torch.testing.assert_close(pooled(img)[0], o2.mean((2, 3)))


def test_pyramid_layer_depths_count_layers_over_stages():
    model = ToyPyramid()
    # 1 + (1 + 2) + (1 + 1) layers: depths 1..6, top 7, 8 depths in all
    assert model.num_trunk_layers == 6
    expected = {
        'stem_conv.weight': 0,
        'stages.0.0.conv.weight': 1,
        'stages.1.0.proj.weight': 2,  # the downsampling enters stage 1
        'stages.1.1.conv.weight': 3,
        'stages.1.2.norm.bias': 4,
        'stages.2.0.proj.bias': 5,
        'stages.2.1.conv.weight': 6,
        'head_norm.weight': 7,
    }
    for name, depth in expected.items():
        assert model.get_layer_depth(name) == (depth, 8), name
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (7, 8)


@pytest.mark.parametrize('frozen_stages, frozen', [
    (-1, ()),
    (0, ('stem_conv', )),
    (1, ('stem_conv', 'stages.0')),
    (2, ('stem_conv', 'stages.0', 'stages.1')),
    (3, ('stem_conv', 'stages', 'head_norm')),
])
def test_pyramid_frozen_stages(frozen_stages, frozen):
    model = ToyPyramid(frozen_stages=frozen_stages).train()
    for name, p in model.named_parameters():
        assert p.requires_grad != name.startswith(frozen), name
    for name, m in model.named_modules():
        if name and not isinstance(m, (nn.ModuleList, nn.Sequential)):
            assert m.training != name.startswith(frozen), name


def test_pyramid_with_cp_checkpoints_every_layer(monkeypatch):
    calls = []
    real = torch.utils.checkpoint.checkpoint
    monkeypatch.setattr(torch.utils.checkpoint, 'checkpoint',
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    model = ToyPyramid(with_cp=True).train()
    ref = ToyPyramid().train()
    ref.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    for out, expected in zip(model(x), ref(x)):
        torch.testing.assert_close(out, expected)
    assert len(calls) == 6


def test_forward_stops_after_the_last_output_stage():
    model = ToyPyramid(out_indices=0).eval()
    ran = []
    for i, stage in enumerate(model.stages):
        stage.register_forward_hook(lambda *_, i=i: ran.append(i))
    for i, stage in enumerate(model.layers):
        for layer in stage:
            layer.register_forward_hook(lambda *_, i=i: ran.append(i))
    (out, ) = model(torch.randn(1, 3, 32, 32))
    assert set(ran) == {0} and out.shape == (1, 4, 8, 8)


def test_undeclared_module_is_refused():

    class Forgetful(ToyPyramid):

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.extra = nn.Linear(2, 2)  # in no declared part

    with pytest.raises(RuntimeError, match=r"undeclared \['extra'\]"):
        Forgetful()


def test_loose_parameter_must_be_declared():

    class Token(ToyPyramid):
        parts = Parts(stem=('stem_conv', 'token'), stages='stages',
                      top=('head_norm', ))

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.token = nn.Parameter(torch.zeros(4))
            self.other = nn.Parameter(torch.zeros(4))

    with pytest.raises(RuntimeError, match=r"undeclared \['other'\]"):
        Token()


def test_part_declared_twice_is_refused():

    class Twice(ToyPyramid):
        parts = Parts(stem=('stem_conv', ), stages='stages',
                      top=('head_norm', 'stem_conv'))

    with pytest.raises(RuntimeError, match=r"declared twice \['stem_conv'\]"):
        Twice()


def test_declared_part_must_exist():

    class Missing(ToyPyramid):
        parts = Parts(stem=('stem_conv', ), stages='stages',
                      top=('head_norm', 'final'))

    with pytest.raises(AttributeError, match="declares 'final'"):
        Missing()


def test_stage_count_must_match_arch():

    class Short(ToyPyramid):

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            del self.stages[2]

    with pytest.raises(RuntimeError, match='built 2 stages.*has 3'):
        Short(out_indices=0)


def test_declaration_is_finished_once_for_subclasses():
    calls = []

    class Sub(ToyPyramid):

        def _finish_declaration(self):
            calls.append(1)
            super()._finish_declaration()

    Sub()
    assert calls == [1]


def test_drop_path_rates_and_format_tokens_errors():
    assert drop_path_rates(0.3, 4, 'linear') == pytest.approx(
        [0., 0.1, 0.2, 0.3])
    assert drop_path_rates(0.3, 2) == [0.3, 0.3]
    assert drop_path_rates(0.3, 1, 'linear') == [0.]
    with pytest.raises(ValueError, match="'cosine'.*'linear', 'uniform'"):
        drop_path_rates(0.3, 2, 'cosine')
    with pytest.raises(ValueError, match="'cls_token'"):
        format_tokens(torch.zeros(1, 4, 2), 'cls_token', (2, 2))
    maps = torch.arange(16.).view(1, 2, 2, 4).transpose(2, 3)
    assert format_featmap(maps, 'featmap').is_contiguous()
    assert torch.equal(format_featmap(maps, 'avg_featmap'),
                       torch.tensor([[3.5, 11.5]]))
    with pytest.raises(ValueError, match="'raw'.*'featmap', 'avg_featmap'"):
        format_featmap(maps, 'raw')


class Joined(ToyPyramid):
    """A bias map added before trunk layer ``join_at`` (ConViT-like: its
    class token joins in the middle of the trunk)."""
    parts = Parts(stem=('stem_conv', ), stages='stages',
                  top=('head_norm', ), joins=(('shift', 'join_at'), ))

    def __init__(self, join_at=3, **kwargs):
        super().__init__(**kwargs)
        self.join_at = join_at
        self.shift = nn.Parameter(torch.zeros(8, 1, 1))

    def forward_stage(self, index, x, context):
        layer = sum(len(s) for s in self.layers[:index])
        for module in self.layers[index]:
            if layer == self.join_at:
                x = x + self.shift
            x = self.run_layer(module, x)
            layer += 1
        return x, context


@pytest.mark.parametrize('join_at, depth, stage',
                         [(3, 4, 1), (1, 2, 1), (4, 5, 2)])
def test_joining_part_has_the_depth_and_stage_of_its_layer(
        join_at, depth, stage):
    # trunk layers: 0 | 1 2 3 | 4 5; layer j has depth j + 1
    model = Joined(join_at=join_at)
    assert model.get_layer_depth('shift') == (depth, 8)
    for frozen_stages in range(-1, 4):
        model = Joined(join_at=join_at, frozen_stages=frozen_stages)
        assert model.shift.requires_grad == (frozen_stages <= stage)


def test_joining_before_the_first_layer_is_the_stem():
    model = Joined(join_at=0)
    assert model.get_layer_depth('shift') == (0, 8)
    assert Joined(join_at=0, frozen_stages=-1).shift.requires_grad
    assert not Joined(join_at=0, frozen_stages=0).shift.requires_grad


def test_joining_after_the_last_layer_is_the_top():
    model = Joined(join_at=6)  # after every layer: the top's depth
    assert model.get_layer_depth('shift') == (7, 8)
    assert Joined(join_at=6, frozen_stages=2).shift.requires_grad
    assert not Joined(join_at=6, frozen_stages=3).shift.requires_grad


@pytest.mark.parametrize('join_at', [7, -1, None])
def test_joining_layer_out_of_range_is_refused(join_at):
    with pytest.raises(ValueError,
                       match=rf"'shift' joins before trunk layer "
                       rf'join_at={join_at}.*\[0, 6\]'):
        Joined(join_at=join_at)


def test_joining_part_must_be_declared():

    class Undeclared(Joined):
        parts = Parts(stem=('stem_conv', ), stages='stages',
                      top=('head_norm', ))

    with pytest.raises(RuntimeError, match=r"undeclared \['shift'\]"):
        Undeclared()


def test_format_as_and_also_output():
    """Another format of the same pass: ``also_output`` collects one entry
    per output stage and forward call without changing what ``forward``
    returns; ``format_as`` leaves ``out_type`` as it was, even on error."""
    model = ToyPyramid(out_indices=(1, 2)).eval()
    pooled = ToyPyramid(out_type='avg_featmap', out_indices=(1, 2)).eval()
    pooled.load_state_dict(model.state_dict())
    img = torch.randn(2, 3, 32, 48)
    plain = model(img)
    with model.also_output('avg_featmap') as extra:
        outs = model(img)
        model(img[:1])
    for a, b in zip(outs, plain):
        torch.testing.assert_close(a, b)
    expected = pooled(img) + pooled(img[:1])
    assert len(extra) == 4
    for a, b in zip(extra, expected):
        torch.testing.assert_close(a, b)
    assert model._also_outputs == [] and model.out_type == 'featmap'
    model(img)
    assert len(extra) == 4  # nothing collected after the context

    # nested contexts each collect
    with model.also_output('avg_featmap') as a, \
            model.also_output('featmap') as b:
        model(img)
    assert len(a) == len(b) == 2
    torch.testing.assert_close(b[1], plain[1])

    with pytest.raises(ValueError, match=r"also_output: unknown out_type "
                       r"'cls_token'.*\['featmap', 'avg_featmap'\]"):
        with model.also_output('cls_token'):
            pass
    with pytest.raises(ValueError, match='format_as: unknown out_type'):
        model.format_as(img, 0, None, 'raw')
    assert model.out_type == 'featmap'

    class Failing(ToyPyramid):
        def format_output(self, x, index, context):
            raise RuntimeError('boom')

    failing = Failing()
    with pytest.raises(RuntimeError, match='boom'):
        failing.format_as(img, 0, None, 'avg_featmap')
    assert failing.out_type == 'featmap'


def test_also_output_of_a_final_only_type_needs_the_last_stage_only():
    from mmvitplug.models.backbones import CaiT
    from _builders import build_tiny
    model = build_tiny(CaiT, out_indices=(1, 2), out_type='featmap')
    with pytest.raises(ValueError, match=r"also_output\('cls_token'\).*"
                       r'out_indices is \[1, 2\]'):
        with model.also_output('cls_token'):
            pass
    last = build_tiny(CaiT).eval()  # out_type='cls_token'
    img = torch.randn(2, 3, 32, 32)
    with last.also_output('featmap') as maps:
        cls = last(img)
    assert maps[0].shape == (2, 32, 4, 4) and cls[0].shape == (2, 32)
    # a CaiT built for maps has no class-attention blocks: a clear error
    no_cls = build_tiny(CaiT, out_type='featmap').eval()
    with pytest.raises(ValueError, match='without a class token'):
        with no_cls.also_output('cls_token'):
            no_cls(img)
