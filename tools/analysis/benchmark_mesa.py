# Copyright (c) mmvitplug contributors.
"""Mesa (8-bit saved activations) against full-precision training of the
same DeiT (Mesa's headline claim: DeiT-Ti / DeiT-S train in less than half
the memory, https://arxiv.org/abs/2111.11124).

Three copies of one ``mmvitplug.DeiT`` (``--archs``) with a 1000-class
linear head, the same weights: ``fp32`` as configured by default (fused
attention), ``fp32-explicit`` (``fused_attn=False``, the attention path
Mesa quantises) and ``mesa``, converted by
:func:`mmvitplug.layers.convert_to_mesa` with the official DeiT policy
(fc, matmul, softmax, GELU, LayerNorm in ``num_heads`` groups, head
included, patch-embedding conv in full precision). For each:

- the bytes saved for backward by one training forward, counted with
  :func:`torch.autograd.graph.saved_tensors_hooks`
  (:func:`mmvitplug.layers.count_saved_bytes`: unique storages, parameters
  excluded);
- the peak memory of a training step (forward, cross entropy, backward,
  SGD step) above the memory before it: on CUDA
  ``torch.cuda.max_memory_allocated``, on CPU the resident-set growth
  (as ``benchmark.py``, with ``MALLOC_MMAP_THRESHOLD_`` set so freed
  tensors leave the resident set);
- training images per second.

Steps are interleaved over ``--repeats`` rounds after ``--warmup``;
reported are medians and the paired median ratios to ``fp32`` (< 1: less
memory / slower). CUDA is used when present unless ``--device`` says
otherwise.

With ``--amp bfloat16`` (or ``float16`` on CUDA) every mode runs under
autocast and is compared with ``fp32`` under the same autocast. The last
column is the relative error of all parameter gradients of one backward
against ``fp32``'s on the same batch.

Example (CPU, 2 threads, a few minutes)::

    python tools/analysis/benchmark_mesa.py --archs deit-tiny deit-small \
        --batch 8 --threads 2 [--record mesa]

``--record FAMILY`` writes the ``mesa`` rows' ratios to ``fp32`` to the
model zoo's results (``docs/zoo/results/FAMILY.yml``) under
``mesa-<arch>@<arch>``: ``memory/saved_for_backward`` (bytes saved for
backward), ``speed/train_memory`` (peak step memory) and ``speed/train``
(training img/s), each name suffixed with ``_bf16`` / ``_fp16`` under
``--amp`` and then, on CUDA, with ``_<gpu>`` (the last word of the GPU's
name, e.g. ``memory/saved_for_backward_bf16_h200``).
"""
import argparse
import copy

import torch
from benchmark import (Classifier, interleaved, medians, paired_ratios,
                       setup_process, train_step)

from mmvitplug.layers import convert_to_mesa, count_saved_bytes
from mmvitplug.models.backbones.deit import DeiT
from mmvitplug.utils.zoo import add_record_arguments, device_tag

TOOL = 'tools/analysis/benchmark_mesa.py'
#: --amp -> the suffix of the recorded metrics
AMP_SUFFIX = {'bfloat16': '_bf16', 'float16': '_fp16'}

#: the official DeiT policy (HubHop/deit-mesa config/policy_tiny-8bit.txt)
OFFICIAL_OPS = ('linear', 'matmul', 'softmax', 'gelu', 'layernorm')
MODES = ('fp32', 'fp32-explicit', 'mesa')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+',
                        default=['deit-tiny', 'deit-small'])
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default=None,
                        help='default: cuda when available, else cpu')
    parser.add_argument('--amp', choices=['bfloat16', 'float16'],
                        default=None,
                        help='run every mode under autocast of this dtype '
                        '(float16: CUDA only); the ratios are then to fp32 '
                        'under the same autocast')
    add_record_arguments(
        parser, 'each arch\'s Mesa / fp32 ratios (memory/saved_for_backward, '
        'speed/train_memory, speed/train; suffixed with the autocast and '
        'the GPU) under mesa-<arch>@<arch>')
    args = parser.parse_args(argv)
    if args.amp == 'float16' and args.device == 'cpu':
        parser.error('--amp float16 needs CUDA; use bfloat16 on CPU')
    return args


class Autocast(torch.nn.Module):
    """A model run under ``torch.autocast``, float32 logits out."""

    def __init__(self, model, dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, x):
        with torch.autocast(x.device.type, dtype=self.dtype):
            return self.model(x).float()


def grad_error(model, ref, x, y):
    """Relative error ||g - g_ref|| / ||g_ref|| of all parameter gradients
    of one cross-entropy backward on the same batch."""
    grads = []
    for m in (model, ref):
        m.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x), y).backward()
        grads.append(torch.cat([p.grad.flatten() for p in m.parameters()]))
        m.zero_grad(set_to_none=True)
    return ((grads[0] - grads[1]).norm() / grads[1].norm()).item()


def classifier(arch, fused_attn=True):
    """``mmvitplug.DeiT`` + a 1000-class linear head on the class token."""
    backbone = DeiT(arch=arch, fused_attn=fused_attn)
    return Classifier(backbone, backbone.embed_dims)


def build(arch, device):
    """The three models of :data:`MODES`, same weights."""
    torch.manual_seed(0)
    base = classifier(arch)
    explicit = classifier(arch, fused_attn=False)
    explicit.load_state_dict(base.state_dict())
    mesa = copy.deepcopy(base)
    heads = DeiT.arch_zoo[arch]['num_heads']
    convert_to_mesa(mesa, dict(ops=OFFICIAL_OPS, num_groups=heads))
    return {
        name: m.to(device).train()
        for name, m in zip(MODES, (base, explicit, mesa))
    }


def saved_bytes(model, x):
    """Bytes saved for backward by a training forward (no backward)."""
    with count_saved_bytes(exclude=list(model.parameters())) as saved:
        out = model(x)
    del out
    return saved['bytes']


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    setup_process(device, args.threads)
    if args.amp == 'float16' and device.type != 'cuda':
        raise SystemExit('--amp float16 needs CUDA; use bfloat16 on CPU')
    print(f'device {device}, batch {args.batch}, {args.img_size} px, '
          f'{torch.get_num_threads()} threads, autocast {args.amp}, medians '
          f'of {args.repeats} rounds; ratios: paired medians of mode / fp32; '
          'grad err: relative to fp32 (the same autocast)')
    header = (f'{"arch":<11}{"mode":<15}{"saved MiB":>10}{"ratio":>7}'
              f'{"peak MiB":>10}{"ratio":>7}{"img/s":>8}{"ratio":>7}'
              f'{"grad err":>10}')
    print(header)
    results = {}
    for arch in args.archs:
        models = build(arch, device)
        if args.amp is not None:
            models = {
                name: Autocast(m, getattr(torch, args.amp))
                for name, m in models.items()
            }
        torch.manual_seed(1)
        x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                        device=device)
        y = torch.randint(0, 1000, (args.batch, ), device=device)
        saved = {name: saved_bytes(m, x) for name, m in models.items()}
        errors = {
            name: grad_error(m, models['fp32'], x, y)
            for name, m in models.items()
        }
        steps = {
            name: (lambda m=m, o=torch.optim.SGD(m.parameters(), lr=1e-4):
                   train_step(m, o, x, y))
            for name, m in models.items()
        }
        runs = interleaved(steps, args.repeats, args.warmup)
        results[arch] = {}
        for name in MODES:
            speed, peak = medians(runs[name])
            speed_r, peak_r = paired_ratios(runs[name], runs['fp32'])
            results[arch][name] = (saved[name] / 2**20,
                                   saved[name] / saved['fp32'], peak, peak_r,
                                   speed, speed_r, errors[name])
            print(f'{arch:<11}{name:<15}{saved[name] / 2**20:>10.1f}'
                  f'{saved[name] / saved["fp32"]:>7.3f}{peak:>10.1f}'
                  f'{peak_r:>7.3f}{speed:>8.2f}{speed_r:>7.3f}'
                  f'{errors[name]:>10.2e}')
        del models, steps, runs
    if args.record:
        record(args, results, device)


def metric_suffix(amp, device) -> str:
    """``_bf16`` / ``_fp16`` under autocast, then ``_<gpu>`` on CUDA (the
    last word of the GPU's name in lower case, e.g. ``_bf16_h200``)."""
    return AMP_SUFFIX.get(amp, '') + device_tag(device)


def record(args, results, device) -> None:
    """The ``mesa`` rows' ratios to ``fp32`` into the zoo's results under
    ``mesa-<arch>@<arch>`` (see the module's docstring).

    Args:
        results (dict): arch -> mode -> (saved MiB, its ratio, peak MiB,
            its ratio, img/s, its ratio, grad err), as printed.
    """
    from mmvitplug.utils.zoo import record_result
    device = torch.device(device)
    where = (torch.cuda.get_device_name(device)
             if device.type == 'cuda' else 'cpu')
    conditions = (f'{where}, batch {args.batch}, {args.img_size} px, '
                  f'{args.threads} thread(s), autocast {args.amp}, '
                  f'{args.repeats} paired rounds; Mesa / fp32')
    suffix = metric_suffix(args.amp, device)
    for arch, modes in results.items():
        subject = f'mesa-{arch}@{arch}'
        plain, mesa = modes['fp32'], modes['mesa']
        for metric, i, unit in (('memory/saved_for_backward', 0, 'MiB'),
                                ('speed/train_memory', 2, 'MiB peak'),
                                ('speed/train', 4, 'img/s')):
            record_result(
                args.record, subject, metric + suffix,
                value=float(f'{mesa[i + 1]:.3g}'), tool=TOOL,
                note=f'{conditions} ({plain[i]:.4g} -> {mesa[i]:.4g} '
                f'{unit})', root=args.results_root)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
