# Copyright (c) mmvitplug contributors.
"""BiMLP's efficiency claim (https://arxiv.org/abs/2212.14158: a binary
vision MLP far cheaper in operations and storage than its full-precision
counterpart): a binary ``mmvitplug.BiMLP`` classifier against its
full-precision twin (``binary=False``: the same modules and parameters,
every binary convolution a real one), measured in the same run.

For each arch (``--archs``: ``digits``, the bundled digits arch of
``configs/bundled/bimlp/`` on 32 px images, or a zoo name, ``bimlp-s`` /
``bimlp-m`` on 224 px images) both models (backbone, global pooling and
the full-precision linear classifier) are counted by
:func:`mmvitplug.layers.count_ops` (multiply-adds of every convolution and
linear layer for one image: BOPs of the binary convolutions, FLOPs of the
others; the paper's ``OPs = BOPs / 64 + FLOPs``) and
:func:`mmvitplug.layers.param_bits` (1 bit a binary weight plus a 32-bit
scale per output channel, 32 bits every other parameter). Printed: BOPs,
FLOPs and OPs (M), parameters and size (MB), and the ratios binary / twin.

Example (CPU, seconds)::

    python tools/analysis/benchmark_bimlp.py --archs digits bimlp-s bimlp-m \
        --record bimlp

``--record FAMILY`` writes, per arch, how many times fewer OPs
(``ops/reduction``, twin / binary) and how many times smaller
(``size/reduction``) the binary model is to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) under ``<arch>@<arch>-fp``
(``bimlp-7l16d-p4@bimlp-fp-7l16d-p4`` for ``digits``, after the bundled
configs' names).
"""
import argparse

import torch
import torch.nn as nn

from mmvitplug.layers import count_ops, param_bits
from mmvitplug.models.backbones import BiMLP
from mmvitplug.utils.zoo import add_record_arguments

#: the bundled digits arch (configs/bundled/bimlp/)
DIGITS = dict(
    depths=(1, 1, 1, 1), embed_dims=(16, 32, 64, 128), mlp_ratios=(4, 4, 4, 4))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['digits', 'bimlp-s'])
    add_record_arguments(
        parser, 'ops/reduction and size/reduction (twin / binary) of each '
        'arch under <arch>@<arch>-fp (digits: '
        'bimlp-7l16d-p4@bimlp-fp-7l16d-p4)')
    return parser.parse_args(argv)


class Classifier(nn.Module):
    """A BiMLP backbone (pooled) and a full-precision linear classifier."""

    def __init__(self, arch, binary: bool, num_classes: int):
        super().__init__()
        self.backbone = BiMLP(arch, binary=binary, out_type='avg_featmap')
        self.fc = nn.Linear(self.backbone.embed_dims[-1], num_classes)

    def forward(self, x):
        return self.fc(self.backbone(x)[-1])


def measure(arch: str):
    """Rows (model, counts) of the binary model and its twin, and the image
    size."""
    digits = arch == 'digits'
    size, classes = (32, 10) if digits else (224, 1000)
    rows = []
    for binary in (True, False):
        torch.manual_seed(0)
        model = Classifier(DIGITS if digits else arch, binary,
                           classes).eval()
        counts = count_ops(model, torch.randn(1, 3, size, size))
        counts.update(param_bits(model))
        rows.append(('binary' if binary else 'fp twin', counts))
    return rows, size


def main(argv=None):
    args = parse_args(argv)
    header = (f'{"arch":10} {"model":8} {"BOPs(M)":>10} {"FLOPs(M)":>10} '
              f'{"OPs(M)":>10} {"params(M)":>10} {"size(MB)":>9}')
    print(header)
    results = {}
    for arch in args.archs:
        rows, size = measure(arch)
        for name, c in rows:
            print(f'{arch:10} {name:8} {c["bops"] / 1e6:10.3f} '
                  f'{c["flops"] / 1e6:10.3f} {c["ops"] / 1e6:10.3f} '
                  f'{(c["binary_params"] + c["fp_params"]) / 1e6:10.3f} '
                  f'{c["bits"] / 8 / 2**20:9.3f}')
        (_, b), (_, f) = rows
        ratios = dict(
            ops=b['ops'] / f['ops'],
            flops=b['flops'] / f['flops'],
            bits=b['bits'] / f['bits'],
            binary_share=b['bops'] / (b['bops'] + b['flops']))
        print(f'{arch:10} ratios binary / fp twin ({size} px): OPs '
              f'{ratios["ops"]:.4f} ({1 / ratios["ops"]:.1f}x fewer), FLOPs '
              f'{ratios["flops"]:.4f}, size {ratios["bits"]:.4f} '
              f'({1 / ratios["bits"]:.1f}x smaller); '
              f'{100 * ratios["binary_share"]:.1f}% of the multiply-adds '
              'binary')
        results[arch] = dict(binary=b, fp=f, ratios=ratios, size=size)
    if args.record:
        record(args, results)
    return results


#: results subjects of the archs named after configs (others:
#: ``<arch>@<arch>-fp``)
SUBJECTS = {'digits': 'bimlp-7l16d-p4@bimlp-fp-7l16d-p4'}


def subject_of(arch: str) -> str:
    """The results subject of an arch: binary model @ its twin."""
    return SUBJECTS.get(arch, f'{arch}@{arch}-fp')


def record(args, results) -> None:
    """Per arch, the twin / binary ratios of OPs and of size into the zoo's
    results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    tool = 'tools/analysis/benchmark_bimlp.py'
    for arch, res in results.items():
        b, f = res['binary'], res['fp']
        where = f'{res["size"]} px' if arch != 'digits' else \
            f'digits arch, {res["size"]} px'
        ops_note = (f'classifier, 1 image, OPs = BOPs / 64 + FLOPs, '
                    f'full-precision twin / binary; {where}: '
                    f'{b["bops"] / 1e6:.1f}M BOPs + {b["flops"] / 1e6:.1f}M '
                    f'FLOPs = {b["ops"] / 1e6:.3f}M OPs vs '
                    f'{f["ops"] / 1e6:.3f}M OPs')
        size_note = (f'model size, full-precision twin / binary; {where}: '
                     f'{b["bits"] / 8 / 2**20:.3f} vs '
                     f'{f["bits"] / 8 / 2**20:.3f} MB')
        subject = subject_of(arch)
        for metric, ratio, note in (
                ('ops/reduction', res['ratios']['ops'], ops_note),
                ('size/reduction', res['ratios']['bits'], size_note)):
            record_result(args.record, subject, metric,
                          value=float(f'{1 / ratio:.3g}'), tool=tool,
                          note=note, root=args.results_root)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
