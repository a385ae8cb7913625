# Copyright (c) mmvitplug contributors.
"""Dense prediction with a plain ViT: SimpleFPN, layer-wise lr decay in
detectors / segmentors / classifiers, and pretrained backbone loading."""
import contextlib
import copy
import io
import logging

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

import mmvitplug  # noqa: F401  (registers the plugin)
from mmvitplug.engine.optimizers import LayerDecayOptimWrapperConstructor
from mmvitplug.layers import LayerNorm2d
from mmvitplug.models.necks import SimpleFPN

EMBED = 32
NUM_LAYERS = 3
MAX_DEPTH = NUM_LAYERS + 1  # patch/tokens = 0, blocks 1..3, top = 4
NUM_CLASSES = 3


@contextlib.contextmanager
def captured_log():
    """Collect what is printed through the current MMLogger."""
    logger = MMLogger.get_current_instance()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def tiny_deit(**kwargs):
    return dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=EMBED,
            num_layers=NUM_LAYERS,
            num_heads=2,
            feedforward_channels=64),
        img_size=64,
        out_type='featmap',
        out_indices=(NUM_LAYERS - 1, ),
        **kwargs)


def roi_extractor(output_size):
    return dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=output_size),
        out_channels=16,
        featmap_strides=[4, 8, 16, 32])


def max_iou_assigner(pos_iou_thr, neg_iou_thr, min_pos_iou):
    return dict(
        type='MaxIoUAssigner',
        pos_iou_thr=pos_iou_thr,
        neg_iou_thr=neg_iou_thr,
        min_pos_iou=min_pos_iou,
        match_low_quality=True)


def rpn_proposals():
    """RPN proposals, the same in training and testing."""
    return dict(
        nms_pre=200,
        max_per_img=100,
        nms=dict(type='nms', iou_threshold=0.7),
        min_bbox_size=0)


def tiny_mask_rcnn(backbone_init=None):
    norm = dict(type='mmvitplug.LN2d')
    box_coder = dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.] * 4,
        target_stds=[0.1, 0.1, 0.2, 0.2])
    return dict(
        type='MaskRCNN',
        data_preprocessor=dict(
            type='DetDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_mask=True,
            pad_size_divisor=32),
        backbone=tiny_deit(init_cfg=backbone_init),
        neck=dict(
            type='mmvitplug.SimpleFPN',
            backbone_channel=EMBED,
            out_channels=16,
            num_outs=5),
        rpn_head=dict(
            type='RPNHead',
            in_channels=16,
            feat_channels=16,
            num_convs=2,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[4],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64]),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.] * 4,
                target_stds=[1.] * 4),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss')),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=roi_extractor(7),
            bbox_head=dict(
                type='Shared4Conv1FCBBoxHead',
                in_channels=16,
                conv_out_channels=16,
                fc_out_channels=32,
                norm_cfg=norm,
                num_classes=NUM_CLASSES,
                bbox_coder=box_coder,
                loss_cls=dict(type='CrossEntropyLoss'),
                loss_bbox=dict(type='L1Loss')),
            mask_roi_extractor=roi_extractor(14),
            mask_head=dict(
                type='FCNMaskHead',
                num_convs=1,
                in_channels=16,
                conv_out_channels=16,
                num_classes=NUM_CLASSES,
                norm_cfg=norm,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True))),
        train_cfg=dict(
            rpn=dict(
                assigner=max_iou_assigner(0.7, 0.3, 0.3),
                sampler=dict(
                    type='RandomSampler', num=64, pos_fraction=0.5),
                allowed_border=-1,
                pos_weight=-1),
            rpn_proposal=rpn_proposals(),
            rcnn=dict(
                assigner=max_iou_assigner(0.5, 0.5, 0.5),
                sampler=dict(
                    type='RandomSampler',
                    num=32,
                    pos_fraction=0.25,
                    add_gt_as_proposals=True),
                mask_size=28,
                pos_weight=-1)),
        test_cfg=dict(
            rpn=rpn_proposals(),
            rcnn=dict(
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=20,
                mask_thr_binary=0.5)))


def tiny_encoder_decoder():
    bn = dict(type='BN')
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            size=(64, 64),
            pad_val=0,
            seg_pad_val=255),
        backbone=tiny_deit(),
        neck=dict(
            type='mmvitplug.SimpleFPN',
            backbone_channel=EMBED,
            out_channels=16,
            num_outs=4),
        decode_head=dict(
            type='UPerHead',
            in_channels=[16] * 4,
            in_index=[0, 1, 2, 3],
            pool_scales=(1, 2, 3),
            channels=16,
            num_classes=NUM_CLASSES,
            norm_cfg=bn,
            loss_decode=dict(type='CrossEntropyLoss')),
        auxiliary_head=dict(
            type='FCNHead',
            in_channels=16,
            in_index=2,
            channels=8,
            num_convs=1,
            concat_input=False,
            num_classes=NUM_CLASSES,
            norm_cfg=bn,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def build_detector(cfg):
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(ConfigDict(cfg))


def build_segmentor(cfg):
    from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(ConfigDict(cfg))


def build_classifier():
    """The tiny DeiT with a linear head, in mmpretrain's ImageClassifier."""
    from mmpretrain.registry import MODELS
    cfg = dict(
        type='ImageClassifier',
        backbone=dict(tiny_deit(), out_type='cls_token'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=EMBED))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def det_loss(model):
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(
        batch_size=2,
        image_shapes=[(3, 64, 64), (3, 64, 48)],
        num_items=[2, 1],
        num_classes=NUM_CLASSES,
        with_mask=True)
    data = model.data_preprocessor(packed, True)
    return model(**data, mode='loss')


def seg_loss(model):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    inputs, samples = [], []
    for h, w in ((64, 64), (48, 64)):
        inputs.append(torch.randint(0, 256, (3, h, w), dtype=torch.uint8))
        sample = SegDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, h, w)))
        samples.append(sample)
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), True)
    return model(**data, mode='loss')


def total(losses):
    parts = [v for k, v in losses.items() if 'loss' in k]
    flat = [x for p in parts for x in (p if isinstance(p, list) else [p])]
    return sum(flat)


def backward_finite(model, losses):
    """The total loss is finite; every parameter gets a finite gradient."""
    loss = total(losses)
    assert torch.isfinite(loss)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f'{name} got no gradient'
        assert torch.isfinite(param.grad).all(), name


def build_optimizer(model, optimizer=None, **paramwise):
    optimizer = optimizer or dict(
        type='SGD', lr=0.1, momentum=0., weight_decay=0.01)
    paramwise.setdefault('layer_decay_rate', 0.5)
    constructor = LayerDecayOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=optimizer), paramwise)
    return constructor(model)


def groups_by_param(optim_wrapper):
    return {
        id(p): group
        for group in optim_wrapper.optimizer.param_groups
        for p in group['params']
    }


def expected_depth(name):
    """Depth of a detector/segmentor parameter (DeiT rules)."""
    if not name.startswith('backbone.'):
        return MAX_DEPTH
    local = name[len('backbone.'):]
    if local.startswith(('patch_embed', 'cls_token', 'pos_embed')):
        return 0
    if local.startswith('blocks.'):
        return int(local.split('.')[1]) + 1
    return MAX_DEPTH


def is_no_decay(name, param, model):
    module = model.get_submodule(name.rpartition('.')[0])
    return (param.ndim == 1 or 'pos_embed' in name or 'cls_token' in name
            or isinstance(module, (nn.LayerNorm, nn.GroupNorm,
                                   nn.modules.batchnorm._BatchNorm)))


# --------------------------------------------------------------- SimpleFPN
@pytest.mark.parametrize('num_outs', [4, 5])
def test_simple_fpn_strides_and_channels(num_outs):
    fpn = SimpleFPN(backbone_channel=32, out_channels=16, num_outs=num_outs)
    assert fpn.in_channels == [8, 16, 32, 32]
    x = torch.randn(2, 32, 5, 7)  # stride 16 of a non-square 80x112 image
    outs = fpn((torch.randn(2, 32, 1, 1), x))  # default: last output
    sizes = [(20, 28), (10, 14), (5, 7), (2, 3), (1, 2)][:num_outs]
    assert [tuple(o.shape) for o in outs] == [(2, 16, h, w) for h, w in sizes]


def test_simple_fpn_levels_match_vitdet_formula():
    torch.manual_seed(0)
    fpn = SimpleFPN(32, out_channels=16, num_outs=5).eval()
    for p in fpn.parameters():  # non-trivial norm affine parameters too
        nn.init.normal_(p, std=0.2)
    x = torch.randn(1, 32, 3, 4)
    outs = fpn((x, ))

    def norm(y, ln):
        return F.layer_norm(y.permute(0, 2, 3, 1), (y.shape[1], ),
                            ln.weight, ln.bias, ln.eps).permute(0, 3, 1, 2)

    def project(y, i):
        lat, out = fpn.lateral_convs[i], fpn.fpn_convs[i]
        assert lat.conv.bias is None and out.conv.bias is None
        y = norm(F.conv2d(y, lat.conv.weight), lat.norm)
        return norm(F.conv2d(y, out.conv.weight, padding=1), out.norm)

    d1, ln, _, d2 = fpn.fpn1
    up4 = F.conv_transpose2d(x, d1.weight, d1.bias, stride=2)
    up4 = F.conv_transpose2d(
        F.gelu(norm(up4, ln)), d2.weight, d2.bias, stride=2)
    up2 = F.conv_transpose2d(
        x, fpn.fpn2.weight, fpn.fpn2.bias, stride=2)
    refs = [
        project(up4, 0),
        project(up2, 1),
        project(x, 2),
        project(F.max_pool2d(x, 2), 3)
    ]
    refs.append(refs[-1][..., ::2, ::2])
    for out, ref in zip(outs, refs):
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)


def test_simple_fpn_outputs_contiguous_nchw_for_roi_align():
    # A ViT feature map (B, N, C) -> (B, C, H, W) is a channels-last view,
    # and so are LayerNorm2d outputs. mmcv's RoIAlign ignores strides, so
    # the neck must hand out contiguous maps or Mask R-CNN silently pools
    # scrambled features.
    tokens = torch.randn(2, 6 * 5, 32)
    x = tokens.transpose(1, 2).reshape(2, 32, 6, 5)
    assert not x.is_contiguous()
    outs = SimpleFPN(32, out_channels=8, num_outs=5)((x, ))
    assert all(o.is_contiguous() for o in outs)


def test_simple_fpn_options():
    # custom intermediate channels, no norm (convs get a bias), activation
    fpn = SimpleFPN(
        32,
        in_channels=[4, 12, 32, 32],
        out_channels=8,
        num_outs=4,
        norm_cfg=None,
        act_cfg=dict(type='ReLU'))
    assert fpn.fpn1[0].out_channels == 12 and fpn.fpn1[3].out_channels == 4
    assert fpn.fpn2.out_channels == 12
    assert isinstance(fpn.fpn1[1], nn.Identity)
    assert fpn.lateral_convs[0].conv.in_channels == 4
    assert fpn.lateral_convs[0].conv.bias is not None
    assert not fpn.lateral_convs[0].with_norm
    outs = fpn((torch.randn(1, 32, 2, 2), ))
    assert all((o >= 0).all() for o in outs)

    # default norm is LayerNorm2d; use_in_index picks the backbone output
    fpn = SimpleFPN(32, out_channels=8, num_outs=4, use_in_index=0).eval()
    assert isinstance(fpn.lateral_convs[1].norm, LayerNorm2d)
    assert isinstance(fpn.fpn1[1], LayerNorm2d)
    a, b = torch.randn(1, 32, 2, 2), torch.randn(1, 32, 2, 2)
    for out, ref in zip(fpn((a, b)), fpn((a, ))):
        torch.testing.assert_close(out, ref)
    assert not torch.allclose(fpn((a, b))[2], fpn((b, ))[2])


def test_simple_fpn_builds_from_det_and_seg_registries():
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    cfg = dict(type='mmvitplug.SimpleFPN', backbone_channel=16,
               out_channels=8)
    for registry, scope in ((DET_MODELS, 'mmdet'), (SEG_MODELS, 'mmseg')):
        with DefaultScope.overwrite_default_scope(scope):
            fpn = registry.build(copy.deepcopy(cfg))
        assert isinstance(fpn, SimpleFPN)
        assert isinstance(fpn.lateral_convs[0].norm, LayerNorm2d)


@pytest.mark.parametrize('kwargs, match', [
    (dict(backbone_channel=0), 'backbone_channel'),
    (dict(in_channels=[8, 16, 32]), 'one entry per pyramid level'),
    (dict(in_channels=[8, 16, 32, 16]), r'in_channels\[3\]'),
    (dict(in_channels=[8, 0, 32, 32]), 'positive ints'),
    (dict(out_channels=-1), 'out_channels'),
    (dict(num_outs=3), 'num_outs'),
    (dict(use_in_index='last'), 'use_in_index'),
])
def test_simple_fpn_bad_args(kwargs, match):
    args = dict(backbone_channel=32)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SimpleFPN(**args)


def test_simple_fpn_bad_inputs():
    fpn = SimpleFPN(32, use_in_index=2)
    with pytest.raises(IndexError, match='use_in_index=2'):
        fpn((torch.randn(1, 32, 2, 2), ))
    fpn = SimpleFPN(32)
    with pytest.raises(ValueError, match='backbone_channel=32'):
        fpn((torch.randn(1, 16, 2, 2), ))
    with pytest.raises(ValueError, match='featmap'):
        fpn((torch.randn(1, 32), ))
    with pytest.raises(TypeError, match='tuple of backbone outputs'):
        fpn(torch.randn(1, 32, 2, 2))


# ------------------------------------------------------------- layer decay
@pytest.fixture(scope='module')
def detector():
    torch.manual_seed(0)
    model = build_detector(tiny_mask_rcnn())
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def segmentor():
    torch.manual_seed(0)
    model = build_segmentor(tiny_encoder_decoder())
    model.init_weights()
    return model


def check_groups(model, optim_wrapper, rate=0.5, lr=0.1, wd=0.01):
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grouped = [p for g in optim_wrapper.optimizer.param_groups
               for p in g['params']]
    # every trainable parameter in exactly one group
    assert len(grouped) == len({id(p) for p in grouped}) == len(params)
    assert {id(p) for p in grouped} == {id(p) for _, p in params}
    by_param = groups_by_param(optim_wrapper)
    depths = set()
    for name, param in params:
        group = by_param[id(param)]
        depth = expected_depth(name)
        depths.add(depth)
        assert group['layer_id'] == depth, name
        assert group['lr'] == pytest.approx(lr * rate**(MAX_DEPTH - depth))
        assert group['lr_scale'] == pytest.approx(rate**(MAX_DEPTH - depth))
        want_wd = 0. if is_no_decay(name, param, model) else wd
        assert group['weight_decay'] == want_wd, name
    assert depths == set(range(MAX_DEPTH + 1))
    # ordered from the top depth down: the first group has the base lr
    first = optim_wrapper.optimizer.param_groups[0]
    assert first['lr'] == lr and first['weight_decay'] == wd


def test_layer_decay_in_mask_rcnn(detector):
    model = copy.deepcopy(detector)
    with captured_log() as log:
        optim_wrapper = build_optimizer(model)
    check_groups(model, optim_wrapper)
    text = log.getvalue()
    assert 'layer_decay_rate=0.5' in text
    assert 'layer_0_no_decay' in text and 'layer_4 ' in text
    assert 'paramwise_options' not in text  # per-parameter lines dropped

    # a real step: each parameter moves by its group's lr (SGD, momentum 0)
    backward_finite(model, det_loss(model))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    optim_wrapper.step()
    by_param = groups_by_param(optim_wrapper)
    for name, param in model.named_parameters():
        group = by_param[id(param)]
        expected = before[name] - group['lr'] * (
            grads[name] + group['weight_decay'] * before[name])
        torch.testing.assert_close(param.detach(), expected, msg=name)


def test_layer_decay_in_encoder_decoder(segmentor):
    model = copy.deepcopy(segmentor)
    optim_wrapper = build_optimizer(
        model,
        optimizer=dict(type='AdamW', lr=0.1, weight_decay=0.01))
    check_groups(model, optim_wrapper)
    backward_finite(model, seg_loss(model))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim_wrapper.step()
    # first AdamW step moves every parameter with a gradient by ~lr
    by_param = groups_by_param(optim_wrapper)
    name = 'backbone.blocks.0.attn.qkv.weight'
    param = dict(model.named_parameters())[name]
    step = (before[name] - param.detach()).abs().max()
    assert by_param[id(param)]['lr'] == pytest.approx(0.1 * 0.5**3)
    assert step == pytest.approx(0.1 * 0.5**3, rel=0.05)


def test_layer_decay_in_classifier():
    model = build_classifier()
    optim_wrapper = build_optimizer(model)
    check_groups(model, optim_wrapper)


def test_layer_decay_paramwise_options(detector):
    model = copy.deepcopy(detector)
    optim_wrapper = build_optimizer(
        model,
        custom_keys={
            'pos_embed': dict(decay_mult=1.),
            'rpn_head': dict(lr_mult=0.1),
        },
        flat_decay_mult=0.5)
    by_param = groups_by_param(optim_wrapper)
    named = dict(model.named_parameters())
    # user keys merge over the defaults: pos_embed decays, cls_token not
    assert by_param[id(named['backbone.pos_embed'])]['weight_decay'] == 0.01
    assert by_param[id(named['backbone.cls_token'])]['weight_decay'] == 0.
    # lr_mult multiplies the layer scale (1.0 outside the backbone)
    rpn = by_param[id(named['rpn_head.rpn_cls.weight'])]
    assert rpn['lr'] == pytest.approx(0.01)
    assert 'lr_mult' not in rpn and 'decay_mult' not in rpn
    # norm_decay_mult (default 0) wins over flat_decay_mult for norms
    assert by_param[id(named['backbone.norm.weight'])]['weight_decay'] == 0.
    bias = by_param[id(named['backbone.blocks.1.mlp.fc1.bias'])]
    assert bias['weight_decay'] == pytest.approx(0.005)
    assert bias['lr'] == pytest.approx(0.1 * 0.5**2)

    # frozen parameters are left out, the rest still grouped
    model = copy.deepcopy(detector)
    model.backbone.patch_embed.requires_grad_(False)
    optim_wrapper = build_optimizer(model)
    check_groups(model, optim_wrapper)


def test_layer_decay_without_weight_decay(detector):
    optim_wrapper = build_optimizer(
        copy.deepcopy(detector), optimizer=dict(type='SGD', lr=0.1))
    for group in optim_wrapper.optimizer.param_groups:
        assert group['weight_decay'] == 0  # SGD default, no rule applied
        assert not group['group_name'].endswith('no_decay')


def test_layer_decay_errors():
    class Plain(nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = nn.Linear(2, 2)
            self.head = nn.Linear(2, 2)

    with pytest.raises(TypeError, match='get_layer_depth'):
        build_optimizer(Plain())
    with pytest.raises(TypeError, match='has no backbone'):
        build_optimizer(nn.Linear(2, 2))
    # mmdet-style keys are not silently ignored
    with pytest.raises(ValueError, match=r"\['decay_rate', 'num_layers'\]"):
        build_optimizer(Plain(), decay_rate=0.7, num_layers=12)
    for rate in (0., 1.5, True):
        with pytest.raises(ValueError, match='layer_decay_rate'):
            build_optimizer(Plain(), layer_decay_rate=rate)
    with pytest.raises(ValueError, match='optimizer.lr'):
        LayerDecayOptimWrapperConstructor(
            dict(optimizer=dict(type='Adam')), dict(layer_decay_rate=0.5))


def test_layer_decay_registered_and_built_from_config(detector):
    from mmengine.optim import build_optim_wrapper
    cfg = dict(
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1),
        constructor='mmvitplug.LayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.5))
    model = copy.deepcopy(detector)
    optim_wrapper = build_optim_wrapper(model, cfg)
    check_groups(model, optim_wrapper, lr=1e-3, wd=0.1)
    lrs = sorted({g['lr'] for g in optim_wrapper.optimizer.param_groups})
    assert lrs == pytest.approx([1e-3 * 0.5**k for k in range(4, -1, -1)])


# ------------------------------------------------------------- pretrained
def test_pretrained_classifier_checkpoint_loads_into_detector(tmp_path):
    torch.manual_seed(0)
    classifier = build_classifier()
    classifier.init_weights()
    with torch.no_grad():
        for p in classifier.parameters():
            p.normal_()  # far from any initialisation
    state_dict = classifier.state_dict()
    path = tmp_path / 'cls.pth'
    torch.save(dict(state_dict=state_dict, meta=dict(epoch=1)), path)

    torch.manual_seed(1)
    model = build_detector(
        tiny_mask_rcnn(
            backbone_init=dict(
                type='Pretrained', checkpoint=str(path),
                prefix='backbone.')))
    with captured_log() as log:
        model.init_weights()  # what the Runner does
    backbone_sd = model.backbone.state_dict()
    assert len(backbone_sd) == sum(k.startswith('backbone.')
                                   for k in state_dict)
    for key, value in backbone_sd.items():
        torch.testing.assert_close(
            value, state_dict['backbone.' + key], rtol=0, atol=0, msg=key)
    n = len(backbone_sd)
    assert f'Loaded {n}/{n} tensors of DeiT from {path}' in log.getvalue()
    # the rest of the detector got its own init (RPNHead: normal, std 0.01)
    assert model.rpn_head.rpn_cls.weight.std() < 0.02
