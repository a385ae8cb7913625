# Copyright (c) mmvitplug contributors.
"""Helpers of the backbone contract tests (flat and staged families).

Import it as ``from _contract import ...`` (``tests/`` is on ``sys.path``
through ``tests/conftest.py``).
"""
import math
from typing import Callable, Dict, Sequence

import torch
import torch.nn as nn
import torch.utils._pytree
import torch.utils.checkpoint

from mmvitplug.models.backbones import Parts, VisionBackbone


def tensors(outs):
    """Every tensor of a forward's outputs (a distilled DeiT gives pairs)."""
    return [t for o in outs for t in (o if isinstance(o, tuple) else (o, ))]


def square_loss(outs):
    return sum(t.square().sum() for t in tensors(outs))


def perturb(model, seed=1):
    """Noise on every vector (norm affines, biases, LayerScale)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
    return model


def randomize(model, seed=1):
    """Random values everywhere, around 1 where the init is 1."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (p == 1).float())
    return model


class FirstUse(torch.overrides.TorchFunctionMode):
    """Records, for each parameter, the trunk position of its first use.

    ``position`` is ``j + 1`` while layer ``j`` runs and ``j + 1.5`` after
    it returned, so a parameter first used between layers ``j`` and
    ``j + 1`` (or after the last) enters at depth ``j + 2`` (the top).
    """

    def __init__(self):
        super().__init__()
        self.position = 0.
        self.first = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for leaf in torch.utils._pytree.tree_leaves((args, kwargs)):
            if isinstance(leaf, nn.Parameter):
                self.first.setdefault(id(leaf), self.position)
        return func(*args, **kwargs)


def entry_depths(model: nn.Module, layers: Sequence[nn.Module],
                 run: Callable[[], object]) -> Dict[str, int]:
    """The depth at which ``run()`` first uses each parameter of ``model``.

    Args:
        model (nn.Module): The backbone.
        layers (Sequence[nn.Module]): Its trunk layers in computation order
            (layer ``j`` has depth ``j + 1``).
        run (callable): Runs a forward pass.

    Returns:
        dict: Parameter name -> depth (0 before the first layer, ``j + 1``
        inside layer ``j``, ``j + 2`` between layers ``j`` and ``j + 1``).
    """
    recorder = FirstUse()
    handles = []
    for j, layer in enumerate(layers):
        handles.append(layer.register_forward_pre_hook(
            lambda *_, j=j: setattr(recorder, 'position', j + 1.)))
        handles.append(layer.register_forward_hook(
            lambda *_, j=j: setattr(recorder, 'position', j + 1.5)))
    try:
        with recorder:
            run()
    finally:
        for handle in handles:
            handle.remove()
    depths = {}
    for name, p in model.named_parameters():
        assert id(p) in recorder.first, f'{name} is never used'
        depths[name] = math.ceil(recorder.first[id(p)])
    return depths


def check_pretrained_loads_once(build: Callable, prefix, path):
    """A backbone's ``Pretrained`` init_cfg loads an mmvitplug checkpoint
    (a classifier's with ``prefix``, or a bare backbone's with None) once:
    a later ``init_weights`` leaves the weights alone.

    Args:
        build (callable): ``build(seed=, init=, init_cfg=)`` -> backbone.
        prefix (str, optional): Prefix of the backbone keys, or None.
        path (pathlib.Path): Where to write the checkpoint.
    """
    src = randomize(build(seed=1))
    state = src.state_dict()
    if prefix:
        ckpt = {prefix + k: v for k, v in state.items()}
        ckpt['head.fc.weight'] = torch.zeros(3, 8)
    else:
        ckpt = dict(state)
    torch.save({'state_dict': ckpt, 'meta': {}}, path)
    model = build(init=False, init_cfg=dict(
        type='Pretrained', checkpoint=str(path), prefix=prefix))
    fresh = build().state_dict()
    # loading is what makes the parameters equal
    assert all(not torch.equal(fresh[k], p) for k, p in
               src.named_parameters())
    model.init_weights()
    assert model.is_init
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    model.init_weights()  # already initialised: left alone
    assert all(torch.all(p == 0) for p in model.parameters())


def check_with_cp_identical(build: Callable, x: torch.Tensor,
                            expected_calls: Callable, monkeypatch):
    """Checkpointed layers give the same outputs and gradients, and
    checkpointing (non-reentrant) happens only in training.

    Args:
        build (callable): ``build(with_cp=)`` -> backbone.
        x (torch.Tensor): Images.
        expected_calls (callable): Model -> number of checkpointed calls
            of one training forward.
        monkeypatch: pytest's fixture (``torch.utils.checkpoint`` is
            counted).
    """
    calls = []
    real = torch.utils.checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return real(*args, **kwargs)

    # the backbones call it as ``torch.utils.checkpoint.checkpoint``
    monkeypatch.setattr(torch.utils.checkpoint, 'checkpoint', counting)
    ref = build().train()
    ckpt = build(with_cp=True).train()
    ckpt.load_state_dict(ref.state_dict())
    outs, grads = [], []
    for model in (ref, ckpt):
        torch.manual_seed(1)
        out = model(x)
        square_loss(out).backward()
        outs.append(tensors(out))
        grads.append({n: p.grad for n, p in model.named_parameters()})
    n_calls = expected_calls(ref)
    assert calls == [False] * n_calls
    torch.testing.assert_close(outs[0], outs[1])
    for name, grad in grads[0].items():
        torch.testing.assert_close(grad, grads[1][name], msg=name)
    ckpt.eval()(x)
    assert len(calls) == n_calls  # no checkpointing outside training


def check_drop_front_continues(build: Callable, x: torch.Tensor):
    """After ``drop_front(k)``, a copy continues the computation from the
    whole backbone's stage-``k`` input exactly (the last stage's feature
    maps), and holds no parameter of the stem or of the first ``k`` stages
    (MixSKD's auxiliary branches).

    Args:
        build (callable): ``build()`` -> backbone with a ``featmap`` output.
        x (torch.Tensor): Images.
    """
    full = randomize(build()).eval()
    last = full.num_stages - 1
    h, context = full.embed(x)
    states = []
    for i in range(last + 1):
        states.append((h, context))
        h, context = full.forward_stage(i, h, context)
    ref = full.format_as(h, last, context, 'featmap')
    total = sum(p.numel() for p in full.parameters())
    stem = sum(p.numel() for part in full._parts(full.parts.stem)
               for p in ([part] if isinstance(part, nn.Parameter) else
                         part.parameters()))
    for k in sorted({1, (last + 1) // 2, last}):
        part = build()
        part.load_state_dict(full.state_dict())
        part.drop_front(k)
        part.eval()
        h, context = states[k]
        for j in range(k, last + 1):
            h, context = part.forward_stage(j, h, context)
        torch.testing.assert_close(
            part.format_as(h, last, context, 'featmap'), ref, msg=f'k={k}')
        removed = stem + sum(p.numel() for stage in full.layers[:k]
                             for layer in stage for p in layer.parameters())
        assert sum(p.numel() for p in part.parameters()) <= total - removed
        assert not any(
            isinstance(p, nn.Parameter) or list(p.parameters())
            for p in part._parts(part.parts.stem))


# ------------------------------------------------ a toy staged pyramid
class Downsample(nn.Module):
    """2x2 patch merging of NCHW maps."""

    def __init__(self, in_dims, out_dims):
        super().__init__()
        self.proj = nn.Conv2d(in_dims, out_dims, 2, stride=2)

    def forward(self, x):
        return self.proj(x)


class ConvLayer(nn.Module):

    def __init__(self, dims):
        super().__init__()
        self.conv = nn.Conv2d(dims, dims, 3, padding=1)
        self.norm = nn.BatchNorm2d(dims)

    def forward(self, x):
        return x + self.norm(self.conv(x)).relu()


class ToyPyramid(VisionBackbone):
    """Stage i: (a downsampling for i > 0, then) ``depths[i]`` layers."""
    arch_zoo = {'toy': dict(dims=(4, 8, 16), depths=(1, 2, 1))}
    arch_keys = ('dims', 'depths')
    out_types = ('featmap', 'avg_featmap')
    num_stages_key = 'depths'
    stage_unit = 'stages'
    parts = Parts(stem=('stem_conv', ), stages='stages', top=('head_norm', ))

    def __init__(self, arch='toy', out_indices=(0, 1, 2), in_channels=3,
                 **kwargs):
        super().__init__(arch, out_indices, **kwargs)
        dims, depths = self.arch_settings['dims'], self.arch_settings[
            'depths']
        self.stem_conv = nn.Conv2d(in_channels, dims[0], 4, stride=4)
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            layers = [Downsample(dims[i - 1], dims[i])] if i else []
            layers += [ConvLayer(dims[i]) for _ in range(depth)]
            self.stages.append(nn.Sequential(*layers))
        self.head_norm = nn.BatchNorm2d(dims[-1])

    def embed(self, x):
        return self.stem_conv(x), None

    def format_output(self, x, index, context):
        if index == self.num_stages - 1:
            x = self.head_norm(x)
        return x if self.out_type == 'featmap' else x.mean((2, 3))
