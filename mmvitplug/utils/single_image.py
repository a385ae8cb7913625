# Copyright (c) mmvitplug contributors.
"""A training set made of one image: the augmented patches of
`single-image distillation <https://arxiv.org/abs/2112.00725>`_ (Asano &
Saeed, "The Augmented Image Prior: Distilling 1000 Classes by Extrapolating
from a Single Image", ICLR 2023), written in the ImageNet folder layout.

Each patch is drawn from the source image as in the official generator
(``data_generation/make_single_img_dataset.py``):

1. a random square crop of side ``init_crop`` x the image's shorter side
   (so that patches do not all come from the centre);
2. a random resized crop to ``sqrt(2) * size`` (room for a 45 degree
   rotation) keeping a fraction of the area drawn uniformly in
   ``[1 / max_zoom, 1]`` and a log-uniform aspect ratio in [3/4, 4/3],
   bicubic, redrawn until it fits (no centre-crop fallback);
3. a random affine transform (rotation up to ``degrees``, shear up to
   ``shear``, bilinear, black fill);
4. the central ``size`` x ``size`` crop;
5. colour jitter (brightness, contrast, saturation 0.4, hue 0.1) with
   probability 0.5.

Patches are written to ``<out>/train/single/patch_<k>.<ext>``: one class
folder, since the distilled student never reads a label (its teacher gives
the targets); validation uses the real dataset.
"""
import math
import os
import os.path as osp
import random
from typing import Iterator, Tuple

from PIL import Image

#: the class folder all patches go to (labels are never read)
CLASS = 'single'


def _resized_crop_box(width: int, height: int,
                      area_range: Tuple[float, float],
                      rng: random.Random) -> Tuple[int, int, int, int]:
    """(left, top, w, h) of a random crop keeping an area fraction in
    ``area_range`` and an aspect ratio log-uniform in [3/4, 4/3]; redrawn
    until it fits the image."""
    low, high = math.log(3 / 4), math.log(4 / 3)
    for _ in range(10000):
        area = width * height * rng.uniform(*area_range)
        ratio = math.exp(rng.uniform(low, high))
        w = int(round(math.sqrt(area * ratio)))
        h = int(round(math.sqrt(area / ratio)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, width - w), rng.randint(0, height - h), w, h
    raise RuntimeError(f'no crop of area {area_range} fits {width}x{height}')


def _color_jitter(patch: Image.Image, rng: random.Random) -> Image.Image:
    """torchvision's ``ColorJitter(0.4, 0.4, 0.4, 0.1)`` (the four
    adjustments in a random order) with factors drawn from ``rng``."""
    import torchvision.transforms.functional as TF
    adjust = [
        (TF.adjust_brightness, rng.uniform(0.6, 1.4)),
        (TF.adjust_contrast, rng.uniform(0.6, 1.4)),
        (TF.adjust_saturation, rng.uniform(0.6, 1.4)),
        (TF.adjust_hue, rng.uniform(-0.1, 0.1)),
    ]
    rng.shuffle(adjust)
    for fn, factor in adjust:
        patch = fn(patch, factor)
    return patch


def single_image_patches(image: Image.Image,
                         num: int,
                         size: int = 32,
                         init_crop: float = 0.5,
                         max_zoom: float = 500.,
                         degrees: float = 30.,
                         shear: float = 30.,
                         seed: int = 0) -> Iterator[Image.Image]:
    """Augmented patches of one image (see the module docstring).

    Args:
        image (PIL.Image.Image): The source image.
        num (int): Number of patches.
        size (int): Side of the square patches. Defaults to 32.
        init_crop (float): Side of the initial random crop, relative to the
            image's shorter side, in (0, 1]. Defaults to 0.5 (official).
        max_zoom (float): The resized crop keeps at least ``1 / max_zoom``
            of the initial crop's area (>= 1). Defaults to 500 (official).
        degrees (float): Largest rotation, in degrees. Defaults to 30.
        shear (float): Largest shear, in degrees. Defaults to 30.
        seed (int): Seed of the draws. Defaults to 0.

    Yields:
        PIL.Image.Image: RGB patches of ``size`` x ``size``.
    """
    import torchvision.transforms as T
    import torchvision.transforms.functional as TF
    if num < 1 or size < 1:
        raise ValueError(f'num and size must be >= 1, got {num}, {size}')
    if not 0 < init_crop <= 1:
        raise ValueError(f'init_crop must be in (0, 1], got {init_crop}')
    if max_zoom < 1:
        raise ValueError(f'max_zoom must be >= 1, got {max_zoom}')
    rng = random.Random(seed)
    image = image.convert('RGB')
    side = max(1, int(init_crop * min(image.size)))
    big = int(math.sqrt(2) * size)
    for _ in range(num):
        left = rng.randint(0, image.size[0] - side)
        top = rng.randint(0, image.size[1] - side)
        patch = image.crop((left, top, left + side, top + side))
        x, y, w, h = _resized_crop_box(side, side, (1 / max_zoom, 1.), rng)
        patch = patch.resize((big, big), Image.BICUBIC,
                             box=(x, y, x + w, y + h))
        patch = TF.affine(
            patch, angle=rng.uniform(-degrees, degrees), translate=[0, 0],
            scale=1., shear=[rng.uniform(-shear, shear), 0.],
            interpolation=T.InterpolationMode.BILINEAR, fill=0)
        patch = TF.center_crop(patch, [size, size])
        if rng.random() < 0.5:
            patch = _color_jitter(patch, rng)
        yield patch


def make_single_image_dataset(image_path: str,
                              out: str,
                              num: int,
                              ext: str = 'png',
                              **kwargs) -> str:
    """Write :func:`single_image_patches` of ``image_path`` under
    ``<out>/train/single/``.

    Args:
        image_path (str): The source image.
        out (str): Dataset root (``data_root`` of the config).
        num (int): Number of patches.
        ext (str): ``'png'`` (lossless) or ``'jpeg'`` (the official
            files). Defaults to 'png'.
        **kwargs: The options of :func:`single_image_patches`.

    Returns:
        str: The folder the patches were written to.
    """
    if ext not in ('png', 'jpeg'):
        raise ValueError(f"ext must be 'png' or 'jpeg', got {ext!r}")
    folder = osp.join(out, 'train', CLASS)
    os.makedirs(folder, exist_ok=True)
    with Image.open(image_path) as image:
        for k, patch in enumerate(
                single_image_patches(image, num, **kwargs)):
            patch.save(osp.join(folder, f'patch_{k:07d}.{ext}'))
    return folder
