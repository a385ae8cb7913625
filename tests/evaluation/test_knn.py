# Copyright (c) mmvitplug contributors.
"""Weighted k-NN evaluation: the vote by hand, the metric, the bank / query
dataset, the embedding model, through tools/test.py (one and two processes)
and the backbone export that feeds it (and detectors)."""
import math
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

from mmvitplug.datasets import KNNBankDataset
from mmvitplug.evaluation import KNNAccuracy, knn_vote
from mmvitplug.models.selfsup import EmbeddingModel
from mmvitplug.utils.export import export_backbone, pretrained_backbone_of
from _builders import load_tool
from _e2e import run_tool

KNN_CONFIG = 'configs/bundled/deit/knn-deit-4l192d-p8_1xb128_digits.py'

# bank on the unit circle: angles 0, 90, 180 degrees, labels 0, 1, 1
BANK = torch.tensor([[1., 0.], [0., 1.], [-1., 0.]])
LABELS = torch.tensor([0, 1, 1])


def test_vote_by_hand():
    query = torch.tensor([[2., 2.]])  # 45 degrees: cos 0.707 to 0 and 1
    c = math.cos(math.pi / 4)
    scores = knn_vote(BANK, LABELS, query, k=2, temperature=0.5)
    # neighbours 0 and 1, both at cosine c: one vote each
    torch.testing.assert_close(
        scores, torch.tensor([[math.exp(c / 0.5), math.exp(c / 0.5)]]))
    # k = 3 adds the third point (cosine -c) to class 1
    scores = knn_vote(BANK, LABELS, query, k=3, temperature=0.5)
    torch.testing.assert_close(
        scores, torch.tensor([[math.exp(c / 0.5),
                               math.exp(c / 0.5) + math.exp(-c / 0.5)]]))


def test_vote_weights_similar_neighbours_more():
    # one close class-0 neighbour against two far class-1 neighbours
    bank = torch.tensor([[1., 0.05], [0.2, 1.], [0.2, -1.]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1., 0.]])
    cold = knn_vote(bank, labels, query, k=3, temperature=0.07)
    hot = knn_vote(bank, labels, query, k=3, temperature=100.)
    assert cold.argmax() == 0  # the similarity decides
    assert hot.argmax() == 1  # almost a plain majority vote


def test_vote_chunks_and_num_classes():
    torch.manual_seed(0)
    bank, queries = torch.randn(50, 8), torch.randn(7, 8)
    labels = torch.randint(0, 4, (50, ))
    whole = knn_vote(bank, labels, queries, k=5, chunk_size=256)
    torch.testing.assert_close(
        knn_vote(bank, labels, queries, k=5, chunk_size=2), whole)
    assert knn_vote(bank, labels, queries, k=5, num_classes=6).shape == (7, 6)
    # the embeddings' scale does not matter (cosine)
    torch.testing.assert_close(
        knn_vote(bank * 3, labels, queries * 0.1, k=5), whole, rtol=1e-5,
        atol=0)


@pytest.mark.parametrize('kwargs,match', [
    (dict(k=4), r'k=4 needs 1 <= k <= the bank size 3'),
    (dict(k=0), 'k=0'),
    (dict(k=1, temperature=0.), 'temperature'),
])
def test_vote_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_vote(BANK, LABELS, torch.ones(1, 2), **kwargs)


def _sample(embedding, label, bank):
    sample = DataSample().set_gt_label(label)
    sample.set_field(torch.tensor(embedding), 'embedding')
    sample.set_metainfo(dict(knn_bank=bank))
    return sample.to_dict()


def test_metric_top1_top5_per_k():
    metric = KNNAccuracy(k=(1, 2), temperature=0.1, topk=(1, 2))
    bank = [_sample(v.tolist(), int(y), True) for v, y in zip(BANK, LABELS)]
    queries = [
        _sample([1., 0.1], 0, False),  # nearest: class 0 -> right
        _sample([-1., 0.1], 0, False),  # nearest: class 1 -> wrong
    ]
    metric.process({}, bank[:2] + queries[:1])  # order does not matter
    metric.process({}, bank[2:] + queries[1:])
    results = metric.compute_metrics(metric.results)
    assert results['top1_k1'] == pytest.approx(50.)
    assert results['top2_k1'] == pytest.approx(100.)  # 2 classes
    assert set(results) == {'top1_k1', 'top2_k1', 'top1_k2', 'top2_k2'}


def test_metric_errors():
    with pytest.raises(ValueError, match='k must be'):
        KNNAccuracy(k=())
    metric = KNNAccuracy(k=1, topk=(1, ))
    with pytest.raises(KeyError, match='EmbeddingModel'):
        metric.process({}, [{'gt_label': torch.tensor([0])}])
    with pytest.raises(KeyError, match='KNNBankDataset'):
        metric.process({}, [{'gt_label': torch.tensor([0]),
                             'embedding': torch.ones(2)}])
    metric.process({}, [_sample([1., 0.], 0, True)])
    with pytest.raises(ValueError, match='1 bank and 0 queries'):
        metric.compute_metrics(metric.results)
    metric = KNNAccuracy(k=1, topk=(1, 5))
    metric.process({}, [_sample([1., 0.], 0, True), _sample([1., 0.], 1,
                                                            False)])
    with pytest.raises(ValueError, match='exceeds the 2 classes'):
        metric.compute_metrics(metric.results)


class _Packed(torch.utils.data.Dataset):

    def __init__(self, n, label):
        self.n, self.label = n, label
        self.metainfo = dict(classes=('a', 'b'), label=label)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return dict(inputs=torch.full((3, 2, 2), float(i)),
                    data_samples=DataSample().set_gt_label(self.label))


def test_bank_dataset_tags_bank_then_queries():
    dataset = KNNBankDataset(bank=_Packed(3, 0), query=_Packed(2, 1))
    assert len(dataset) == 5
    tags = [dataset[i]['data_samples'].knn_bank for i in range(5)]
    assert tags == [True, True, True, False, False]
    assert dataset[3]['inputs'][0, 0, 0] == 0  # the first query
    assert int(dataset[-1]['data_samples'].gt_label) == 1
    assert dataset.metainfo['label'] == 1  # the query dataset's
    with pytest.raises(IndexError):
        dataset[5]


def test_bank_dataset_needs_packed_items():
    dataset = KNNBankDataset(bank=[1, 2], query=[3])
    with pytest.raises(TypeError, match='PackInputs'):
        dataset[0]


def _deit(out_type):
    return dict(type='mmvitplug.DeiT',
                arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                          feedforward_channels=32),
                img_size=16, patch_size=8, out_type=out_type)


def test_embedding_model_outputs():
    init_default_scope('mmpretrain')
    x = torch.randn(2, 3, 16, 16)
    cls = EmbeddingModel(_deit('cls_token'))
    torch.testing.assert_close(cls(x), cls.backbone(x)[-1])
    featmap = EmbeddingModel(_deit('featmap'))
    featmap.load_state_dict(cls.state_dict())
    torch.testing.assert_close(featmap(x),
                               featmap.backbone(x)[-1].mean(dim=(2, 3)))
    samples = cls(x, [DataSample(), DataSample()], mode='predict')
    torch.testing.assert_close(samples[1].embedding, cls(x)[1])
    with pytest.raises(ValueError, match='only embeds'):
        cls(x, mode='loss')


def test_export_picks_the_declared_backbone():

    class Teacherful:
        pretrained_backbone = 'teacher.module.backbone'

    assert pretrained_backbone_of(Teacherful) == 'teacher.module.backbone'
    assert pretrained_backbone_of(object) == 'backbone'
    state = {'teacher.module.backbone.a': torch.ones(1),
             'backbone.a': torch.zeros(1), 'head.w': torch.zeros(1)}
    assert export_backbone(state, 'teacher.module.backbone') == {
        'backbone.a': torch.ones(1)}
    assert list(export_backbone(state, 'backbone.')) == ['backbone.a']
    with pytest.raises(KeyError, match=r"'student\.'.*'head\.w'"):
        export_backbone(state, 'student')


def _knn_top1(log, k=20):
    found = re.findall(rf"'knn/top1_k{k}': ([0-9.]+)", log)
    assert found, log[-2000:]
    return float(found[-1])


@pytest.mark.e2e
def test_export_then_knn_and_detector_load_the_same_weights(
        tmp_path, repo_root, bundled_data, subprocess_env):
    """A pretraining checkpoint (teacher weights under
    ``teacher.module.backbone``) -> export -> (a) k-NN through tools/test.py
    on one and two processes, equal to the k-NN of the same weights loaded
    directly; (b) a Mask R-CNN config's backbone holds exactly them."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(osp.join(repo_root, KNN_CONFIG))
    torch.manual_seed(3)
    model = EmbeddingModel(cfg.model.backbone)
    model.init_weights()
    pretraining = {f'teacher.module.{k}': v
                   for k, v in model.state_dict().items()}
    pretraining['backbone.cls_token'] = torch.zeros(1)  # the student's
    src = str(tmp_path / 'pretrain.pth')
    torch.save(dict(state_dict=pretraining), src)
    exported = str(tmp_path / 'backbone.pth')
    run_tool([sys.executable, 'tools/model_converters/export_backbone.py',
              KNN_CONFIG, src, exported, '--prefix',
              'teacher.module.backbone'], repo_root, subprocess_env)
    weights = torch.load(exported)['state_dict']
    assert weights.keys() == model.state_dict().keys()

    single = _knn_top1(run_tool(
        [sys.executable, 'tools/test.py', KNN_CONFIG, exported,
         '--work-dir', str(tmp_path / 'one')], repo_root, subprocess_env))
    env = dict(subprocess_env, PYTHON=sys.executable, PORT='29541')
    double = _knn_top1(run_tool(
        ['bash', 'tools/dist_test.sh', KNN_CONFIG, exported, '2',
         '--work-dir', str(tmp_path / 'two')], repo_root, env, timeout=600))
    assert double == pytest.approx(single, abs=1e-6)
    random_init = _knn_top1(run_tool(
        [sys.executable, 'tools/test.py', KNN_CONFIG, 'none',
         '--work-dir', str(tmp_path / 'none')], repo_root, subprocess_env))
    assert 10. < random_init < 100.  # a real vote over 10 classes

    # the exported weights in a detector
    from mmdet.registry import MODELS as MMDET_MODELS
    init_default_scope('mmdet')
    det = Config.fromfile(osp.join(
        repo_root,
        'configs/bundled/deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py'))
    backbone = det.model.backbone
    backbone.update(arch=cfg.model.backbone.arch, img_size=32, patch_size=8,
                    init_cfg=dict(type='Pretrained', checkpoint=exported,
                                  prefix='backbone.'))
    backbone.pop('out_type', None)
    det.model.neck.backbone_channel = cfg.model.backbone.arch.embed_dims
    detector = MMDET_MODELS.build(det.model)
    detector.init_weights()
    held = detector.backbone.state_dict()
    for key, value in weights.items():
        torch.testing.assert_close(held[key[len('backbone.'):]], value,
                                   rtol=0, atol=0)


def test_export_tool_reads_the_algorithm_of_any_scope(tmp_path, repo_root):
    """The tool finds the backbone an algorithm declares (our DINO: the
    teacher) and the default one of upstream types given without a scope
    (mmpretrain's SimCLR under default_scope='mmpretrain')."""
    tool = load_tool('model_converters/export_backbone.py')
    state = {'teacher.module.backbone.w': torch.ones(1),
             'backbone.w': torch.zeros(1)}
    src = str(tmp_path / 'src.pth')
    torch.save(dict(state_dict=state), src)
    for config, exported, value in (
            ('configs/bundled/dino/dino-deit-4l64d-p8_1xb64_digits.py',
             'teacher.module.backbone', 1.),
            ('configs/bundled/macl/macl-simclr-deit-4l64d-p8_1xb64_digits.py',
             'backbone', 0.)):
        dst = str(tmp_path / 'dst.pth')
        meta = tool.main([osp.join(repo_root, config), src, dst])
        assert meta['exported'] == exported
        assert torch.load(dst)['state_dict'] == {
            'backbone.w': torch.tensor([value])}
