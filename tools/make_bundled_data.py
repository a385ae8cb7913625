# Copyright (c) mmvitplug contributors.
"""Generate the small datasets bundled with mmvitplug (used by `make demo`).

Run from the repository root (the configs' data paths are relative to it)::

    python tools/make_bundled_data.py [--out data/bundled] [--force]
        [--only digits shapes-coco shapes-ade]

Datasets that already exist with the same generator version and parameters
are skipped.
"""
import argparse
import time
from pathlib import Path

from mmvitplug.utils.bundled_data import DATASET_NAMES, make_all


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the bundled demo datasets')
    parser.add_argument(
        '--out', default='data/bundled',
        help='output root, one sub-directory per dataset '
        '(default: data/bundled)')
    parser.add_argument(
        '--force', action='store_true',
        help='regenerate even when an identical dataset exists')
    parser.add_argument(
        '--only', nargs='+', choices=DATASET_NAMES, default=DATASET_NAMES,
        metavar='NAME',
        help=f'datasets to generate, from {list(DATASET_NAMES)} '
        '(default: all)')
    return parser.parse_args(argv)


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob('*')
               if p.is_file()) / 2**20


def _describe(counts: dict) -> str:
    parts = []
    for split, count in counts.items():
        if isinstance(count, dict):
            count = ', '.join(f'{v} {k}' for k, v in count.items())
        parts.append(f'{split}: {count}')
    return '; '.join(parts)


def main(argv=None):
    args = parse_args(argv)
    for name in args.only:
        start = time.perf_counter()
        summary = make_all(args.out, force=args.force, only=[name])[name]
        seconds = time.perf_counter() - start
        print(f"{name:12s} {summary['status']:8s} {summary['path']} "
              f"({_describe(summary['counts'])}; "
              f"{_size_mb(Path(summary['path'])):.1f} MB, {seconds:.1f} s)")


if __name__ == '__main__':
    main()
