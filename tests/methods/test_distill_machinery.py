# Copyright (c) mmvitplug contributors.
"""The general distillation machinery: hooks that live only while recording,
attention-relation recorders, lists of sources and chains of connectors,
the reshaping connectors, self-distillation and the segmentation
distiller."""
import copy
import gc
import weakref

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mmvitplug.models.distill import (ConfigurableDistiller,
                                      MapToTokensConnector, ResizeConnector,
                                      TokensToMapConnector, build_recorder)
from mmvitplug.models.losses import ChannelWiseDivergenceLoss, HCLLoss

NUM_CLASSES = 4
VIT = dict(
    type='mmvitplug.DeiT', img_size=32, patch_size=8,
    arch=dict(embed_dims=16, num_layers=2, num_heads=2,
              feedforward_channels=32))


def vit_classifier(**kwargs):
    return dict(
        backbone=copy.deepcopy(VIT),
        neck=None,
        head=dict(type='VisionTransformerClsHead', num_classes=NUM_CLASSES,
                  in_channels=16),
        data_preprocessor=dict(
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3),
        **kwargs)


def cls_batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[
            torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
            for _ in range(n)
        ],
        data_samples=[
            DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)
        ])


def all_hooks(*models):
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks)
        for model in models for m in model.modules())


# ------------------------------------------------------------------- hooks
def self_distiller():
    """Self-distillation of a ViT: its last block's relations taught to its
    first block (a toy use; the hooks are what is tested)."""
    return dict(
        recorders=dict(
            logits=dict(source='head'),
            early=dict(type='AttentionRelations',
                       source='backbone.blocks.0.attn', index='qk'),
            late=dict(type='AttentionRelations',
                      source='backbone.blocks.1.attn', index='qk')),
        losses=dict(
            loss_cls=dict(type='CrossEntropyLoss'),
            loss_rel=dict(type='mmvitplug.RelationKLLoss')),
        loss_inputs=dict(
            loss_cls=dict(cls_score='logits', label='targets'),
            loss_rel=dict(preds='early', target='late')))


def test_hooks_exist_only_while_recording():
    model = MODELS.build(
        dict(type='mmvitplug.DistillationClassifier',
             distiller=self_distiller(), **vit_classifier()))
    assert model.teacher is None
    assert all_hooks(model) == 0  # prepared, nothing hooked
    seen = []
    owner = weakref.ref(model)

    class Spy(nn.Module):  # counts the hooks during the forward

        def forward(self, **kwargs):
            seen.append(all_hooks(owner()))
            return kwargs['preds'].sum() * 0

    model.distiller.losses['loss_rel'] = Spy()
    data = model.data_preprocessor(cls_batch(), training=True)
    model.loss(**data)
    assert seen == [3]  # the three recorders, while computing the losses
    assert all_hooks(model) == 0
    # an error in the forward removes them too
    with pytest.raises(RuntimeError, match='boom'):
        with model.distiller.recording():
            assert all_hooks(model) == 3
            raise RuntimeError('boom')
    assert all_hooks(model) == 0
    assert all(not r.calls for r in model.distiller.recorders.values())
    # inference, copies and deletion carry none
    model(data['inputs'], mode='predict')
    assert all_hooks(model, copy.deepcopy(model)) == 0
    backbone = model.backbone
    del model
    gc.collect()
    assert all_hooks(backbone) == 0


def test_recorder_holds_its_module_weakly():
    recorder = build_recorder(dict(source='fc'))
    module = nn.Linear(2, 2)
    recorder.bind(module)
    assert recorder.module is module
    assert copy.deepcopy(recorder).module is module  # not copied
    del module
    gc.collect()
    with pytest.raises(RuntimeError, match='not bound to a live module'):
        recorder.start()


# ------------------------------------------------------ attention relations
def test_attention_relations_match_a_manual_forward():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='mmvitplug.DistillationClassifier',
             distiller=self_distiller(), **vit_classifier()))
    recorder = build_recorder(
        dict(type='AttentionRelations', source='backbone.blocks.1.attn'))
    block_input = build_recorder(
        dict(type='ModuleInputs', source='backbone.blocks.1', index=0))
    block = model.backbone.blocks[1]
    recorder.bind(block.attn)
    block_input.bind(block)
    x = torch.randn(2, 3, 32, 32)
    recorder.start()
    block_input.start()
    with torch.no_grad():
        model.backbone(x)
    relations, tokens = recorder.data, block_input.data
    recorder.stop()
    block_input.stop()
    # by hand: the normalised block input, its q, k, v per head
    normed = block.norm1(tokens)
    w, b = block.attn.qkv.weight, block.attn.qkv.bias
    q, k, v = (normed @ w.T + b).split(16, dim=-1)
    for h in range(2):
        cols = slice(8 * h, 8 * (h + 1))
        qh, kh, vh = q[..., cols], k[..., cols], v[..., cols]
        torch.testing.assert_close(relations['qk'][:, h],
                                   qh @ kh.transpose(1, 2) / 8**0.5)
        torch.testing.assert_close(relations['vv'][:, h],
                                   vh @ vh.transpose(1, 2) / 8**0.5)
    assert relations['qk'].shape == (2, 2, 17, 17)


def test_attention_relations_reach_mmpretrain_attention():
    """The MAE / ViT attention of mmpretrain (a TinyMIM teacher) too."""
    from mmpretrain.models.utils import MultiheadAttention
    attn = MultiheadAttention(embed_dims=12, num_heads=3)
    recorder = build_recorder(
        dict(type='AttentionRelations', source='attn', index='vv'))
    recorder.bind(attn)
    recorder.start()
    x = torch.randn(2, 5, 12)
    attn(x)
    v = attn.qkv(x)[..., 24:].reshape(2, 5, 3, 4).transpose(1, 2)
    torch.testing.assert_close(recorder.data,
                               v @ v.transpose(-2, -1) / 2)
    recorder.stop()


def test_attention_relations_errors():
    with pytest.raises(ValueError, match="choose from 'qk', 'vv'"):
        build_recorder(dict(type='AttentionRelations', source='a', index=0))
    recorder = build_recorder(dict(type='AttentionRelations', source='fc'))
    with pytest.raises(TypeError, match="fused qkv nn.Linear.*'fc' is a "
                       'Linear'):
        recorder.bind(nn.Linear(2, 2))


# --------------------------------------------- keys of a recorded dict
def test_losses_take_keys_of_one_recording():
    """Two losses fed the ``qk`` and ``vv`` keys of one relations recorder
    get the values of two single-relation recorders, and the attention's
    ``qkv`` runs once for the recording (not once per relation)."""
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='mmvitplug.DistillationClassifier',
             distiller=self_distiller(), **vit_classifier()))
    attn = model.backbone.blocks[1].attn
    relations = dict(type='AttentionRelations',
                     source='backbone.blocks.1.attn')
    calls = []
    attn.qkv.register_forward_hook(lambda *_: calls.append(1))

    def run(recorders, loss_inputs):
        distiller = ConfigurableDistiller(
            recorders=recorders,
            losses=dict(loss_a=dict(type='mmvitplug.RelationKLLoss'),
                        loss_b=dict(type='mmvitplug.RelationKLLoss')),
            loss_inputs=loss_inputs)
        distiller.prepare({'': model})
        # the losses see (preds, target) = (vv, qk) and (qk, vv)
        calls.clear()
        with distiller.recording():
            model.backbone(torch.randn(2, 3, 32, 32,
                                       generator=torch.Generator()
                                       .manual_seed(1)))
            return distiller.compute_losses(torch.zeros(2)), len(calls)

    keyed, keyed_calls = run(
        dict(rel=relations),
        dict(loss_a=dict(preds=dict(recorder='rel', key='vv'),
                         target=dict(recorder='rel', key='qk')),
             loss_b=dict(preds=dict(recorder='rel', key='qk'),
                         target=dict(recorder='rel', key='vv'))))
    indexed, indexed_calls = run(
        dict(qk=dict(relations, index='qk'), vv=dict(relations, index='vv')),
        dict(loss_a=dict(preds='vv', target='qk'),
             loss_b=dict(preds='qk', target='vv')))
    assert keyed.keys() == indexed.keys() == {'loss_a', 'loss_b'}
    for name in keyed:
        torch.testing.assert_close(keyed[name], indexed[name])
    assert keyed['loss_a'] != keyed['loss_b']
    # the block's own projection + one per recorder
    assert (keyed_calls, indexed_calls) == (2, 3)


def test_bad_keys():
    toy = Toy(4)

    def distiller(source, **recorder):
        return ConfigurableDistiller(
            recorders=dict(s=dict(source='a', **recorder)),
            losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
            loss_inputs=dict(loss_hcl=dict(preds=source, target='s')))

    with pytest.raises(ValueError, match='the batch targets have no keys'):
        distiller(dict(recorder='targets', key='qk'))
    with pytest.raises(TypeError, match=r'loss_hcl.preds: key must be a str '
                       r'or an int, got 1.5'):
        distiller(dict(recorder='s', key=1.5))
    with pytest.raises(ValueError, match='keys recorder and.*key and '
                       r"connector, got \['keys', 'recorder'\]"):
        distiller(dict(recorder='s', keys='qk'))
    # a key of a recorder that records a tensor: named when it is read
    keyed = distiller(dict(recorder='s', key='qk'))
    keyed.prepare({'': toy})
    with keyed.recording():
        toy(torch.randn(1, 3, 8, 8))
        with pytest.raises(IndexError, match="recorder 's' recorded a "
                           "Tensor, which has no entry 'qk'"):
            keyed.compute_losses(torch.zeros(1))
    relations = ConfigurableDistiller(
        recorders=dict(r=dict(type='AttentionRelations', source='attn')),
        losses=dict(loss=dict(type='mmvitplug.RelationKLLoss')),
        loss_inputs=dict(loss=dict(preds=dict(recorder='r', key='kk'),
                                   target=dict(recorder='r', key='qk'))))
    from mmpretrain.models.utils import MultiheadAttention
    holder = nn.Module()
    holder.attn = MultiheadAttention(embed_dims=8, num_heads=2)
    relations.prepare({'': holder})
    with relations.recording():
        holder.attn(torch.randn(1, 3, 8))
        with pytest.raises(IndexError, match=r"recorder 'r' recorded a dict "
                           r"with the keys \['qk', 'vv'\], which has no "
                           "entry 'kk'"):
            relations.compute_losses(torch.zeros(1))


def test_connectors_combine_a_list_of_recorders():
    """``dict(recorder=[a, b], connector=c)`` gives ``c([a, b])``: the
    recorded values, in order, as one list."""
    torch.manual_seed(0)
    toy = Toy(4)
    seen = []

    class Weigh(nn.Module):  # a combining connector: 2 a + b (upsampled)

        def forward(self, feats):
            seen.append(len(feats))
            a, b = feats
            return 2 * a + F.interpolate(b, size=a.shape[-2:])

    distiller = ConfigurableDistiller(
        recorders=dict(a=dict(source='a'), b=dict(source='b')),
        connectors=dict(weigh=Weigh()),
        losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
        loss_inputs=dict(loss_hcl=dict(
            preds=dict(recorder=['a', 'b'], connector='weigh'),
            target='a')))
    distiller.prepare({'': toy})
    x = torch.randn(2, 3, 8, 8)
    with distiller.recording():
        toy(x)
        loss = distiller.compute_losses(torch.zeros(2))['loss_hcl']
    a = toy.a(x)
    expected = HCLLoss()(2 * a + F.interpolate(toy.b(a), size=(8, 8)), a)
    torch.testing.assert_close(loss, expected)
    assert seen == [2]

    def build(source):
        return ConfigurableDistiller(
            recorders=dict(a=dict(source='a'), b=dict(source='b')),
            connectors=dict(weigh=Weigh()),
            losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
            loss_inputs=dict(loss_hcl=dict(preds=source, target='a')))

    with pytest.raises(ValueError, match=r"a list of recorders "
                       r"\(\['a', 'b'\]\) is given as one list to "
                       'connectors'):
        build(dict(recorder=['a', 'b']))
    with pytest.raises(ValueError, match="loss_hcl.preds: unknown recorder "
                       "'c'"):
        build(dict(recorder=['a', 'c'], connector='weigh'))
    with pytest.raises(ValueError, match="'targets' cannot be combined"):
        build(dict(recorder=['a', 'targets'], connector='weigh'))


# ------------------------------------------- lists of sources, connectors
class Toy(nn.Module):

    def __init__(self, width):
        super().__init__()
        self.a = nn.Conv2d(3, width, 3, padding=1)
        self.b = nn.Conv2d(width, width, 3, stride=2, padding=1)

    def forward(self, x):
        return self.b(self.a(x))


def test_list_sources_and_connector_chains():
    torch.manual_seed(0)
    student, teacher = Toy(4), Toy(8)
    distiller = ConfigurableDistiller(
        recorders=dict(
            sa=dict(source='a'), sb=dict(source='b'),
            ta=dict(source='teacher.a'), tb=dict(source='teacher.b')),
        connectors=dict(
            wide=dict(type='mmvitplug.ConvConnector', in_channels=4,
                      out_channels=8),
            up=dict(type='mmvitplug.ResizeConnector', size=8)),
        losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
        loss_inputs=dict(
            loss_hcl=dict(
                preds=[dict(recorder='sa', connector='wide'),
                       dict(recorder='sb', connector=['wide', 'up'])],
                target=['ta', dict(recorder='tb', connector='up')])))
    distiller.prepare({'': student, 'teacher': teacher})
    x = torch.randn(2, 3, 8, 8)
    with distiller.recording():
        student(x)
        teacher(x)
        loss = distiller.compute_losses(torch.zeros(2))['loss_hcl']
    wide = distiller.connectors['wide']
    up = lambda t: F.interpolate(  # noqa: E731
        t, size=8, mode='bilinear', align_corners=False)
    sa, ta = student.a(x), teacher.a(x)
    expected = HCLLoss()([wide(sa), up(wide(student.b(sa)))],
                         [ta, up(teacher.b(ta))])
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match=r'loss_hcl.preds\[1\]: unknown '
                       "connector 'down'"):
        ConfigurableDistiller(
            recorders=dict(s=dict(source='a')),
            losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
            loss_inputs=dict(loss_hcl=dict(
                preds=['s', dict(recorder='s', connector=['down'])],
                target='s')))
    with pytest.raises(ValueError, match='an empty list of sources'):
        ConfigurableDistiller(
            recorders=dict(s=dict(source='a')),
            losses=dict(loss_hcl=dict(type='mmvitplug.HCLLoss')),
            loss_inputs=dict(loss_hcl=dict(preds=[], target='s')))


def test_reshaping_connectors():
    tokens = torch.arange(2 * 7 * 3.).reshape(2, 7, 3)  # 1 extra, 2x3 grid
    maps = TokensToMapConnector(1, grid_size=(2, 3))(tokens)
    assert maps.shape == (2, 3, 2, 3)
    for n in range(2):
        for i in range(2):
            for j in range(3):  # row by row after the extra token
                assert torch.equal(maps[n, :, i, j], tokens[n, 1 + 3 * i + j])
    assert torch.equal(MapToTokensConnector()(maps), tokens[:, 1:])
    square = TokensToMapConnector(num_extra_tokens=0)(tokens[:, :4])
    assert square.shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match='do not form a square grid'):
        TokensToMapConnector()(tokens[:, :4])
    with pytest.raises(ValueError, match=r'do not fill the grid \(3, 3\)'):
        TokensToMapConnector(grid_size=3)(tokens)
    with pytest.raises(ValueError, match=r'tokens \(N, L, C\)'):
        TokensToMapConnector()(maps)
    with pytest.raises(ValueError, match=r'feature maps \(N, C, H, W\)'):
        MapToTokensConnector()(tokens)
    with pytest.raises(ValueError, match='num_extra_tokens must be'):
        TokensToMapConnector(-1)

    x = torch.randn(2, 3, 4, 4)
    resize = ResizeConnector((8, 6))
    torch.testing.assert_close(
        resize(x), F.interpolate(x, size=(8, 6), mode='bilinear'))
    assert ResizeConnector(4, mode='nearest')(x) is x  # already that size
    torch.testing.assert_close(
        ResizeConnector(2, mode='area')(x), F.avg_pool2d(x, 2))
    with pytest.raises(ValueError, match="choose from 'bilinear'"):
        ResizeConnector(4, mode='linear')
    with pytest.raises(ValueError, match='positive int or'):
        ResizeConnector((4, 0))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\)'):
        resize(tokens)


# -------------------------------------------------------- self-distillation
def test_self_distillation_trains_without_a_teacher():
    cfg = dict(type='mmvitplug.DistillationClassifier',
               distiller=self_distiller(), **vit_classifier())
    model = MODELS.build(cfg)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    losses = model.train_step(cls_batch(), optim)
    assert set(losses) == {'loss', 'loss_cls', 'loss_rel'}
    assert losses['loss_rel'] > 0
    with pytest.raises(ValueError, match='without model.teacher'):
        MODELS.build(dict(cfg, teacher_ckpt='x.pth'))
    bad = self_distiller()
    bad['recorders']['late'] = dict(source='teacher.head')
    with pytest.raises(ValueError, match="No module 'teacher.head'"):
        MODELS.build(dict(cfg, distiller=bad))


# ------------------------------------------------------------ segmentation
def segformer(width):
    """A SegFormer (mmseg's MiT + SegformerHead), 4 stages of one block."""
    return dict(
        type='mmseg.EncoderDecoder',
        backbone=dict(
            type='MixVisionTransformer', embed_dims=width,
            num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8]),
        decode_head=dict(
            type='SegformerHead', in_channels=[width * m for m in (1, 2, 5,
                                                                   8)],
            in_index=[0, 1, 2, 3], channels=16, num_classes=NUM_CLASSES,
            dropout_ratio=0.,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor', mean=[127.5] * 3, std=[64.] * 3,
            size=(32, 32)),
        test_cfg=dict(mode='whole'))


def seg_batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32),
                                             ori_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, NUM_CLASSES, (1, 32, 32), generator=g))
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture
def seg_teacher_ckpt(tmp_path):
    torch.manual_seed(0)
    teacher = MODELS.build(segformer(16))
    teacher.init_weights()
    path = tmp_path / 'segformer_teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, str(path))
    return path


def seg_distiller():
    """TransKD-like: HCL on the first two stages through 1x1 connectors,
    CWD on the logits."""
    return dict(
        recorders=dict(
            s0=dict(source='backbone', index=0),
            s1=dict(source='backbone', index=1),
            t0=dict(source='teacher.backbone', index=0),
            t1=dict(source='teacher.backbone', index=1),
            logits=dict(source='decode_head.conv_seg'),
            teacher_logits=dict(source='teacher.decode_head.conv_seg')),
        connectors=dict(
            c0=dict(type='mmvitplug.ConvConnector', in_channels=8,
                    out_channels=16),
            c1=dict(type='mmvitplug.ConvConnector', in_channels=16,
                    out_channels=32)),
        losses=dict(
            loss_hcl=dict(type='mmvitplug.HCLLoss'),
            loss_cwd=dict(type='mmvitplug.ChannelWiseDivergenceLoss',
                          tau=2.0)),
        loss_inputs=dict(
            loss_hcl=dict(
                preds=[dict(recorder='s0', connector='c0'),
                       dict(recorder='s1', connector='c1')],
                target=['t0', 't1']),
            loss_cwd=dict(preds='logits', target='teacher_logits')))


def build_segmentor(teacher_ckpt, distiller=None):
    torch.manual_seed(1)
    student = segformer(8)
    student.pop('type')
    model = MODELS.build(
        dict(type='mmvitplug.DistillationSegmentor',
             teacher=segformer(16), teacher_ckpt=str(teacher_ckpt),
             distiller=distiller or seg_distiller(), **student))
    model.init_weights()
    return model


def test_segmentor_adds_the_distiller_terms(seg_teacher_ckpt):
    model = build_segmentor(seg_teacher_ckpt)
    data = model.data_preprocessor(seg_batch(), training=True)
    model.train()
    losses = model.loss(**data)
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'loss_hcl',
                           'loss_cwd'}
    assert not model.teacher.training
    x = data['inputs']
    with torch.no_grad():
        s_feats = model.backbone(x)
        t_feats = model.teacher.backbone(x)
        s_logits = model.decode_head(s_feats)
        t_logits = model.teacher.decode_head(t_feats)
        # inference is the student's
        torch.testing.assert_close(model(x, mode='tensor'), s_logits)
    conn = model.distiller.connectors
    torch.testing.assert_close(
        losses['loss_hcl'],
        HCLLoss()([conn['c0'](s_feats[0]), conn['c1'](s_feats[1])],
                  [t_feats[0], t_feats[1]]))
    torch.testing.assert_close(
        losses['loss_cwd'], ChannelWiseDivergenceLoss(tau=2.)(s_logits,
                                                              t_logits))
    # training moves the student and the connectors, never the teacher
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    c0_before = conn['c0'].conv.weight.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(seg_batch(), optim)
    assert not torch.equal(conn['c0'].conv.weight, c0_before)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    # the checkpoint is a plain EncoderDecoder's plus the connectors
    plain = set(MODELS.build(segformer(8)).state_dict())
    assert set(model.state_dict()) - plain == {
        f'distiller.connectors.c{i}.conv.{p}'
        for i in (0, 1) for p in ('weight', 'bias')
    }


def test_segmentor_targets_and_clashes(seg_teacher_ckpt):
    seen = {}

    class Grab(nn.Module):

        def forward(self, logits, target):
            seen['target'] = target
            return logits.sum() * 0

    distiller = dict(
        recorders=dict(logits=dict(source='decode_head.conv_seg')),
        losses=dict(loss_grab=Grab()),
        loss_inputs=dict(loss_grab=dict(logits='logits', target='targets')))
    model = build_segmentor(seg_teacher_ckpt, distiller=distiller)
    data = model.data_preprocessor(seg_batch(), training=True)
    model.loss(**data)
    expected = torch.stack(
        [s.gt_sem_seg.data[0] for s in data['data_samples']])
    assert torch.equal(seen['target'], expected)
    distiller['losses'] = dict(loss_ce=Grab())
    distiller['loss_inputs'] = dict(loss_ce=dict(logits='logits',
                                                 target='targets'))
    model = build_segmentor(seg_teacher_ckpt, distiller=distiller)
    # not a clash: mmseg prefixes its terms with 'decode.'
    assert 'loss_ce' in model.loss(**data)

    class Clash(nn.Module):

        def forward(self, logits):
            return {'decode.loss_ce': logits.sum()}

    distiller['losses'] = dict(loss_x=Clash())
    distiller['loss_inputs'] = dict(loss_x=dict(logits='logits'))
    model = build_segmentor(seg_teacher_ckpt, distiller=distiller)
    with pytest.raises(ValueError, match=r"terms \['decode.loss_ce'\]"):
        model.loss(**data)
    # a decode head itself never runs as a module in mmseg
    distiller['recorders'] = dict(logits=dict(source='teacher.decode_head'))
    with pytest.raises(ValueError, match="'teacher.decode_head.conv_seg'"):
        build_segmentor(seg_teacher_ckpt, distiller=distiller)


# ------------------------------------------------------------------ views
def two_view_batch(n=4, seed=0, sizes=(32, 32)):
    g = torch.Generator().manual_seed(seed)
    views = [[
        torch.randint(0, 256, (3, s, s), generator=g, dtype=torch.uint8)
        for _ in range(n)
    ] for s in sizes]
    return dict(
        inputs=views,
        data_samples=[
            DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)
        ])


def seed_all(seed):
    """Mixup / CutMix draw from numpy and torch."""
    import numpy as np
    np.random.seed(seed)
    torch.manual_seed(seed)


@pytest.mark.parametrize('augment', [
    dict(type='Mixup', alpha=1.0),
    dict(type='CutMix', alpha=1.0),
])
def test_views_are_mixed_together(augment):
    """Every view of a sample is mixed with the same partner, ratio and
    box: a view shifted by a constant stays shifted by it after mixing."""
    pre = MODELS.build(
        dict(type='mmvitplug.MultiViewClsDataPreprocessor',
             num_classes=NUM_CLASSES, mean=[0.] * 3, std=[1.] * 3,
             batch_augments=dict(augments=[augment])))
    data = two_view_batch()
    data['inputs'][1] = [x // 2 + 7 for x in data['inputs'][0]]
    plain = pre(copy.deepcopy(data), training=False)
    first, second = plain['inputs']
    torch.testing.assert_close(second, torch.div(
        first, 2, rounding_mode='floor') + 7)
    assert all(s.gt_score.max() == 1 for s in plain['data_samples'])
    seed_all(3)
    mixed = pre(copy.deepcopy(data), training=True)
    a, b = mixed['inputs']
    assert not torch.equal(a, first)  # mixed
    # view 2 = view 1 // 2 + 7 before mixing, and mixing (a convex
    # combination of two samples per pixel) commutes with "+ 7": with the
    # same draws, b = mix(view 1 // 2) + 7
    seed_all(3)
    only = pre(dict(copy.deepcopy(data), inputs=[
        [torch.div(x, 2, rounding_mode='floor') for x in data['inputs'][0]],
        data['inputs'][0]]), training=True)
    torch.testing.assert_close(b, only['inputs'][0] + 7)
    torch.testing.assert_close(a, only['inputs'][1])
    # the labels are mixed once, as the images
    scores = torch.stack([s.gt_score for s in mixed['data_samples']])
    assert torch.allclose(scores.sum(1), torch.ones(4))
    assert (scores < 1).any()


def test_single_view_batches_are_plain():
    cfg = dict(num_classes=NUM_CLASSES, mean=[10.] * 3, std=[3.] * 3,
               batch_augments=dict(augments=[dict(type='Mixup', alpha=1.)]))
    multi = 'mmvitplug.MultiViewClsDataPreprocessor'
    ours = MODELS.build(dict(cfg, type=multi))
    theirs = MODELS.build(dict(cfg, type='ClsDataPreprocessor'))
    data = cls_batch()
    for training in (False, True):
        seed_all(0)
        a = ours(copy.deepcopy(data), training=training)
        seed_all(0)
        b = theirs(copy.deepcopy(data), training=training)
        torch.testing.assert_close(a['inputs'], b['inputs'])
    pre = MODELS.build(dict(cfg, type=multi))
    with pytest.raises(ValueError, match=r'sizes \[\(24, 24\), \(32, 32\)\]'):
        pre(two_view_batch(sizes=(32, 24)), training=True)


@pytest.fixture
def digits_teacher_ckpt(tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile('configs/_teachers/resnet18-w32_digits.py')
    cfg.teacher.head.num_classes = NUM_CLASSES
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.teacher)
    path = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict()}, str(path))
    return cfg.teacher, path


def test_teacher_sees_its_own_view(digits_teacher_ckpt):
    teacher, ckpt = digits_teacher_ckpt
    distiller = dict(
        recorders=dict(
            logits=dict(source='head'),
            student_in=dict(type='ModuleInputs', source='backbone',
                            index=0),
            teacher_in=dict(type='ModuleInputs', source='teacher.backbone',
                            index=0),
            teacher_logits=dict(source='teacher.head.fc')),
        losses=dict(
            loss_kd=dict(type='mmvitplug.KLDivergenceLoss'),
            loss_grab=Grab()),
        loss_inputs=dict(
            loss_kd=dict(preds='logits', target='teacher_logits'),
            loss_grab=dict(student='student_in', teacher='teacher_in')))
    cfg = vit_classifier(teacher=teacher, teacher_ckpt=str(ckpt),
                         distiller=distiller)
    cfg['data_preprocessor']['type'] = (
        'mmvitplug.MultiViewClsDataPreprocessor')
    model = MODELS.build(dict(type='mmvitplug.DistillationClassifier', **cfg))
    model.distiller.losses['loss_grab'].seen.clear()
    data = model.data_preprocessor(two_view_batch(), training=True)
    model.loss(**data)
    seen = model.distiller.losses['loss_grab'].seen
    assert torch.equal(seen['student'], data['inputs'][0])
    assert torch.equal(seen['teacher'], data['inputs'][1])
    # one batch: both see it
    single = model.data_preprocessor(cls_batch(), training=True)
    model.loss(**single)
    assert torch.equal(seen['student'], seen['teacher'])
    with pytest.raises(ValueError, match='got 3 views'):
        model.loss([single['inputs']] * 3, single['data_samples'])


class Grab(nn.Module):
    """Keeps its inputs; contributes nothing."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def forward(self, student, teacher):
        self.seen.update(student=student, teacher=teacher)
        return student.sum() * 0


# ---------------------------------------------------------- mutual learning
def mutual(**kwargs):
    """A tiny ViT and a tiny CNN learning from the labels and from each
    other (deep mutual learning: KL both ways)."""
    cfg = dict(
        type='mmvitplug.MutualClassifier',
        students=dict(
            vit=dict(
                backbone=copy.deepcopy(VIT),
                head=dict(type='VisionTransformerClsHead',
                          num_classes=NUM_CLASSES, in_channels=16)),
            cnn=dict(
                backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                              base_channels=8),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                          in_channels=64))),
        distiller=dict(
            recorders=dict(
                vit=dict(source='students.vit.head.layers.head'),
                cnn=dict(source='students.cnn.head.fc'),
                vit_in=dict(type='ModuleInputs',
                            source='students.vit.backbone', index=0),
                cnn_in=dict(type='ModuleInputs',
                            source='students.cnn.backbone', index=0)),
            losses=dict(
                loss_ce_vit=dict(type='CrossEntropyLoss'),
                loss_ce_cnn=dict(type='CrossEntropyLoss'),
                loss_kd_vit=dict(type='mmvitplug.KLDivergenceLoss', tau=4.),
                loss_kd_cnn=dict(type='mmvitplug.KLDivergenceLoss', tau=4.),
                loss_grab=Grab()),
            loss_inputs=dict(
                loss_ce_vit=dict(cls_score='vit', label='targets'),
                loss_ce_cnn=dict(cls_score='cnn', label='targets'),
                loss_kd_vit=dict(preds='vit', target='cnn'),
                loss_kd_cnn=dict(preds='cnn', target='vit'),
                loss_grab=dict(student='vit_in', teacher='cnn_in'))),
        data_preprocessor=dict(
            type='mmvitplug.MultiViewClsDataPreprocessor',
            num_classes=NUM_CLASSES, mean=[127.5] * 3, std=[64.] * 3))
    cfg.update(kwargs)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_mutual_students_train_each_other():
    model = mutual()
    data = model.data_preprocessor(cls_batch(), training=True)
    losses = model.loss(**data)
    x = data['inputs']
    with torch.no_grad():
        vit = model.students.vit(x, mode='tensor')
        cnn = model.students.cnn(x, mode='tensor')
    labels = torch.arange(4) % NUM_CLASSES
    torch.testing.assert_close(losses['loss_ce_vit'],
                               F.cross_entropy(vit, labels))
    torch.testing.assert_close(losses['loss_ce_cnn'],
                               F.cross_entropy(cnn, labels))
    kl = 16 * F.kl_div(F.log_softmax(cnn / 4, 1), F.log_softmax(vit / 4, 1),
                       reduction='batchmean', log_target=True)
    torch.testing.assert_close(losses['loss_kd_cnn'], kl)
    # the KD term of one student trains that student only
    model.zero_grad()
    losses['loss_kd_cnn'].backward()
    assert all(p.grad is None for p in model.students.vit.parameters())
    assert model.students.cnn.head.fc.weight.grad.abs().sum() > 0
    # both students train and are saved
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(cls_batch(), optim)
    for name in ('students.vit.backbone.pos_embed',
                 'students.cnn.head.fc.weight'):
        assert not torch.equal(model.state_dict()[name], before[name])
    assert all_hooks(model) == 0


def test_mutual_views_and_prediction():
    model = mutual()
    data = model.data_preprocessor(two_view_batch(), training=True)
    model.loss(**data)
    seen = model.distiller.losses['loss_grab'].seen
    assert torch.equal(seen['student'], data['inputs'][0])  # vit: view 1
    assert torch.equal(seen['teacher'], data['inputs'][1])  # cnn: view 2
    with pytest.raises(ValueError, match='got 3 views of each image for 2 '
                       'students'):
        model.loss(data['inputs'] + data['inputs'][:1],
                   data['data_samples'])
    model.eval()
    x = data['inputs'][0]
    with torch.no_grad():
        logits = model(x, mode='tensor')
        assert set(logits) == {'vit', 'cnn'}
        both = torch.stack([logits['vit'], logits['cnn']])
        scores = torch.stack(
            [s.pred_score for s in model(x, mode='predict')])
        torch.testing.assert_close(scores, both.mean(0).softmax(1))
        probs = mutual(ensemble='probs').eval()
        probs.load_state_dict(model.state_dict())
        scores = torch.stack(
            [s.pred_score for s in probs(x, mode='predict')])
        torch.testing.assert_close(scores, both.softmax(2).mean(0))
        vit = mutual(predict_with='vit').eval()
        vit.load_state_dict(model.state_dict())
        scores = torch.stack([s.pred_score for s in vit(x, mode='predict')])
        torch.testing.assert_close(scores, logits['vit'].softmax(1))


@pytest.mark.parametrize('kwargs, match', [
    (dict(predict_with='vti'), "choose from 'ensemble', 'vit', 'cnn'"),
    (dict(ensemble='max'), "choose from 'logits', 'probs'"),
    (dict(students=dict(vit=dict())),
     r"at least two classifiers, got \['vit'\]"),
    (dict(students=[dict()] * 2), 'at least two classifiers, got list'),
])
def test_mutual_rejects_bad_setups(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mutual(**kwargs)


def test_mutual_rejects_a_head_loss():
    cfg = dict(
        type='mmvitplug.MutualClassifier',
        students=dict(
            a=dict(backbone=copy.deepcopy(VIT),
                   head=dict(type='VisionTransformerClsHead', num_classes=4,
                             in_channels=16, loss=dict(
                                 type='CrossEntropyLoss'))),
            b=dict(backbone=copy.deepcopy(VIT),
                   head=dict(type='VisionTransformerClsHead', num_classes=4,
                             in_channels=16))),
        distiller=dict(
            recorders=dict(a=dict(source='students.a.head')),
            losses=dict(loss_a=dict(type='CrossEntropyLoss')),
            loss_inputs=dict(loss_a=dict(cls_score='a', label='targets'))))
    with pytest.raises(ValueError, match='students.a.head.loss is not used'):
        MODELS.build(cfg)


def test_teacher_input_size(digits_teacher_ckpt):
    """Locality guidance: the teacher sees the batch resized bilinearly."""
    teacher, ckpt = digits_teacher_ckpt
    distiller = dict(
        recorders=dict(
            student_in=dict(type='ModuleInputs', source='backbone', index=0),
            teacher_in=dict(type='ModuleInputs', source='teacher.backbone',
                            index=0)),
        losses=dict(loss_grab=Grab()),
        loss_inputs=dict(
            loss_grab=dict(student='student_in', teacher='teacher_in')))
    cfg = vit_classifier(teacher=teacher, teacher_ckpt=str(ckpt),
                         distiller=distiller, teacher_input_size=16)
    model = MODELS.build(dict(type='mmvitplug.DistillationClassifier', **cfg))
    data = model.data_preprocessor(cls_batch(), training=True)
    model.loss(**data)
    seen = model.distiller.losses['loss_grab'].seen
    assert seen['student'].shape[2:] == (32, 32)
    torch.testing.assert_close(
        seen['teacher'], F.interpolate(data['inputs'], size=(16, 16),
                                       mode='bilinear', align_corners=False))
    # (H, W) works; the size needs a teacher and positive sides
    cfg['teacher_input_size'] = (16, 24)
    model = MODELS.build(dict(type='mmvitplug.DistillationClassifier', **cfg))
    model.loss(**data)
    assert seen['teacher'].shape[2:] == (16, 24)
    for bad in (0, (16, ), 'x'):
        cfg['teacher_input_size'] = bad
        with pytest.raises(ValueError, match='teacher_input_size must be'):
            MODELS.build(dict(type='mmvitplug.DistillationClassifier', **cfg))
    with pytest.raises(ValueError, match='without a teacher'):
        MODELS.build(dict(type='mmvitplug.DistillationClassifier',
                          distiller=self_distiller(), teacher_input_size=16,
                          **vit_classifier()))


def test_build_distiller():
    """Every algorithm builds its distiller in one place: a config (type
    optional) or a distiller; anything else is refused by name."""
    from mmvitplug.models.distill import build_distiller
    cfg = self_distiller()
    built = build_distiller(copy.deepcopy(cfg))
    assert isinstance(built, ConfigurableDistiller)
    assert build_distiller(built) is built
    typed = build_distiller(
        dict(copy.deepcopy(cfg), type='mmvitplug.ConfigurableDistiller'))
    assert sorted(typed.losses) == ['loss_cls', 'loss_rel']
    with pytest.raises(TypeError, match='must be a ConfigurableDistiller '
                       'config, got Linear'):
        build_distiller(nn.Linear(2, 2))
    with pytest.raises(TypeError, match='ConfigurableDistiller config'):
        MODELS.build(dict(type='mmvitplug.MutualClassifier',
                          students=dict(mutual().students), distiller=[]))
