# Copyright (c) mmvitplug contributors.
"""Export the backbone of a pretraining checkpoint.

Usage::

    python tools/model_converters/export_backbone.py CONFIG SRC DST \
        [--prefix teacher.module.backbone]

``CONFIG`` is the pretraining config: its model class says where the
backbone to export is (``pretrained_backbone``: the EMA teacher for DINO;
``backbone`` for mmpretrain's self-supervisors and for classifiers);
``--prefix`` overrides it (e.g. ``backbone`` for DINO's student). The
output ``{'state_dict': {'backbone.*': ...}, 'meta': {...}}`` loads in
classification, Mask R-CNN and UperNet configs through
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``
and in k-NN configs with ``tools/test.py KNN_CONFIG DST``.
"""
import argparse
import os.path as osp
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.registry import MODELS

from mmvitplug.utils.export import export_backbone, pretrained_backbone_of


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the backbone weights of a pretraining checkpoint')
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('src', help='pretraining checkpoint (.pth)')
    parser.add_argument('dst', help='output path')
    parser.add_argument(
        '--prefix',
        help='state-dict prefix of the backbone to export (default: the '
        "model class's pretrained_backbone, else 'backbone')")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    import mmvitplug  # noqa: F401  (registers the algorithms)
    cfg = Config.fromfile(args.config)
    prefix = args.prefix
    if prefix is None:
        scope = cfg.get('default_scope', 'mmpretrain')
        # unscoped types (mmpretrain's SimCLR...) resolve in the default scope
        with MODELS.switch_scope_and_registry(scope) as registry:
            model_cls = registry.get(cfg.model['type'])
        if model_cls is None:
            raise SystemExit(f"model type {cfg.model['type']!r} of "
                             f'{args.config} is not registered')
        prefix = pretrained_backbone_of(model_cls)
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    state_dict = checkpoint.get('state_dict', checkpoint)
    try:
        weights = export_backbone(state_dict, prefix)
    except KeyError as e:
        raise SystemExit(f'{args.src}: {e.args[0]}')
    meta = dict(
        source=osp.basename(args.src),
        config=osp.basename(args.config),
        exported=prefix,
        num_tensors=len(weights))
    torch.save(dict(state_dict=weights, meta=meta), args.dst)
    print(f'Exported {len(weights)} tensors of {prefix} from {args.src} '
          f'to {args.dst}')
    return meta


if __name__ == '__main__':
    main()
