# Copyright (c) mmvitplug contributors.
"""The stack fixes: weights-only resume, CPU distributed, config checks."""
import importlib
import io
import os.path as osp
import pickle
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import utils as dist_utils
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.runner import Runner

import mmvitplug  # noqa: F401  (installs the allow-list and CPU patches)
from mmvitplug.utils import (check_plugin_imports, check_torchrun_env, compat,
                             enable_amp, finish_distributed,
                             patch_cpu_distributed, plugin_types)
from mmvitplug.utils.compat import MMENGINE_CHECKPOINT_GLOBALS
from _builders import load_tool


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


def _torchrun_env(monkeypatch):
    """A one-process torchrun environment on a free port."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def no_cuda(monkeypatch):
    """A CPU-only machine in a torchrun process; no CUDA call may run."""
    def refuse(*args, **kwargs):
        raise AssertionError('CUDA called on a CPU-only machine')

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.cuda, 'set_device', refuse)
    # init_dist would switch the test process to 'spawn' when unset
    monkeypatch.setattr(dist_utils.mp, 'get_start_method',
                        lambda allow_none=False: 'fork')
    _torchrun_env(monkeypatch)
    yield
    finish_distributed()


@pytest.fixture
def pristine_mmengine(monkeypatch):
    """mmengine's own functions back in place (undone after the test)."""
    originals = dict(compat._ORIGINALS)
    monkeypatch.setattr(compat, '_ORIGINALS', dict(originals))
    monkeypatch.setattr(dist_utils, '_init_dist_pytorch',
                        originals[compat._INIT_DIST_PYTORCH])
    monkeypatch.setattr(Runner, 'wrap_model', originals[compat._WRAP_MODEL])
    return originals


def test_import_installs_cpu_patches_once():
    # this machine has no CUDA: importing mmvitplug installed both
    assert not torch.cuda.is_available()
    assert dist_utils._init_dist_pytorch is compat._init_dist_pytorch
    assert Runner.wrap_model is compat._wrap_model
    originals = dict(compat._ORIGINALS)
    assert originals[compat._INIT_DIST_PYTORCH].__module__ == \
        'mmengine.dist.utils'
    assert originals[compat._WRAP_MODEL].__qualname__ == 'Runner.wrap_model'
    compat.apply()  # idempotent: nothing wrapped twice
    assert patch_cpu_distributed()
    assert compat._ORIGINALS == originals
    assert dist_utils._init_dist_pytorch is compat._init_dist_pytorch
    # the CPU autocast fixes, once each
    from mmengine.evaluator import Evaluator
    assert Evaluator.process is compat._evaluator_process
    for module_name, name in compat.MMCV_FLOAT32_OPS:
        op = getattr(importlib.import_module(module_name), name)
        assert compat._is_float32_wrapper(op)
        assert not compat._is_float32_wrapper(op.__wrapped__)


def test_nothing_patched_on_a_cuda_machine(monkeypatch, pristine_mmengine):
    original_init = pristine_mmengine[compat._INIT_DIST_PYTORCH]
    original_wrap = pristine_mmengine[compat._WRAP_MODEL]
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert patch_cpu_distributed() is False
    assert dist_utils._init_dist_pytorch is original_init
    assert Runner.wrap_model is original_wrap
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert patch_cpu_distributed() is True
    assert dist_utils._init_dist_pytorch is compat._init_dist_pytorch
    assert compat._ORIGINALS[compat._INIT_DIST_PYTORCH] is original_init


def test_cuda_machine_keeps_mmengine_init_dist(monkeypatch):
    """Installed patches hand GPU launches to mmengine unchanged: nccl,
    set_device(LOCAL_RANK)."""
    calls = []
    _torchrun_env(monkeypatch)
    monkeypatch.setenv('LOCAL_RANK', '3')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'set_device',
                        lambda i: calls.append(('set_device', i)))
    monkeypatch.setattr(
        dist_utils.torch_dist, 'init_process_group',
        lambda backend, **kw: calls.append(('init', backend)))
    monkeypatch.setattr(dist_utils.mp, 'get_start_method',
                        lambda allow_none=False: 'fork')
    dist_utils.init_dist('pytorch', backend='nccl')
    assert calls == [('set_device', 3), ('init', 'nccl')]


def test_init_dist_without_cuda_uses_gloo(no_cuda):
    # the public entry point Runner.setup_env calls, with an upstream
    # runtime's backend
    from mmengine.dist import init_dist
    init_dist('pytorch', backend='nccl')
    assert dist.is_initialized() and dist.get_backend() == 'gloo'
    assert compat._teardown_at_exit in compat._EXIT_TEARDOWN
    compat._teardown_at_exit()  # what atexit runs: the group is gone
    assert not dist.is_initialized()


def test_init_dist_outside_torchrun_names_the_variables(no_cuda,
                                                        monkeypatch):
    monkeypatch.delenv('MASTER_PORT')
    with pytest.raises(RuntimeError, match='MASTER_PORT.*torchrun'):
        dist_utils.init_dist('pytorch', backend='gloo')
    with pytest.raises(RuntimeError, match='MASTER_PORT'):
        check_torchrun_env()


class _ToyModel(BaseModel):
    """Conv + SyncBN + linear, the minimum a Runner trains."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.SyncBatchNorm(4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        x = self.fc(self.bn(self.conv(inputs)).mean((2, 3)))
        if mode == 'loss':
            return dict(loss=torch.nn.functional.cross_entropy(x, labels))
        return x


def _distributed_runner(tmp_path, **kwargs):
    return Runner(
        model=_ToyModel(),
        work_dir=str(tmp_path),
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='nccl')),  # upstream runtimes
        default_scope='mmengine',
        **kwargs)


def _sync_bns(model):
    return [m for m in model.modules()
            if isinstance(m, torch.nn.SyncBatchNorm)]


@pytest.mark.parametrize('wrapper_cfg', [
    None,
    dict(type='MMDistributedDataParallel', find_unused_parameters=True,
         device_ids=[0])
])
def test_upstream_runner_trains_distributed_without_cuda(
        no_cuda, tmp_path, wrapper_cfg):
    """mmengine's own Runner, as upstream tools build it: gloo group, DDP
    without device ids, SyncBN reverted, and a DDP training step runs."""
    runner = _distributed_runner(
        tmp_path, cfg=dict(sync_bn='torch', model_wrapper_cfg=wrapper_cfg))
    assert dist.get_backend() == 'gloo'
    model = runner.model
    assert isinstance(model, MMDistributedDataParallel)
    assert model.device_ids is None
    assert _sync_bns(model) == []
    assert isinstance(model.module.bn, torch.nn.modules.batchnorm._BatchNorm)
    if wrapper_cfg is not None:
        assert model.find_unused_parameters
        # the config is not edited
        assert runner.cfg.model_wrapper_cfg.device_ids == [0]
    assert runner.cfg.sync_bn == 'torch'  # restored after wrapping
    optim = runner.build_optim_wrapper(
        dict(optimizer=dict(type='SGD', lr=0.1)))
    before = model.module.fc.weight.detach().clone()
    log = model.train_step(
        dict(inputs=torch.randn(4, 3, 8, 8), labels=torch.tensor([0, 1] * 2)),
        optim)
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.module.fc.weight)


def test_wrap_model_leaves_gpu_and_single_process_alone(monkeypatch):
    """Anything but a CPU distributed run reaches mmengine's wrap_model with
    its arguments untouched."""
    seen = []
    monkeypatch.setitem(
        compat._ORIGINALS, compat._WRAP_MODEL,
        lambda self, cfg, model: seen.append((cfg, model)) or model)

    class FakeRunner:
        distributed = True
        cfg = Config(dict(sync_bn='torch'))

    model = _ToyModel()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert Runner.wrap_model(FakeRunner(), None, model) is model
    assert seen == [(None, model)] and len(_sync_bns(model)) == 1
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    FakeRunner.distributed = False
    cfg = dict(type='MMDistributedDataParallel')
    Runner.wrap_model(FakeRunner(), cfg, model)
    assert seen[-1] == (cfg, model) and 'device_ids' not in cfg
    assert len(_sync_bns(model)) == 1 and FakeRunner.cfg.sync_bn == 'torch'


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


@pytest.mark.parametrize('cuda', [False, True])
def test_enable_amp_dtype(monkeypatch, cuda):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))
    # bf16 on any device: the wrapper without loss scaling
    assert enable_amp(cfg, 'bfloat16') == 'mmvitplug.BF16OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))
    if cuda:
        assert enable_amp(cfg, 'float16') == 'AmpOptimWrapper'
        assert cfg.optim_wrapper.loss_scale == 'dynamic'
    else:
        with pytest.raises(ValueError, match="'float16' needs a GPU"):
            enable_amp(cfg, 'float16')
    with pytest.raises(ValueError, match='float16, bfloat16'):
        enable_amp(cfg, 'fp8')


def test_enable_amp_dtype_conflicting_with_the_config(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    fp16 = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper')))
    assert enable_amp(fp16, 'float16') == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='already trains'):
        enable_amp(fp16, 'bfloat16')
    bf16 = Config(
        dict(optim_wrapper=dict(type='AmpOptimWrapper', dtype='bfloat16')))
    assert enable_amp(bf16, 'bfloat16') == 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='already trains'):
        enable_amp(bf16, 'float16')


def test_train_amp_dtype_flag(monkeypatch, tmp_path):
    from _builders import load_tool
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    train = load_tool('train.py')

    def cfg():
        return Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD'))))

    args = train.parse_args(['x.py', '--work-dir', str(tmp_path), '--amp',
                             '--amp-dtype', 'bfloat16'])
    assert train.merge_args(cfg(), args).optim_wrapper.type == \
        'mmvitplug.BF16OptimWrapper'
    args = train.parse_args(['x.py', '--amp-dtype', 'bfloat16'])
    with pytest.raises(ValueError, match='--amp-dtype needs --amp'):
        train.merge_args(cfg(), args)
    with pytest.raises(SystemExit):
        train.parse_args(['x.py', '--amp', '--amp-dtype', 'half'])


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


# ---------------------------------------------------------------------------
# tools/test.py --amp: the test loop runs under autocast

_BACKBONE = """dict(
    type='mmvitplug.DeiT',
    arch=dict(embed_dims=32, num_layers=2, num_heads=2,
              feedforward_channels=64),
    drop_path_rate=0.0, {extra})"""

# Test-only configs (no optim_wrapper, no training loop) on a few bundled
# images; weights do not matter here, only the precision the model runs in.
TEST_ONLY_CFGS = dict(
    cls="""
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=10, mean=[77.9] * 3,
                           std=[95.9] * 3, to_rgb=True),
    backbone=%s,
    head=dict(type='LinearClsHead', num_classes=10, in_channels=32))
test_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='ImageNet', data_root='{data}/digits', split='val', indices=8,
        metainfo=dict(classes=tuple(str(i) for i in range(10))),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict()
""" % _BACKBONE.format(extra='img_size=32, patch_size=8'),
    det="""
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
default_scope = 'mmdet'
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, **%s),
    neck=dict(_delete_=True, type='mmvitplug.SimpleFPN', backbone_channel=32,
              out_channels=32, num_outs=5,
              norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=32),
        bbox_head=dict(in_channels=32, fc_out_channels=64, num_classes=3),
        mask_roi_extractor=dict(out_channels=32),
        mask_head=dict(num_convs=1, in_channels=32, conv_out_channels=16,
                       num_classes=3)),
    test_cfg=dict(rpn=dict(nms_pre=100, max_per_img=50),
                  rcnn=dict(max_per_img=10)))
data_root = '{data}/shapes-coco/'
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset', data_root=data_root, indices=2, test_mode=True,
        metainfo=dict(classes=('circle', 'square', 'triangle')),
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 128), keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            dict(type='PackDetInputs',
                 meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                            'scale_factor'))]))
test_evaluator = dict(
    type='CocoMetric', metric=['bbox', 'segm'],
    ann_file=data_root + 'annotations/instances_val2017.json')
test_cfg = dict(type='TestLoop')
""" % _BACKBONE.format(
        extra="img_size=128, out_type='featmap', out_indices=(1, )"),
    seg="""
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py']
default_scope = 'mmseg'
custom_imports = dict(imports=['mmvitplug'], allow_failed_imports=False)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=(128, 128)),
    backbone=dict(_delete_=True, **%s),
    neck=dict(_delete_=True, type='mmvitplug.SimpleFPN', backbone_channel=32,
              out_channels=32, num_outs=4,
              norm_cfg=dict(type='mmvitplug.LN2d', eps=1e-6)),
    # the heads keep the upstream SyncBN norm_cfg
    decode_head=dict(in_channels=[32] * 4, channels=32, num_classes=4),
    auxiliary_head=dict(in_channels=32, in_index=2, channels=16,
                        num_classes=4))
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BaseSegDataset', data_root='{data}/shapes-ade', indices=2,
        metainfo=dict(classes=('background', 'circle', 'square', 'triangle'),
                      palette=[[0, 0, 0], [220, 20, 60], [0, 160, 60],
                               [30, 60, 230]]),
        img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=False,
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 128), keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')]))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
""" % _BACKBONE.format(
        extra="img_size=(128, 128), out_type='featmap', out_indices=(1, )"),
)


@pytest.fixture
def record_backbone_precision(monkeypatch):
    """Record, for every backbone forward inside ``Runner.test``, whether CPU
    autocast is on and the dtype of the activation out of the backbone's
    first ``Linear`` (bfloat16 under CPU autocast, float32 without)."""
    from mmengine.model import is_model_wrapper
    records = []
    original_test = Runner.test

    def test(self):
        model = self.model.module if is_model_wrapper(
            self.model) else self.model

        def hook(module, args, output):
            records.append((torch.is_autocast_enabled('cpu'), output.dtype))

        first_linear = next(m for m in model.backbone.modules()
                            if isinstance(m, torch.nn.Linear))
        handle = first_linear.register_forward_hook(hook)
        try:
            return original_test(self)
        finally:
            handle.remove()

    monkeypatch.setattr(Runner, 'test', test)
    return records


def _run_test_tool(repo_root, tmp_path, task, data_root, *args):
    config = tmp_path / f'{task}_test_only.py'
    config.write_text(TEST_ONLY_CFGS[task].replace('{data}', data_root))
    checkpoint = tmp_path / 'random.pth'  # missing keys: random weights
    torch.save(dict(state_dict={}), str(checkpoint))
    load_tool('test.py').main([
        str(config), str(checkpoint), '--work-dir',
        str(tmp_path / 'work'), *args
    ])


def test_tools_test_amp_autocasts_the_test_loop(repo_root, tmp_path,
                                                bundled_digits,
                                                record_backbone_precision):
    data_root = osp.join(repo_root, 'data', 'bundled')
    _run_test_tool(repo_root, tmp_path, 'cls', data_root)
    assert record_backbone_precision == [(False, torch.float32)] * 2
    record_backbone_precision.clear()
    # a test-only config (no optim_wrapper) under --amp
    _run_test_tool(repo_root, tmp_path, 'cls', data_root, '--amp')
    assert record_backbone_precision == [(True, torch.bfloat16)] * 2


@pytest.mark.e2e
@pytest.mark.parametrize('task', ['det', 'seg'])
def test_tools_test_amp_dense(repo_root, tmp_path, bundled_data, task,
                              record_backbone_precision):
    _run_test_tool(repo_root, tmp_path, task, bundled_data, '--amp')
    assert record_backbone_precision == [(True, torch.bfloat16)] * 2


def test_enable_test_amp(monkeypatch):
    from mmvitplug.engine.amp import enable_test_amp
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(dict(test_cfg=dict(type='TestLoop')))  # no optim_wrapper
    assert enable_test_amp(cfg) == torch.bfloat16
    assert cfg.test_cfg == dict(type='TestLoop', fp16=True)
    cfg = Config(dict(test_cfg=dict()))
    enable_test_amp(cfg)
    assert cfg.test_cfg.fp16 is True
    with pytest.raises(ValueError, match='no test_cfg'):
        enable_test_amp(Config(dict()))
    with pytest.raises(ValueError, match="'Nope'.*'TestLoop'"):
        enable_test_amp(Config(dict(test_cfg=dict(type='Nope'))))
    # a loop that cannot autocast is refused, not silently left in fp32
    with pytest.raises(ValueError, match="'EpochBasedTrainLoop'.*fp16"):
        enable_test_amp(
            Config(dict(test_cfg=dict(type='EpochBasedTrainLoop'))))


def test_mmcv_ops_run_on_bf16_cpu_tensors():
    """mmcv 2.1's CPU roi_align / nms kernels refuse bfloat16; the wrapped
    ops compute in float32 and answer in the input's dtype."""
    from mmcv.ops import RoIAlign, batched_nms
    roi_align_module = importlib.import_module('mmcv.ops.roi_align')
    torch.manual_seed(0)
    feats = torch.randn(1, 4, 16, 16)
    rois = torch.tensor([[0., 1., 1., 9., 9.], [0., 4., 2., 15., 12.]])
    layer = RoIAlign(output_size=3, spatial_scale=1.0, sampling_ratio=2)
    expected = layer(feats, rois)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(feats.bfloat16(), rois.bfloat16())
    assert out.dtype == torch.bfloat16
    # = float32 maths on the bfloat16 inputs, rounded to bfloat16
    assert torch.equal(
        out,
        layer(feats.bfloat16().float(), rois.bfloat16().float()).bfloat16())
    assert (out.float() - expected).abs().max() < 0.05
    with pytest.raises(RuntimeError, match='BFloat16|Float'):  # unwrapped
        roi_align_module.roi_align.__wrapped__(feats.bfloat16(),
                                               rois.bfloat16(), 3)

    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = batched_nms(boxes.bfloat16(), scores.bfloat16(),
                             torch.zeros(3), dict(iou_threshold=0.5))
    assert dets.dtype == torch.bfloat16
    assert keep.tolist() == [0, 2]
    # float32 calls are mmcv's own
    assert batched_nms(boxes, scores, torch.zeros(3),
                       dict(iou_threshold=0.5))[0].dtype == torch.float32


def test_evaluator_reads_bf16_predictions():
    from mmengine.evaluator import BaseMetric, Evaluator
    from mmengine.structures import BaseDataElement, InstanceData

    class NumpyMetric(BaseMetric):  # what CocoMetric does with predictions

        def process(self, data_batch, data_samples):
            for sample in data_samples:
                self.results.append(sample['pred']['scores'].numpy())

        def compute_metrics(self, results):
            return dict(total=float(sum(r.sum() for r in results)))

    scores = torch.tensor([0.5, 0.25])
    sample = BaseDataElement(pred=InstanceData(
        scores=scores.bfloat16(), labels=torch.tensor([1, 2])))
    evaluator = Evaluator(NumpyMetric())
    evaluator.process([sample])
    assert evaluator.evaluate(1) == dict(total=0.75)
    with pytest.raises(TypeError, match='BFloat16'):  # mmengine's own
        compat._ORIGINALS[compat._EVALUATOR_PROCESS](evaluator, [sample])
