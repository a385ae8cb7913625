# Copyright (c) mmvitplug contributors.
"""The stack fixes: weights-only resume, CPU distributed, config checks."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

import mmvitplug  # noqa: F401  (installs the allow-list)
from mmvitplug.utils import (adapt_cfg_to_device, check_plugin_imports,
                             enable_amp, finish_distributed, plugin_types,
                             setup_distributed)
from mmvitplug.utils.compat import MMENGINE_CHECKPOINT_GLOBALS


def _mmengine_checkpoint_bytes():
    """A checkpoint shaped like mmengine's (``CheckpointHook`` output)."""
    hub = MessageHub.get_instance('test_compat')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('train/lr', np.float64(0.1))
    hub.update_info('iter', 3)
    buf = io.BytesIO()
    torch.save(
        dict(
            meta=dict(epoch=1, iter=3, seed=0, cfg='model = dict()'),
            state_dict={'w': torch.ones(2)},
            message_hub=hub.state_dict(),
            optimizer={'state': {}, 'param_groups': [{'lr': 0.1}]}), buf)
    return buf.getvalue()


class _Payload:  # any class torch does not know is code, not weights

    def __reduce__(self):
        return (print, ('this must never run',))


def test_mmengine_checkpoint_loads_weights_only():
    data = _mmengine_checkpoint_bytes()
    ckpt = torch.load(io.BytesIO(data), weights_only=True)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert buffer.current() == pytest.approx(1 / 3)
    assert ckpt['meta']['iter'] == 3


def test_allow_list_is_what_makes_resume_work():
    data = _mmengine_checkpoint_bytes()
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    try:
        with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
            torch.load(io.BytesIO(data), weights_only=True)
    finally:
        torch.serialization.add_safe_globals(saved)
    torch.load(io.BytesIO(data), weights_only=True)


def test_allow_list_is_exact():
    names = {getattr(g, '__name__', str(g)) for g in
             MMENGINE_CHECKPOINT_GLOBALS}
    assert 'HistoryBuffer' in names
    # anything else stays refused: weights-only loading is still on
    buf = io.BytesIO()
    torch.save({'x': _Payload()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)


def _gpu_style_cfg():
    return Config(
        dict(
            model=dict(
                type='EncoderDecoder',
                decode_head=dict(norm_cfg=dict(type='SyncBN')),
                auxiliary_head=[dict(norm_cfg=dict(type='SyncBN'))]),
            env_cfg=dict(dist_cfg=dict(backend='nccl'))))


def test_adapt_cfg_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = _gpu_style_cfg()
    notes = adapt_cfg_to_device(cfg, launcher='pytorch')
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert cfg.model.auxiliary_head[0].norm_cfg.type == 'BN'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert len(notes) == 3
    # single process: no wrapper config is invented
    cfg = _gpu_style_cfg()
    adapt_cfg_to_device(cfg, launcher='none')
    assert 'model_wrapper_cfg' not in cfg
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'


def test_adapt_cfg_leaves_gpu_machines_alone(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = _gpu_style_cfg()
    assert adapt_cfg_to_device(cfg, launcher='pytorch') == []
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'


def test_setup_distributed_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match="'gloo'"):
        setup_distributed('pytorch', 'nccl')
    for key in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='RANK.*torchrun'):
        setup_distributed('pytorch')


def test_setup_and_finish_distributed_single_process(monkeypatch):
    """torchrun-style environment, gloo on CPU; finish_distributed tears the
    group down (a live gloo group can abort the process at exit) and is a
    no-op when there is none."""
    import socket

    import torch.distributed as dist
    with socket.socket() as sock:  # a free port
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    finish_distributed()  # nothing to tear down
    assert setup_distributed('pytorch') == 'gloo'
    try:
        assert dist.is_initialized() and dist.get_world_size() == 1
    finally:
        finish_distributed()
    assert not dist.is_initialized()


def test_check_plugin_imports():
    used = Config(dict(model=dict(type='mmpretrain.ImageClassifier',
                                  backbone=dict(type='mmvitplug.DeiT'))))
    assert plugin_types(used) == ['mmvitplug.DeiT']
    with pytest.raises(ValueError) as e:
        check_plugin_imports(used, 'x.py')
    assert "custom_imports = dict(imports=['mmvitplug']" in str(e.value)
    assert 'mmvitplug.DeiT' in str(e.value)
    used.custom_imports = dict(imports=['mmvitplug'])
    check_plugin_imports(used)
    # upstream configs need nothing
    check_plugin_imports(Config(dict(model=dict(type='ImageClassifier'))))


def test_enable_amp_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))
    assert enable_amp(cfg) == 'mmvitplug.BF16OptimWrapper'
    cfg = Config(dict(optim_wrapper=dict(type='Mine')))
    with pytest.raises(ValueError, match='OptimWrapper'):
        enable_amp(cfg)


def test_bf16_optim_wrapper_autocasts_and_steps():
    from mmengine.registry import OPTIM_WRAPPERS
    model = torch.nn.Linear(4, 3)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type='mmvitplug.BF16OptimWrapper'),
        default_args=dict(optimizer=torch.optim.SGD(model.parameters(),
                                                    lr=0.1)))
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().sum())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(before, model.weight)
