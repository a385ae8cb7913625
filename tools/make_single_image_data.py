# Copyright (c) mmvitplug contributors.
"""Write the training set of single-image distillation: augmented patches of
one image, in the ImageNet folder layout (``<out>/train/single/``).

Usage::

    python tools/make_single_image_data.py IMAGE OUT --num 50000 --size 32

The options are those of the official generator (Asano & Saeed 2023,
https://arxiv.org/abs/2112.00725; its defaults: 32 px, initial crop 0.5,
inverse scale 500, rotation and shear 30 degrees); see
:mod:`mmvitplug.utils.single_image`.
"""
import argparse

from mmvitplug.utils.single_image import make_single_image_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image', help='the one source image')
    parser.add_argument('out', help='dataset root (data_root of a config)')
    parser.add_argument('--num', type=int, default=50000,
                        help='number of patches (official default 50000)')
    parser.add_argument('--size', type=int, default=32, help='patch side')
    parser.add_argument('--init-crop', type=float, default=0.5)
    parser.add_argument('--max-zoom', type=float, default=500.)
    parser.add_argument('--degrees', type=float, default=30.)
    parser.add_argument('--shear', type=float, default=30.)
    parser.add_argument('--ext', choices=['png', 'jpeg'], default='png')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    folder = make_single_image_dataset(
        args.image, args.out, args.num, ext=args.ext, size=args.size,
        init_crop=args.init_crop, max_zoom=args.max_zoom,
        degrees=args.degrees, shear=args.shear, seed=args.seed)
    print(f'{args.num} patches of {args.image} in {folder}')


if __name__ == '__main__':
    main()
