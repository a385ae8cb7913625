# Copyright (c) mmvitplug contributors.
"""The bundled datasets: deterministic, idempotent, exact labels, and read
unmodified by the upstream dataset classes and our base dataset configs."""
import colorsys
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from mmvitplug.utils import bundled_data as bundled
from mmvitplug.utils.bundled_data import (DIGIT_CLASSES, SHAPE_CLASSES,
                                          SHAPE_HUES, SHAPE_SEG_CLASSES,
                                          STAMP_NAME, make_all, make_digits,
                                          make_shapes_ade, make_shapes_coco,
                                          render_shapes_scene, scene_rng,
                                          shapes_label_map, upsample_digit)
from _builders import REPO_ROOT

CONFIG_DIR = Path(REPO_ROOT) / 'configs' / '_base_' / 'datasets'
COCO_SEED, ADE_SEED = 11, 12
NUM_TRAIN, NUM_VAL = 6, 3


def _make_small(root):
    return dict(
        digits=make_digits(root, max_per_class=5),
        coco=make_shapes_coco(
            root, num_train=NUM_TRAIN, num_val=NUM_VAL, seed=COCO_SEED),
        ade=make_shapes_ade(
            root, num_train=NUM_TRAIN, num_val=NUM_VAL, seed=ADE_SEED))


def _tree(path):
    return {p.relative_to(path): p.read_bytes()
            for p in sorted(Path(path).rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp('bundled')
    _make_small(root)
    return root


@pytest.fixture(scope='module')
def sk_digits():
    return load_digits()


# --------------------------------------------------------------------------
# generation: determinism, idempotence, arguments
# --------------------------------------------------------------------------
def test_generation_is_deterministic(root, tmp_path):
    summaries = _make_small(tmp_path)
    assert {s['status'] for s in summaries.values()} == {'written'}
    assert _tree(tmp_path) == _tree(root)
    # the seed matters
    make_shapes_ade(tmp_path / 'other', num_train=NUM_TRAIN,
                    num_val=NUM_VAL, seed=ADE_SEED + 1)
    assert _tree(tmp_path / 'other' / 'shapes-ade') != _tree(
        root / 'shapes-ade')


def test_scene_does_not_depend_on_image_count(root, tmp_path):
    make_shapes_ade(tmp_path, num_train=2, num_val=1, seed=ADE_SEED)
    small, full = tmp_path / 'shapes-ade', root / 'shapes-ade'
    for rel in ('images/training/000002.jpg',
                'annotations/training/000002.png',
                'images/validation/000001.jpg'):
        assert (small / rel).read_bytes() == (full / rel).read_bytes()


def test_second_call_skips(tmp_path):
    first = make_shapes_ade(tmp_path, num_train=2, num_val=1)
    out_dir = tmp_path / 'shapes-ade'
    mtimes = {p: p.stat().st_mtime_ns for p in out_dir.rglob('*')}
    again = make_shapes_ade(tmp_path, num_train=2, num_val=1)
    assert first['status'] == 'written' and again['status'] == 'skipped'
    assert again['counts'] == first['counts'] == dict(train=2, val=1)
    assert again['path'] == str(out_dir)
    assert {p: p.stat().st_mtime_ns for p in out_dir.rglob('*')} == mtimes
    stamp = json.loads((out_dir / STAMP_NAME).read_text())
    assert stamp['complete'] and stamp['num_files'] == 6
    assert stamp['version'] == bundled.GENERATOR_VERSION


def test_rebuild_on_change_force_missing_file_or_version(
        tmp_path, monkeypatch):
    out_dir = tmp_path / 'shapes-ade'
    make_shapes_ade(tmp_path, num_train=2, num_val=1)
    # different parameters
    res = make_shapes_ade(tmp_path, num_train=3, num_val=1)
    assert res['status'] == 'written'
    assert len(list((out_dir / 'images' / 'training').iterdir())) == 3
    # force
    assert make_shapes_ade(
        tmp_path, num_train=3, num_val=1, force=True)['status'] == 'written'
    # an incomplete dataset
    missing = out_dir / 'annotations' / 'training' / '000002.png'
    missing.unlink()
    assert make_shapes_ade(
        tmp_path, num_train=3, num_val=1)['status'] == 'written'
    assert missing.is_file()
    # an interrupted generation (stamp not complete)
    stamp = json.loads((out_dir / STAMP_NAME).read_text())
    stamp['complete'] = False
    (out_dir / STAMP_NAME).write_text(json.dumps(stamp))
    assert make_shapes_ade(
        tmp_path, num_train=3, num_val=1)['status'] == 'written'
    # another generator version
    monkeypatch.setattr(bundled, 'GENERATOR_VERSION',
                        bundled.GENERATOR_VERSION + 1)
    assert make_shapes_ade(
        tmp_path, num_train=3, num_val=1)['status'] == 'written'
    assert make_shapes_ade(
        tmp_path, num_train=3, num_val=1)['status'] == 'skipped'


def test_foreign_directory_is_not_overwritten_without_force(tmp_path):
    foreign = tmp_path / 'digits' / 'mine.txt'
    foreign.parent.mkdir()
    foreign.write_text('not generated')
    with pytest.raises(FileExistsError, match='force=True'):
        make_digits(tmp_path, max_per_class=2)
    assert foreign.read_text() == 'not generated'
    assert make_digits(tmp_path, max_per_class=2, force=True)[
        'status'] == 'written'
    assert not foreign.exists()


def test_make_all_only_and_unknown(tmp_path):
    with pytest.raises(ValueError, match="choose from.*'shapes-coco'"):
        make_all(tmp_path, only=['digits', 'imagenet'])
    assert not (tmp_path / 'digits').exists()
    make_digits(tmp_path, max_per_class=2)
    # make_all uses the default parameters: the small digits get rebuilt
    res = make_all(tmp_path, only=['digits'])
    assert list(res) == ['digits'] and res['digits']['status'] == 'written'
    assert res['digits']['counts'] == dict(train=1438, val=359)
    assert not (tmp_path / 'shapes-coco').exists()


@pytest.mark.parametrize('call, match', [
    (lambda r: make_digits(r, img_size=30), 'multiple of 8'),
    (lambda r: make_digits(r, val_fraction=1.0), 'val_fraction'),
    (lambda r: make_digits(r, max_per_class=1), 'max_per_class'),
    (lambda r: make_shapes_coco(r, num_val=0), 'num_val'),
    (lambda r: make_shapes_ade(r, num_train=0), 'num_train'),
    (lambda r: make_shapes_ade(r, img_size=40), 'size_range'),
    (lambda r: make_shapes_coco(r, max_shapes=0), 'max_shapes'),
    (lambda r: scene_rng(0, 'test', 0), "Unknown split 'test'"),
])
def test_bad_arguments(tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path)


# --------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------
def test_upsample_digit():
    digit = np.zeros((8, 8))
    digit[0, 1] = 16
    digit[7, 7] = 8
    image = upsample_digit(digit, 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    expected = np.zeros((32, 32), np.uint8)
    expected[0:4, 4:8] = 255
    expected[28:32, 28:32] = 128
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], expected)
    assert upsample_digit(digit, 16).shape == (16, 16, 3)


def test_digits_full_split_is_stratified(tmp_path, sk_digits):
    res = make_digits(tmp_path)
    assert res['counts'] == dict(train=1438, val=359)
    labels = {}
    for split in ('train', 'val'):
        lines = (tmp_path / 'digits' / 'meta' / f'{split}.txt').read_text()
        labels[split] = [int(line.split()[1]) for line in lines.splitlines()]
    totals = np.bincount(sk_digits.target)
    val_counts = np.bincount(labels['val'], minlength=10)
    np.testing.assert_array_less(np.abs(val_counts - 0.2 * totals), 1)
    np.testing.assert_array_equal(
        val_counts + np.bincount(labels['train']), totals)


def test_digits_img_size_and_val_fraction(tmp_path):
    res = make_digits(tmp_path, img_size=16, val_fraction=0.5,
                      max_per_class=4)
    assert res['counts'] == dict(train=20, val=20)
    image = Image.open(next((tmp_path / 'digits' / 'val').rglob('*.png')))
    assert image.size == (16, 16) and image.mode == 'RGB'


@pytest.mark.parametrize('split', ['train', 'val'])
def test_digits_read_by_mmpretrain_imagenet(root, sk_digits, split):
    from mmpretrain.datasets import ImageNet
    dataset = ImageNet(data_root=str(root / 'digits'), split=split,
                       metainfo=dict(classes=DIGIT_CLASSES))
    assert dataset.CLASSES == DIGIT_CLASSES
    assert len(dataset) == (40 if split == 'train' else 10)
    labels = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        index = int(Path(info['img_path']).stem)
        assert Path(info['img_path']).parent.name == str(info['gt_label'])
        assert info['gt_label'] == sk_digits.target[index]
        np.testing.assert_array_equal(
            np.array(Image.open(info['img_path'])),
            upsample_digit(sk_digits.images[index]))
        labels.append(info['gt_label'])
    assert np.bincount(labels).tolist() == [4 if split == 'train' else 1] * 10


def test_digits_splits_are_disjoint(root):
    names = {split: {p.name for p in (root / 'digits' / split).rglob('*.png')}
             for split in ('train', 'val')}
    assert len(names['train']) == 40 and len(names['val']) == 10
    assert not names['train'] & names['val']


# --------------------------------------------------------------------------
# shape scenes
# --------------------------------------------------------------------------
def _hue_distance(rgb, hue):
    h = colorsys.rgb_to_hsv(*(np.asarray(rgb) / 255))[0]
    return min(abs(h - hue), 1 - abs(h - hue))


def test_scene_geometry_and_pixels():
    seen = set()
    for index in range(20):
        image, instances = render_shapes_scene(scene_rng(0, 'train', index))
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert 1 <= len(instances) <= 4
        taken = np.zeros((128, 128), bool)
        for inst in instances:
            mask = inst['mask']
            # the mask is the pycocotools rasterisation of the polygon
            np.testing.assert_array_equal(
                mask, bundled.polygon_to_mask(inst['polygon'], 128, 128))
            # shapes keep a gap of 2 pixels
            assert not (bundled._dilate(mask, 2) & taken).any()
            taken |= mask
            # one colour inside the mask, a different one just outside it
            inside = image[mask].astype(float)
            ring = image[bundled._dilate(mask, 1) & ~mask].astype(float)
            colour = inside.mean(axis=0)
            assert inside.std(axis=0).max() < 10
            assert np.linalg.norm(ring.mean(axis=0) - colour) > 40
            assert _hue_distance(colour, SHAPE_HUES[inst['label']]) < 0.1
            # geometry: size in [15, 50], the class's shape
            x, y, w, h = bundled._bbox(mask)
            fill = mask.sum() / (w * h)
            if inst['label'] == 0:
                assert 14 <= w <= 51 and abs(w - h) <= 1
                assert 0.72 < fill < 0.85
            elif inst['label'] == 1:
                assert 15 <= max(w, h) <= 72 and fill > 0.45
            else:
                assert 13 <= max(w, h) <= 51 and fill < 0.56
            seen.add(inst['label'])
    assert seen == {0, 1, 2}


def test_scene_arguments():
    image, instances = render_shapes_scene(
        scene_rng(0, 'val', 0), img_size=64, max_shapes=1,
        size_range=(20, 20), noise_std=0)
    assert image.shape == (64, 64, 3) and len(instances) == 1
    inst = instances[0]
    assert len(np.unique(image[inst['mask']], axis=0)) == 1  # no noise
    _, _, w, h = bundled._bbox(inst['mask'])
    expected = {0: 20, 1: 20 * np.sqrt(2), 2: 20}[inst['label']]
    assert 17 <= max(w, h) <= expected + 1
    with pytest.raises(ValueError, match='max_shapes'):
        render_shapes_scene(scene_rng(0, 'val', 0), max_shapes=0)
    with pytest.raises(ValueError, match='size_range'):
        render_shapes_scene(scene_rng(0, 'val', 0), size_range=(50, 20))
    # without the colour cue, hues leave the class bands
    distances = []
    for index in range(10):
        image, instances = render_shapes_scene(
            scene_rng(0, 'train', index), colour_cue=False)
        distances += [
            _hue_distance(image[inst['mask']].mean(axis=0),
                          SHAPE_HUES[inst['label']]) for inst in instances
        ]
    assert max(distances) > 0.2


def test_shapes_generator_arguments(tmp_path):
    res = make_shapes_coco(tmp_path, num_train=3, num_val=2, img_size=64,
                           max_shapes=1, colour_cue=False)
    assert res['counts'] == dict(train=dict(images=3, instances=3),
                                 val=dict(images=2, instances=2))
    out_dir = tmp_path / 'shapes-coco'
    assert Image.open(out_dir / 'val2017' / '000002.jpg').size == (64, 64)
    res = make_shapes_ade(tmp_path, num_train=2, num_val=1, img_size=64,
                          max_shapes=1, colour_cue=False)
    label = np.array(Image.open(
        tmp_path / 'shapes-ade' / 'annotations' / 'training' / '000002.png'))
    expected = _label_map(render_shapes_scene(
        scene_rng(2, 'train', 1), 64, 1, colour_cue=False)[1], 64)
    np.testing.assert_array_equal(label, expected)


# --------------------------------------------------------------------------
# shapes-coco
# --------------------------------------------------------------------------
def _scene(seed, split, image_id):
    return render_shapes_scene(scene_rng(seed, split, image_id - 1))


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_annotations_match_drawn_shapes(root, split):
    """annToMask equals the drawn mask exactly (IoU 1.0), circles included:
    the generator rasterises every polygon (circles are 32-gons) with the
    same pycocotools rasteriser before painting it, so there is no
    disc-versus-polygon rasterisation difference."""
    from pycocotools.coco import COCO
    out_dir = root / 'shapes-coco'
    coco = COCO(str(out_dir / 'annotations' / f'instances_{split}2017.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(
        SHAPE_CLASSES)
    assert len(coco.getImgIds()) == (NUM_TRAIN if split == 'train' else
                                     NUM_VAL)
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        image, instances = _scene(COCO_SEED, split, image_id)
        decoded = np.array(Image.open(
            out_dir / f'{split}2017' / info['file_name']))
        # the JPEG is the drawn image up to compression of the pixel noise
        assert np.abs(decoded.astype(float) - image).mean() < 8
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        assert len(anns) == len(instances) >= 1
        for ann, inst in zip(anns, instances):
            core = ~bundled._dilate(~inst['mask'], 2)
            np.testing.assert_allclose(
                decoded[core].mean(axis=0), image[core].mean(axis=0), atol=3)
            mask = coco.annToMask(ann).astype(bool)
            np.testing.assert_array_equal(mask, inst['mask'])
            assert ann['category_id'] == inst['label'] + 1
            assert ann['iscrowd'] == 0 and ann['area'] == mask.sum()
            x, y, w, h = ann['bbox']
            assert mask[y:y + h, x:x + w].sum() == mask.sum()
            assert mask[y].any() and mask[y + h - 1].any()
            assert mask[:, x].any() and mask[:, x + w - 1].any()


def test_coco_read_by_mmdet(root):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations
    dataset = CocoDataset(
        data_root=str(root / 'shapes-coco'),
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        metainfo=dict(classes=SHAPE_CLASSES),
        pipeline=[LoadImageFromFile(),
                  LoadAnnotations(with_bbox=True, with_mask=True)])
    assert len(dataset) == NUM_TRAIN
    for i in range(len(dataset)):
        results = dataset[i]
        _, instances = _scene(COCO_SEED, 'train', results['img_id'])
        np.testing.assert_array_equal(
            results['gt_masks'].masks,
            np.stack([inst['mask'] for inst in instances]))
        np.testing.assert_array_equal(
            results['gt_bboxes_labels'],
            [inst['label'] for inst in instances])
        boxes = [bundled._bbox(inst['mask']) for inst in instances]
        np.testing.assert_array_equal(
            results['gt_bboxes'].tensor.numpy(),
            [[x, y, x + w, y + h] for x, y, w, h in boxes])
        assert not results['gt_ignore_flags'].any()


# --------------------------------------------------------------------------
# shapes-ade
# --------------------------------------------------------------------------
def _seg_dataset(cls, root, split='training', **kwargs):
    from mmseg.datasets.transforms import LoadAnnotations
    return cls(
        data_root=str(root / 'shapes-ade'),
        data_prefix=dict(img_path=f'images/{split}',
                         seg_map_path=f'annotations/{split}'),
        pipeline=[LoadAnnotations()], **kwargs)


def _label_map(instances, size=128):
    # written independently of shapes_label_map: pixel value = index of the
    # shape's name in SHAPE_SEG_CLASSES
    label = np.zeros((size, size), np.uint8)
    for inst in instances:
        name = SHAPE_CLASSES[inst['label']]
        label[inst['mask']] = SHAPE_SEG_CLASSES.index(name)
    return label


def _ade_label(split, img_path):
    index = int(Path(img_path).stem) - 1
    _, instances = render_shapes_scene(scene_rng(ADE_SEED, split, index))
    np.testing.assert_array_equal(
        shapes_label_map(instances, 128, 128), _label_map(instances))
    return _label_map(instances)


def test_ade_read_by_mmseg_with_background_class(root):
    """What configs/_base_/datasets/shapes-ade.py uses."""
    from mmseg.datasets import BaseSegDataset
    dataset = _seg_dataset(
        BaseSegDataset, root, img_suffix='.jpg', seg_map_suffix='.png',
        reduce_zero_label=False, metainfo=dict(classes=SHAPE_SEG_CLASSES))
    assert len(dataset) == NUM_TRAIN
    seen = set()
    for i in range(len(dataset)):
        results = dataset[i]
        expected = _ade_label('train', results['img_path'])
        np.testing.assert_array_equal(results['gt_seg_map'], expected)
        seen |= set(np.unique(expected).tolist())
    assert seen == {0, 1, 2, 3}


def test_ade_read_by_ade20k_dataset_with_zero_label_reduced(root):
    """ADE20K's convention: 0 ('other') ignored, the shapes become 0..2."""
    from mmseg.datasets import ADE20KDataset
    dataset = _seg_dataset(ADE20KDataset, root, split='validation')
    assert len(dataset) == NUM_VAL
    for i in range(len(dataset)):
        results = dataset[i]
        expected = _ade_label('val', results['img_path']).astype(np.int64)
        expected = np.where(expected == 0, 255, expected - 1)
        np.testing.assert_array_equal(results['gt_seg_map'], expected)
    # why the base config uses BaseSegDataset: ADE20KDataset only takes
    # subsets of its 150 class names
    with pytest.raises(ValueError, match='not a subset'):
        _seg_dataset(ADE20KDataset, root,
                     metainfo=dict(classes=SHAPE_CLASSES))


# --------------------------------------------------------------------------
# base configs
# --------------------------------------------------------------------------
def _loader(cfg, key, data_root, scope):
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    init_default_scope(scope)
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.data_root = str(data_root)
    return Runner.build_dataloader(loader_cfg, seed=0)


def _evaluator(cfg, loader, **overrides):
    from mmengine.evaluator import Evaluator
    evaluator_cfg = copy.deepcopy(cfg.val_evaluator)
    evaluator_cfg.update(overrides)
    evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = loader.dataset.metainfo
    return evaluator


def test_digits_config(root, sk_digits):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG_DIR / 'digits.py')
    assert cfg.data_root == 'data/bundled/digits/'
    assert cfg.data_preprocessor.num_classes == len(DIGIT_CLASSES)
    loader = _loader(cfg, 'train_dataloader', root / 'digits', 'mmpretrain')
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert inputs.shape == (3, 32, 32) and inputs.dtype == torch.uint8
        index = int(Path(sample.img_path).stem)
        assert sample.gt_label.item() == sk_digits.target[index]
    # the evaluator scores ground truth as 100% top-1
    loader = _loader(cfg, 'val_dataloader', root / 'digits', 'mmpretrain')
    evaluator = _evaluator(cfg, loader)
    for batch in loader:
        samples = [s.set_pred_label(s.gt_label) for s in batch['data_samples']]
        evaluator.process(samples, batch)
    assert evaluator.evaluate(len(loader.dataset)) == {
        'accuracy/top1': 100.0}


def test_shapes_coco_config(root):
    from mmengine.config import Config
    from mmengine.structures import InstanceData
    cfg = Config.fromfile(CONFIG_DIR / 'shapes-coco.py')
    assert cfg.data_root == 'data/bundled/shapes-coco/'
    assert cfg.backend_args is None
    data_root = root / 'shapes-coco'
    loader = _loader(cfg, 'train_dataloader', data_root, 'mmdet')
    batch = next(iter(loader))
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert inputs.shape == (3, 128, 128)
        gt = sample.gt_instances
        assert len(gt) >= 1 and gt.masks.masks.shape[1:] == (128, 128)
        # boxes stay tight around the (possibly flipped) masks
        for box, mask in zip(gt.bboxes.tensor.numpy(), gt.masks.masks):
            x, y, w, h = bundled._bbox(mask)
            np.testing.assert_array_equal(box, [x, y, x + w, y + h])
    # the evaluator scores ground truth as mAP 1.0 (boxes and masks)
    loader = _loader(cfg, 'val_dataloader', data_root, 'mmdet')
    evaluator = _evaluator(cfg, loader, ann_file=str(
        data_root / 'annotations' / 'instances_val2017.json'))
    for batch in loader:
        samples = []
        for sample in batch['data_samples']:
            gt = sample.gt_instances
            sample.pred_instances = InstanceData(
                bboxes=gt.bboxes.tensor, labels=gt.labels,
                scores=torch.ones(len(gt)),
                masks=torch.from_numpy(gt.masks.masks).bool())
            samples.append(sample)
        evaluator.process(samples, batch)
    metrics = evaluator.evaluate(len(loader.dataset))
    assert metrics['coco/bbox_mAP'] == pytest.approx(1.0)
    assert metrics['coco/segm_mAP'] == pytest.approx(1.0)


def test_shapes_ade_config(root):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG_DIR / 'shapes-ade.py')
    assert cfg.data_root == 'data/bundled/shapes-ade/'
    assert cfg.metainfo.classes == SHAPE_SEG_CLASSES
    data_root = root / 'shapes-ade'
    loader = _loader(cfg, 'train_dataloader', data_root, 'mmseg')
    batch = next(iter(loader))
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert inputs.shape == (3, 128, 128)
        labels = sample.gt_sem_seg.data
        assert labels.shape == (1, 128, 128)
        assert set(labels.unique().tolist()) <= {0, 1, 2, 3}
    # the evaluator scores ground truth as mIoU 100
    loader = _loader(cfg, 'val_dataloader', data_root, 'mmseg')
    evaluator = _evaluator(cfg, loader)
    for batch in loader:
        samples = []
        for sample in batch['data_samples']:
            np.testing.assert_array_equal(
                sample.gt_sem_seg.data[0].numpy(),
                _ade_label('val', sample.img_path))
            sample.pred_sem_seg = sample.gt_sem_seg
            samples.append(sample)
        evaluator.process(samples, batch)
    metrics = evaluator.evaluate(len(loader.dataset))
    assert metrics['mIoU'] == pytest.approx(100.0)
