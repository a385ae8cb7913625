# Copyright (c) mmvitplug contributors.
"""Convert an official checkpoint to the mmvitplug layout.

Usage::

    python tools/model_converters/convert.py BACKBONE SRC DST

``BACKBONE`` is the mmvitplug backbone type whose converter to use, one of
the registered converters (:func:`mmvitplug.converters.registered_converters`:
``CaiT``, ``DeiT``, ``PatchConvNet``, ``ResMLP``), in any letter case and
optionally with the ``mmvitplug.`` scope. ``SRC`` must be in that
backbone's official (or timm) layout, as its converter recognises it;
``{'model': ...}`` wrappers and DDP's ``module.`` prefix are removed first.
Example::

    python tools/model_converters/convert.py DeiT \
        deit_tiny_patch16_224-a1311bcf.pth deit-tiny_in1k.pth

The output ``{'state_dict': ..., 'meta': {...}}`` (classifier keys
``backbone.*`` / ``head.*``) loads with ``load_from=`` or
``init_cfg=dict(type='Pretrained', checkpoint=...)``.
"""
import argparse
import hashlib
import os.path as osp
from typing import List, Optional

import torch

from mmvitplug.converters import (get_converter, prepare_state_dict,
                                  recognising_converters,
                                  registered_converters)


def backbone_type(name: str) -> str:
    """The registered spelling of a backbone type name (argparse type)."""
    try:
        return get_converter(name).name
    except KeyError:
        raise argparse.ArgumentTypeError(
            f'no converter is registered for backbone {name!r}; choose '
            f'from {registered_converters()} (any letter case)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official checkpoint to mmvitplug keys.')
    parser.add_argument(
        'backbone',
        type=backbone_type,
        choices=registered_converters(),
        metavar='BACKBONE',
        help='mmvitplug backbone type of the checkpoint, one of '
        f'{registered_converters()} (case-insensitive)')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    converter = get_converter(args.backbone)
    # Downloaded checkpoints are untrusted: load tensors only.
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = prepare_state_dict(checkpoint)
    if not converter.recognises(state_dict):
        others = recognising_converters(state_dict)
        raise SystemExit(
            f'{args.src} is not in the official {converter.name} layout '
            f'(recognised by {converter.recognise!r}); '
            + (f'it looks like {others}: pass that backbone instead'
               if others else 'no registered converter recognises it, keys '
               f'look like {list(state_dict)[:5]}'))
    state_dict = converter.fn(state_dict)
    with open(args.src, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    meta = dict(
        converter=converter.name,
        source=osp.basename(args.src),
        source_sha256=sha256,
        num_tensors=len(state_dict))
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    print(f'Converted {len(state_dict)} tensors of {args.src} '
          f'({converter.name}) to {args.dst}')
    return meta


if __name__ == '__main__':
    main()
