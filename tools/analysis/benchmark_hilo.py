# Copyright (c) mmvitplug contributors.
"""HiLo attention against plain multi-head self-attention of the same size
(LITv2's headline claim: HiLo is faster than MSA, more so on larger grids).

Both layers are :class:`mmvitplug.layers.HiLoAttention` with the same
channels and heads: HiLo with ``--window`` and ``--alpha`` (LITv2: 2 and
0.9), MSA with window 1 (every head attends to every token: plain MSA,
the same q / k / v / output projections). For each token grid, measured
interleaved in one process: tokens per second of a forward pass (eval,
no_grad), of a forward + backward pass, and the peak memory of the latter
(CPU: resident-set growth, as ``benchmark.py``); each the median over
``--repeats`` rounds after ``--warmup``, and the paired median ratio
HiLo / MSA (> 1: HiLo is faster; memory < 1: HiLo uses less).

Example (LITv2-S's third stage, 384 channels and 12 heads, on the grids
of 224, 448 and 896 px images)::

    python tools/analysis/benchmark_hilo.py --dim 384 --heads 12 \
        --grids 14 28 56 --batch 4 --threads 2 \
        --record litv2 hilo@msa:litv2-s-stage3

``--record FAMILY SUBJECT`` writes the paired ratios of each grid to the
model zoo's results (``docs/zoo/results/FAMILY.yml``) under ``SUBJECT``
(``hilo@msa:<where the layer's size comes from>``):
``speed/infer_<side>x<side>``, ``speed/train_<side>x<side>`` and
``speed/train_memory_<side>x<side>``.
"""
import argparse
import functools
import time

import torch
from benchmark import (PeakMemory, interleaved, medians, paired_ratios,
                       setup_process, sync)

from mmvitplug.layers import HiLoAttention
from mmvitplug.utils.zoo import add_record_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dim', type=int, default=384)
    parser.add_argument('--heads', type=int, default=12)
    parser.add_argument('--window', type=int, default=2)
    parser.add_argument('--alpha', type=float, default=0.9)
    parser.add_argument('--grids', type=int, nargs='+', default=[14, 28, 56],
                        help='sides of the square token grids')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    add_record_arguments(
        parser, 'the paired ratios HiLo / MSA of each grid '
        '(speed/infer_SxS, speed/train_SxS, speed/train_memory_SxS) under '
        'SUBJECT (e.g. hilo@msa:litv2-s-stage3)', subject=True)
    return parser.parse_args(argv)


def measure(layer, x, grid):
    """Forward tokens/s, forward + backward tokens/s, peak MiB."""
    device = x.device
    tokens = x.shape[0] * x.shape[1]
    layer.eval()
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        layer(x, grid)
    sync(device)
    infer = tokens / (time.perf_counter() - start)
    layer.train()
    xg = x.detach().requires_grad_()
    with PeakMemory(device) as mem:
        sync(device)
        start = time.perf_counter()
        layer(xg, grid).square().mean().backward()
        sync(device)
        train = tokens / (time.perf_counter() - start)
    return infer, train, mem.peak / 2**20


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    torch.manual_seed(0)
    layers = {
        f'HiLo (window {args.window}, alpha {args.alpha})':
        HiLoAttention(args.dim, args.heads, window_size=args.window,
                      alpha=args.alpha, qkv_bias=True).to(device),
        'MSA': HiLoAttention(args.dim, args.heads, window_size=1,
                             qkv_bias=True).to(device),
    }
    print(f'device={device} threads={args.threads} dim={args.dim} '
          f'heads={args.heads} batch={args.batch} repeats={args.repeats} '
          '(median)')
    print(f'{"grid":<8}{"layer":<28}{"infer tok/s":>13}{"train tok/s":>13}'
          f'{"train MiB":>11}')
    ratios_by_grid = {}
    for side in args.grids:
        grid = (side, side)
        x = torch.randn(args.batch, side * side, args.dim, device=device)
        runs = interleaved(
            {
                name: functools.partial(measure, layer, x, grid)
                for name, layer in layers.items()
            }, args.repeats, args.warmup)
        for name, results in runs.items():
            med = medians(results)
            print(f'{side}x{side:<5}{name:<28}{med[0]:>13.0f}{med[1]:>13.0f}'
                  f'{med[2]:>11.1f}')
        ratios = paired_ratios(*runs.values())  # HiLo / MSA
        print(f'{side}x{side:<5}{"ratio HiLo / MSA (paired)":<28}'
              f'{ratios[0]:>13.2f}{ratios[1]:>13.2f}{ratios[2]:>11.2f}')
        ratios_by_grid[side] = ratios
    if args.record:
        record(args, ratios_by_grid)
    return ratios_by_grid


def record(args, ratios_by_grid) -> None:
    """The paired ratios HiLo / MSA of each grid (side -> [infer, train,
    train memory]) into the zoo's results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    family, subject = args.record
    for side, ratios in ratios_by_grid.items():
        note = (f'HiLo (window {args.window}, alpha {args.alpha}) vs MSA, '
                f'{args.dim} channels, {args.heads} heads; {side}x{side} '
                f'grid, batch {args.batch}, {args.device}, {args.threads} '
                f'threads, {args.repeats} paired rounds')
        for metric, value in zip(('speed/infer', 'speed/train',
                                  'speed/train_memory'), ratios):
            record_result(family, subject, f'{metric}_{side}x{side}',
                          value=float(f'{value:.3g}'),
                          tool='tools/analysis/benchmark_hilo.py',
                          note=note, root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{family}.yml')


if __name__ == '__main__':
    main()
