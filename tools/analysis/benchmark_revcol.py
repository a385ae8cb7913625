# Copyright (c) mmvitplug contributors.
"""RevCol's reversible columns against the plain ones: training memory and
speed (RevCol's claim: the reversible backward saves the activations of
every column but their outputs, for some recomputation).

The same :class:`mmvitplug.RevCol` weights with ``reversible=True`` and
``False`` (plus a 1000-class linear head on the pooled last level), for
each image size, measured interleaved in one process: training images per
second (forward, cross entropy, backward, SGD step) and the peak memory of
a training step (CPU: resident-set growth, as ``benchmark.py``; CUDA:
``max_memory_allocated``); each the median over ``--repeats`` rounds after
``--warmup``, and the paired median ratio reversible / plain (memory < 1:
the reversible columns use less).

Example (RevCol-T, 224 and 448 px, batch 4, 2 CPU threads)::

    python tools/analysis/benchmark_revcol.py --arch revcol-t \
        --sizes 224 448 --batch 4 --threads 2 --record revcol

``--record FAMILY`` writes the paired ratios to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) under ``<arch>-reversible@<arch>-plain``:
``speed/train`` and ``speed/train_memory`` of 224 px images,
``speed/train_<size>px`` and ``speed/train_memory_<size>px`` of the
other sizes.
"""
import argparse
import copy
import functools

import torch
import torch.nn as nn
from benchmark import (interleaved, medians, paired_ratios, setup_process,
                       train_step)

from mmvitplug.models.backbones import RevCol
from mmvitplug.utils.zoo import add_record_arguments

#: the image side whose ratios are recorded without a size suffix
RECORD_SIZE = 224


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='revcol-t')
    parser.add_argument('--sizes', type=int, nargs='+', default=[224],
                        help='sides of the square images')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--drop-path', type=float, default=0.1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    add_record_arguments(
        parser, 'the paired ratios reversible / plain under '
        '<arch>-reversible@<arch>-plain (speed/train, speed/train_memory; '
        'sizes other than 224: speed/train_<size>px, '
        'speed/train_memory_<size>px)')
    return parser.parse_args(argv)


class Classifier(nn.Module):
    """The backbone, the mean of its last map, a linear layer."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.channels[-1], 1000)

    def forward(self, x):
        return self.head(self.backbone(x)[-1].mean((2, 3)))


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    torch.manual_seed(0)
    reversible = Classifier(
        RevCol(args.arch, drop_path_rate=args.drop_path)).to(device)
    plain = copy.deepcopy(reversible)
    plain.backbone.reversible = False
    models = {'reversible': reversible, 'plain': plain}
    optimizers = {
        name: torch.optim.SGD(model.parameters(), lr=1e-4)
        for name, model in models.items()
    }
    print(f'device={device} threads={args.threads} arch={args.arch} '
          f'batch={args.batch} repeats={args.repeats} (median)')
    print(f'{"size":<8}{"columns":<30}{"train img/s":>13}{"train MiB":>11}')
    by_size = {}
    for size in args.sizes:
        x = torch.randn(args.batch, 3, size, size, device=device)
        y = torch.randint(0, 1000, (args.batch, ), device=device)
        runs = interleaved(
            {
                name: functools.partial(train_step, model, optimizers[name],
                                        x, y)
                for name, model in models.items()
            }, args.repeats, args.warmup)
        by_size[size] = {}
        for name, results in runs.items():
            med = by_size[size][name] = medians(results)
            print(f'{size:<8}{name:<30}{med[0]:>13.2f}{med[1]:>11.1f}')
        ratios = paired_ratios(*runs.values())  # reversible / plain
        print(f'{size:<8}{"ratio reversible / plain":<30}{ratios[0]:>13.2f}'
              f'{ratios[1]:>11.2f}')
        by_size[size]['ratios'] = ratios
    if args.record:
        record(args, by_size)
    return by_size


def record(args, by_size) -> None:
    """The paired ratios reversible / plain of each size (size ->
    ``ratios``, ``reversible`` and ``plain`` medians: [img/s, MiB]) into
    the zoo's results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    subject = f'{args.arch}-reversible@{args.arch}-plain'
    for size, res in by_size.items():
        suffix = '' if size == RECORD_SIZE else f'_{size}px'
        note = (f'reversible vs plain columns, {args.arch}, {size} px, '
                f'batch {args.batch}, drop path {args.drop_path}, '
                f'{args.device}, {args.threads} threads, {args.repeats} '
                'paired rounds; ')
        rev, plain = res['reversible'], res['plain']
        for metric, ratio, what in (
                ('speed/train', res['ratios'][0],
                 f'{rev[0]:.2f} vs {plain[0]:.2f} img/s'),
                ('speed/train_memory', res['ratios'][1],
                 f'{rev[1]:.0f} vs {plain[1]:.0f} MiB')):
            record_result(args.record, subject, metric + suffix,
                          value=float(f'{ratio:.3g}'),
                          tool='tools/analysis/benchmark_revcol.py',
                          note=note + what, root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
