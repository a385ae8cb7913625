# Copyright (c) mmvitplug contributors.
"""Convert an official checkpoint to the mmvitplug layout.

Example::

    python tools/model_converters/convert.py deit \
        deit_tiny_patch16_224-a1311bcf.pth deit-tiny_in1k.pth

The output ``{'state_dict': ..., 'meta': {...}}`` loads with
``load_from=`` or ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import argparse
import hashlib
import os.path as osp
from typing import List, Optional

import torch

from mmvitplug.converters import CONVERTERS


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official checkpoint to mmvitplug keys.')
    parser.add_argument('family', choices=sorted(CONVERTERS),
                        help='model family of the checkpoint')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    # Downloaded checkpoints are untrusted: load tensors only.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = CONVERTERS[args.family](checkpoint)
    with open(args.src, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    meta = dict(
        converter=args.family,
        source=osp.basename(args.src),
        source_sha256=sha256,
        num_tensors=len(state_dict))
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'Converted {len(state_dict)} tensors of {args.src} '
          f'({args.family}) to {args.dst}')
    return meta


if __name__ == '__main__':
    main()
