# Copyright (c) mmvitplug contributors.
"""The DCNv3 operator against a reference implementation of it: speed and
memory of forward and forward + backward at InternImage's shapes.

:func:`mmvitplug.layers.dcnv3_sample` against a function with the
signature of the official ``dcnv3_core_pytorch`` (OpenGVLab/InternImage
``ops_dcnv3/functions/dcnv3_func.py``; ``--reference-module PATH
--reference-fn NAME``, a local copy: nothing of it is shipped here), on
the same random inputs, offsets and masks: the four levels of an
InternImage arch (channels and groups per level, maps of
``img_size / 2**(i + 2)``). Both are measured interleaved in one process;
each number is the median over ``--repeats`` rounds after ``--warmup``,
and the ratio ours / reference is the median of the per-round ratios
(> 1: ours is faster; memory < 1: ours uses less). The largest output
difference is printed too.

Example (InternImage-T at 224, batch 8, 2 CPU threads)::

    python tools/analysis/benchmark_dcnv3.py --arch internimage-t \
        --reference-module ~/InternImage/dcnv3_ref.py \
        --reference-fn dcnv3_core_pytorch --threads 2 \
        --record internimage dcnv3@official:dcnv3_core_pytorch

``--record FAMILY SUBJECT`` writes the range over the four levels of each
ratio to the model zoo's results (``docs/zoo/results/FAMILY.yml``) under
``SUBJECT`` (``dcnv3@<reference>``): ``speed/infer`` and
``speed/infer_memory`` (forward), ``speed/train`` and
``speed/train_memory`` (forward + backward).
"""
import argparse
import functools
import importlib.util
import os
import sys
import time

import torch
from benchmark import (PeakMemory, interleaved, medians, paired_ratios,
                       setup_process, sync)

from mmvitplug.layers import dcnv3_sample
from mmvitplug.models.backbones import InternImage
from mmvitplug.utils.zoo import add_record_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='internimage-t')
    parser.add_argument('--reference-module', required=True)
    parser.add_argument('--reference-fn', default='dcnv3_core_pytorch')
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    add_record_arguments(
        parser, 'the range over the levels of each ratio ours / reference '
        '(speed/infer, speed/infer_memory, speed/train, speed/train_memory) '
        'under SUBJECT (e.g. dcnv3@official:dcnv3_core_pytorch)',
        subject=True)
    return parser.parse_args(argv)


def load_reference(path, name):
    path = os.path.expanduser(path)
    spec = importlib.util.spec_from_file_location('dcnv3_reference', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise ValueError(f"{path} has no function '{name}'")
    return getattr(module, name)


def ours(x, offset, mask, groups, offset_scale):
    return dcnv3_sample(x, offset, mask, 3, groups, padding=1,
                        offset_scale=offset_scale)


def official(fn, x, offset, mask, groups, offset_scale):
    return fn(x, offset, mask, 3, 3, 1, 1, 1, 1, 1, 1, groups,
              x.shape[-1] // groups, offset_scale, 0)


def step(op, inputs, grad):
    """One call: (calls/s, peak MiB), forward only or with backward."""
    inputs = [t.detach().requires_grad_(grad) for t in inputs[:3]] + \
        list(inputs[3:])
    with PeakMemory(inputs[0].device) as mem:
        sync(inputs[0].device)
        start = time.perf_counter()
        with torch.set_grad_enabled(grad):
            out = op(*inputs)
            if grad:
                out.square().sum().backward()
        sync(inputs[0].device)
        elapsed = time.perf_counter() - start
    return 1 / elapsed, mem.peak / 2**20


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    reference = functools.partial(
        official, load_reference(args.reference_module, args.reference_fn))
    with torch.device('meta'):
        model = InternImage(args.arch)
    settings = model.arch_settings
    print(f'device={device} threads={args.threads} arch={args.arch} '
          f'img={args.img_size} batch={args.batch} repeats={args.repeats} '
          '(median; ratio = ours / reference, paired)')
    print(f'{"level":<7}{"pass":<10}{"ours it/s":>11}{"ref it/s":>10}'
          f'{"speed x":>9}{"ours MiB":>10}{"ref MiB":>9}{"mem x":>7}'
          f'{"max diff":>10}')
    gen = torch.Generator().manual_seed(0)
    results = {}
    for level, (dims, groups) in enumerate(
            zip(model.embed_dims, settings['groups'])):
        side = -(-args.img_size // 2**(level + 2))
        shape = (args.batch, side, side)
        x = torch.randn(*shape, dims, generator=gen).to(device)
        offset = torch.randn(*shape, groups * 18, generator=gen).to(device)
        mask = torch.randn(*shape, groups, 9, generator=gen).softmax(-1)
        mask = mask.flatten(3).to(device)
        inputs = (x, offset, mask, groups,
                  settings.get('offset_scale', 1.))
        with torch.no_grad():
            diff = (ours(*inputs) - reference(*inputs)).abs().max().item()
        results[level] = dict(diff=diff)
        for name, grad in (('forward', False), ('fwd+bwd', True)):
            runs = interleaved(
                {
                    'ours': functools.partial(step, ours, inputs, grad),
                    'ref': functools.partial(step, reference, inputs, grad)
                }, args.repeats, args.warmup)
            mine, theirs = medians(runs['ours']), medians(runs['ref'])
            ratios = paired_ratios(runs['ours'], runs['ref'])
            print(f'{level:<7}{name:<10}{mine[0]:>11.2f}{theirs[0]:>10.2f}'
                  f'{ratios[0]:>9.2f}{mine[1]:>10.1f}{theirs[1]:>9.1f}'
                  f'{ratios[1]:>7.2f}{diff:>10.1e}')
            results[level][name] = ratios
    if args.record:
        record(args, results)
    return results


def record(args, results) -> None:
    """The range over the levels of each paired ratio (results: level ->
    ``forward`` / ``fwd+bwd`` -> [speed, memory], and ``diff``) into the
    zoo's results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    family, subject = args.record
    diff = max(r['diff'] for r in results.values())
    conditions = (f'our DCNv3 op vs {args.reference_fn} on the '
                  f'{len(results)} levels of {args.arch} at {args.img_size}, '
                  f'batch {args.batch}, {args.device}, {args.threads} '
                  f'threads, {args.repeats} paired rounds; max difference '
                  f'{diff:.1e}')
    for name, metrics, what in (
            ('forward', ('speed/infer', 'speed/infer_memory'),
             ('forward', 'forward memory')),
            ('fwd+bwd', ('speed/train', 'speed/train_memory'),
             ('forward + backward', 'memory with backward'))):
        for i, metric in enumerate(metrics):
            ratios = [r[name][i] for r in results.values()]
            record_result(family, subject, metric,
                          range=[float(f'{min(ratios):.3g}'),
                                 float(f'{max(ratios):.3g}')],
                          tool='tools/analysis/benchmark_dcnv3.py',
                          note=f'{conditions}; {what[i]}',
                          root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{family}.yml')


if __name__ == '__main__':
    main()
