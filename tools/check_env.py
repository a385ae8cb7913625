# Copyright (c) mmvitplug contributors.
"""Check that the installed stack is the known-good one and really works.

Exit code 0 when everything is fine; otherwise every problem is printed with
the command that fixes it. Used by ``tools/setup_env.sh`` (``make setup``).
"""
import argparse
import re
import sys
from importlib import metadata

#: distribution -> exact version (or a predicate description).
PINS = {
    'torch': '2.13.0',
    'torchvision': '0.28.0',
    'mmcv': '2.1.0',
    'mmengine': '0.10.7',
    'mmpretrain': '1.2.0',
    'mmdet': '3.3.0',
    'mmsegmentation': '1.2.2',
}
FIX = 'make setup   (or: bash tools/setup_env.sh)'


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_versions(problems):
    for dist, want in PINS.items():
        have = _version(dist)
        if have is None:
            problems.append(f'{dist} is not installed (need {want}); '
                            f'fix: {FIX}')
        elif have.split('+')[0] != want:
            problems.append(f'{dist} {have} is installed, {want} is needed; '
                            f'fix: {FIX}')
    torch_v, tv_v = _version('torch'), _version('torchvision')
    if torch_v and tv_v and torch_v.endswith('+cpu') and \
            not tv_v.endswith('+cpu'):
        problems.append(
            f'torch {torch_v} is the CPU-only local build, which has no '
            f'matching torchvision {tv_v}; fix: pip install '
            '-r requirements/torch.txt (it excludes the +cpu build)')
    numpy_v = _version('numpy')
    if numpy_v is None or int(numpy_v.split('.')[0]) >= 2:
        problems.append(f'numpy {numpy_v} found; mmcv 2.1 ops need numpy<2; '
                        "fix: pip install 'numpy<2'")


def check_imports(problems):
    try:
        import torch
        import torchvision
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]])
        keep = torchvision.ops.nms(boxes, torch.tensor([.9, .8]), 0.5)
        assert keep.tolist() == [0]
    except Exception as e:  # noqa: BLE001 - report every failure
        problems.append(f'torchvision ops do not load ({e!r}); torch and '
                        'torchvision must be a matching pair; fix: pip '
                        'install -r requirements/torch.txt')
        return
    try:
        import mmcv._ext  # noqa: F401
        from mmcv.ops import nms
        dets, _ = nms(boxes, torch.tensor([.9, .8]), 0.5)
        assert dets.shape[0] == 1
    except Exception as e:  # noqa: BLE001
        problems.append(
            f'mmcv compiled ops do not load ({e!r}); mmcv must be built '
            'against the installed torch; fix: delete the cached wheel '
            '(~/.cache/mmvitplug/wheels) and run ' + FIX)
        return
    for module in ('mmpretrain', 'mmdet', 'mmseg', 'mmvitplug'):
        try:
            __import__(module)
        except Exception as e:  # noqa: BLE001
            problems.append(f'import {module} fails: {e!r}; fix: {FIX}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quiet', action='store_true')
    args = parser.parse_args(argv)
    problems = []
    check_versions(problems)
    if not problems:
        check_imports(problems)
    if problems:
        print('mmvitplug environment check FAILED:', file=sys.stderr)
        for p in problems:
            print('  - ' + p, file=sys.stderr)
        return 1
    if not args.quiet:
        pinned = ', '.join(f'{k} {_version(k)}' for k in PINS)
        print(f'mmvitplug environment OK: {pinned}, numpy '
              f'{_version("numpy")}, python {re.sub(" .*", "", sys.version)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
