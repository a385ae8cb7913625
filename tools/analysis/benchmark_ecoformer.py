# Copyright (c) mmvitplug contributors.
"""EcoFormer attention against softmax attention as the number of tokens
grows (EcoFormer's claim: attention linear in the tokens,
https://arxiv.org/abs/2209.09004).

One attention layer of ``--arch``'s widths (DeiT-S: 384 dims, 6 heads) on
the tokens of a ``--patch`` patch grid plus a class token, at each
``--sizes`` input (224 / 448 / 896 px: 197 / 785 / 3137 tokens), three
ways, the same q / v / projection weights:

- ``softmax``: :class:`mmvitplug.layers.Attention` with its explicit path
  (``fused_attn=False``: the (N, N) weights are materialised, as the
  paper's MSA);
- ``softmax-fused``: the same layer on
  :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
  memory-efficient kernels: no (N, N) tensor kept, still O(N^2) time);
- ``ecoformer``: :class:`mmvitplug.layers.EcoFormerAttention` (16-bit
  codes, 25 anchors), its hash functions fit once beforehand on one image
  at the first size (anchors and ``A`` do not depend on N; the fit itself,
  once per k epochs, builds (N, N) targets and is not timed).

For each: the time of an inference forward and of a training step (forward
+ backward of the output's sum; on one CPU thread the CPU time of the
calling thread, where CPU ops and the CPU backward run, so that other
processes on the machine do not inflate it; else wall time), the bytes
saved for backward by the training forward
(:func:`mmvitplug.layers.count_saved_bytes`, unique storages, parameters
excluded) and the peak memory of the training step above the memory before
it (CUDA: ``max_memory_allocated``; CPU: resident set growth, as
``benchmark.py``). Rounds are interleaved (``--repeats`` after
``--warmup``); printed are medians, the paired ratios to ``softmax`` at the
same size, and the growth of each quantity from the first size (tokens x4
per step: linear is about x4, quadratic x16).

Example (CPU, one thread: CPU times, about 10 minutes)::

    python tools/analysis/benchmark_ecoformer.py --batch 4 --threads 1 \
        [--record ecoformer ecoformer-attention@softmax-attention]

``--record FAMILY SUBJECT`` writes the ``ecoformer`` rows' ratios to
``softmax`` at each size to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) under ``SUBJECT``:
``time/forward_<N>tok``, ``time/train_step_<N>tok``,
``memory/saved_for_backward_<N>tok`` and ``memory/train_peak_<N>tok`` (N
the tokens), on CUDA under ``time_<gpu>/...`` and ``memory_<gpu>/...``
(the last word of the GPU's name, e.g. ``time_h200/forward_197tok``).
"""
import argparse
import time

import torch
from benchmark import (PeakMemory, interleaved, medians, paired_ratios,
                       setup_process, sync)

from mmvitplug.layers import Attention, EcoFormerAttention, count_saved_bytes
from mmvitplug.models.backbones.deit import DeiT
from mmvitplug.utils.zoo import add_record_arguments, device_tag

TOOL = 'tools/analysis/benchmark_ecoformer.py'

MODES = ('softmax', 'softmax-fused', 'ecoformer')
#: the timer; main() sets the calling thread's CPU time on one CPU thread
CLOCK = [time.perf_counter]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='deit-small')
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[224, 448, 896])
    parser.add_argument('--patch', type=int, default=16)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--nbits', type=int, default=16)
    parser.add_argument('--num-anchors', type=int, default=25)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default=None,
                        help='default: cuda when available, else cpu')
    add_record_arguments(
        parser, 'the ecoformer / softmax ratios at each size '
        '(time/forward_<N>tok, time/train_step_<N>tok, '
        'memory/saved_for_backward_<N>tok, memory/train_peak_<N>tok; '
        'time_<gpu>/..., memory_<gpu>/... on CUDA) under SUBJECT (e.g. '
        'ecoformer-attention@softmax-attention)', subject=True)
    return parser.parse_args(argv)


def build(arch, nbits, num_anchors, device):
    """The three layers of :data:`MODES`, same weights."""
    settings = DeiT.arch_zoo[arch]
    dim, heads = settings['embed_dims'], settings['num_heads']
    torch.manual_seed(0)
    softmax = Attention(dim, heads, fused_attn=False)
    fused = Attention(dim, heads, fused_attn=True)
    fused.load_state_dict(softmax.state_dict())
    eco = EcoFormerAttention(dim, heads, nbits=nbits,
                             num_anchors=num_anchors)
    # the q rows of qkv -> to_qk, its v rows -> to_v, proj copied
    eco.load_state_dict(softmax.state_dict(), strict=False)
    layers = dict(zip(MODES, (softmax, fused, eco)))
    return {name: m.to(device) for name, m in layers.items()}, dim


def forward_ms(layer, x):
    layer.eval()
    sync(x.device)
    start = CLOCK[0]()
    with torch.no_grad():
        layer(x)
    sync(x.device)
    return (CLOCK[0]() - start) * 1e3


def train_ms(layer, x):
    layer.train()
    x = x.detach().requires_grad_()
    with PeakMemory(x.device) as mem:
        sync(x.device)
        start = CLOCK[0]()
        layer(x).sum().backward()
        sync(x.device)
        elapsed = (CLOCK[0]() - start) * 1e3
    layer.zero_grad(set_to_none=True)
    return elapsed, mem.peak / 2**20


def saved_mib(layer, x):
    layer.train()
    x = x.detach().requires_grad_()
    with count_saved_bytes(exclude=list(layer.parameters())) as saved:
        out = layer(x)
    del out
    return saved['bytes'] / 2**20


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    setup_process(device, args.threads)
    if device.type == 'cpu' and args.threads == 1:
        CLOCK[0] = time.thread_time
    layers, dim = build(args.arch, args.nbits, args.num_anchors, device)
    eco = layers['ecoformer']
    assert isinstance(eco, EcoFormerAttention)
    tokens = [(s // args.patch)**2 + 1 for s in args.sizes]
    torch.manual_seed(1)
    with torch.no_grad():  # fit once, on one image at the first size
        eco(torch.randn(1, tokens[0], dim, device=device))
    print(f'device {device}, {args.arch} attention (dim {dim}, '
          f'{eco.num_heads} heads), batch {args.batch}, patch {args.patch}, '
          f'EcoFormer {args.nbits} bits / {args.num_anchors} anchors, '
          f'{torch.get_num_threads()} threads, times: '
          f'{"thread CPU" if CLOCK[0] is time.thread_time else "wall"}, '
          f'medians of {args.repeats} '
          f'rounds; ratio: paired median of mode / softmax at the same '
          f'size; growth: / the same mode at {args.sizes[0]} px')
    print(f'{"px":>5}{"tokens":>7} {"mode":<14}{"fwd ms":>9}{"ratio":>7}'
          f'{"growth":>7}{"train ms":>10}{"ratio":>7}{"growth":>7}'
          f'{"saved MiB":>10}{"ratio":>7}{"growth":>7}{"peak MiB":>10}'
          f'{"ratio":>7}{"growth":>7}')
    first = {}
    results = {}
    for size, n in zip(args.sizes, tokens):
        torch.manual_seed(2)
        x = torch.randn(args.batch, n, dim, device=device)
        saved = {name: saved_mib(m, x) for name, m in layers.items()}
        steps = {
            name: (lambda m=m: (forward_ms(m, x), *train_ms(m, x)))
            for name, m in layers.items()
        }
        runs = interleaved(steps, args.repeats, args.warmup)
        for name in MODES:
            fwd, train, peak = medians(runs[name])
            fwd_r, train_r, peak_r = paired_ratios(runs[name],
                                                   runs['softmax'])
            values = (fwd, train, saved[name], peak)
            first.setdefault(name, values)
            results.setdefault(n, {})[name] = (
                fwd, fwd_r, train, train_r, saved[name],
                saved[name] / saved['softmax'], peak, peak_r)
            growth = [v / f if f else float('nan')
                      for v, f in zip(values, first[name])]
            print(f'{size:>5}{n:>7} {name:<14}{fwd:>9.2f}{fwd_r:>7.3f}'
                  f'{growth[0]:>7.2f}{train:>10.2f}{train_r:>7.3f}'
                  f'{growth[1]:>7.2f}{saved[name]:>10.1f}'
                  f'{saved[name] / saved["softmax"]:>7.3f}{growth[2]:>7.2f}'
                  f'{peak:>10.1f}{peak_r:>7.3f}{growth[3]:>7.2f}')
        del steps, runs
    if args.record:
        record(args, results, device,
               'thread CPU' if CLOCK[0] is time.thread_time else 'wall')


def record(args, results, device, clock) -> None:
    """The ``ecoformer`` rows' ratios to ``softmax`` into the zoo's results
    under the ``--record`` subject (see the module's docstring).

    Args:
        results (dict): tokens -> mode -> (fwd ms, its ratio, train ms, its
            ratio, saved MiB, its ratio, peak MiB, its ratio), as printed.
        clock (str): ``thread CPU`` or ``wall``, the times' clock.
    """
    from mmvitplug.utils.zoo import record_result
    family, subject = args.record
    device = torch.device(device)
    where = (torch.cuda.get_device_name(device)
             if device.type == 'cuda' else 'cpu')
    group = device_tag(device)
    for n, modes in results.items():
        soft, eco = modes['softmax'], modes['ecoformer']
        conditions = (
            f'one {args.arch} attention layer (projections included), '
            f'{where}, batch {args.batch}, {args.threads} thread(s), '
            f'{clock} time, {args.repeats} paired rounds, EcoFormer '
            f'{args.nbits} bits / {args.num_anchors} anchors; EcoFormer / '
            f'explicit softmax at {n} tokens')
        for metric, i, unit in (
                (f'time{group}/forward_{n}tok', 0, 'ms'),
                (f'time{group}/train_step_{n}tok', 2, 'ms'),
                (f'memory{group}/saved_for_backward_{n}tok', 4, 'MiB'),
                (f'memory{group}/train_peak_{n}tok', 6, 'MiB')):
            record_result(
                family, subject, metric, value=float(f'{eco[i + 1]:.3g}'),
                tool=TOOL, note=f'{conditions} ({soft[i]:.4g} -> '
                f'{eco[i]:.4g} {unit})', root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{family}.yml')


if __name__ == '__main__':
    main()
