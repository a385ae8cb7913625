# Copyright (c) mmvitplug contributors.
"""Single-image distillation: the patch generator, its tool and the digits
config's objective (KL at T 8 without T^2 on one CutMixed batch)."""
import copy
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from PIL import Image

from mmvitplug.utils.single_image import (CLASS, make_single_image_dataset,
                                          single_image_patches)
from _builders import load_tool

CONFIG = ('configs/bundled/single_image/'
          'single-image-resnet18-w32_1xb64-30e_digits.py')


def checkerboard(side=96, cell=4):
    ij = np.indices((side, side)) // cell
    grey = ((ij[0] + ij[1]) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, -1))


def pixels(patches):
    return [np.asarray(p, dtype=np.float32) for p in patches]


def test_patches_are_seeded_and_sized():
    image = checkerboard()
    first = pixels(single_image_patches(image, 6, size=16, seed=3))
    again = pixels(single_image_patches(image, 6, size=16, seed=3))
    other = pixels(single_image_patches(image, 6, size=16, seed=4))
    assert all(p.shape == (16, 16, 3) for p in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_options_do_what_they_say():
    image = checkerboard()
    # rotation / shear leave black corners on a white image
    white = Image.new('RGB', (64, 64), (255, 255, 255))
    turned = pixels(single_image_patches(white, 20, size=16, seed=0))
    straight = pixels(
        single_image_patches(white, 20, size=16, degrees=0, shear=0,
                             seed=0))
    assert any((p.sum(-1) == 0).any() for p in turned)
    assert not any((p.sum(-1) == 0).any() for p in straight)
    # deep zooms (down to 1/500 of the area) often land inside one 32-pixel
    # cell of a checkerboard; shallow ones (at least 1/1.5) always cross
    # several
    coarse = checkerboard(cell=32)
    flat = [
        sum(p.std() < 1 for p in pixels(single_image_patches(
            coarse, 40, size=8, max_zoom=zoom, degrees=0, shear=0,
            seed=0))) for zoom in (500, 1.5)
    ]
    assert flat[0] > 0 and flat[1] == 0
    # a small initial crop keeps the patches inside one corner's colours
    quads = np.zeros((64, 64, 3), np.uint8)
    quads[:32, :32] = (255, 0, 0)
    quads[32:, 32:] = (0, 0, 255)
    quads[:32, 32:] = (0, 255, 0)
    colours = [
        {tuple(c) for c in p.reshape(-1, 3).astype(int) // 128}
        for p in pixels(single_image_patches(
            Image.fromarray(quads), 20, size=8, init_crop=0.2, degrees=0,
            shear=0, max_zoom=4, seed=1))
    ]
    assert max(len(c) for c in colours) <= 2  # jittered shades of one
    for bad, match in [(dict(init_crop=0.), 'init_crop'),
                       (dict(max_zoom=0.5), 'max_zoom'),
                       (dict(size=0), 'num and size')]:
        with pytest.raises(ValueError, match=match):
            next(single_image_patches(image, 1, **bad))


def test_tool_writes_an_imagenet_folder(tmp_path):
    source = tmp_path / 'one.png'
    checkerboard().save(source)
    load_tool('make_single_image_data.py').main(
        [str(source), str(tmp_path / 'data'), '--num', '12', '--size', '8'])
    files = sorted(os.listdir(tmp_path / 'data' / 'train' / CLASS))
    assert len(files) == 12 and files[0] == 'patch_0000000.png'
    from mmpretrain.datasets import CustomDataset
    dataset = CustomDataset(data_root=str(tmp_path / 'data'),
                            data_prefix='train')
    assert len(dataset) == 12 and dataset.CLASSES == (CLASS, )
    with pytest.raises(ValueError, match="'png' or 'jpeg'"):
        make_single_image_dataset(str(source), str(tmp_path), 1, ext='bmp')


def test_config_objective(tmp_path, repo_root):
    cfg = Config.fromfile(os.path.join(repo_root, CONFIG))
    torch.manual_seed(0)
    teacher = MODELS.build(cfg.model.teacher)
    ckpt = tmp_path / 't.pth'
    torch.save({'state_dict': teacher.state_dict()}, str(ckpt))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.teacher_ckpt = str(ckpt)
    model_cfg.data_preprocessor = cfg.data_preprocessor
    model = MODELS.build(model_cfg)
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    batch = dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), generator=g,
                              dtype=torch.uint8) for _ in range(8)],
        data_samples=[DataSample().set_gt_label(0) for _ in range(8)])
    np.random.seed(0)
    torch.manual_seed(0)
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    np.random.seed(0)
    torch.manual_seed(0)
    plain = model.data_preprocessor(copy.deepcopy(batch), training=False)
    assert not torch.equal(data['inputs'], plain['inputs'])  # CutMixed
    loss = model.loss(**data)['loss_kd']
    with torch.no_grad():
        s = model(data['inputs'], mode='tensor')
        t = model.teacher(data['inputs'], mode='tensor')
    expected = F.kl_div(F.log_softmax(s / 8, 1), F.softmax(t / 8, 1),
                        reduction='batchmean')  # official: no T^2
    torch.testing.assert_close(loss, expected)
