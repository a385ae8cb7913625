# Copyright (c) mmvitplug contributors.
"""SPViT's efficiency claim (https://arxiv.org/abs/2111.11802: DeiT-Ti at
1.0 GFLOPs, DeiT-S at 3.2 GFLOPs): the exported architecture, a plain
``mmvitplug.SPViT``, meets its FLOPs target and runs faster than the
unpruned DeiT, both measured in the same run.

Architectures:

- ``--archs`` ``deit-tiny`` / ``deit-small``: the official searched
  architectures (``config/spvit_deit_{ti,sm}_*_ft.json``
  ``assigned_indicators`` and the kept FFN units of the released
  ``ffn_indicators/*_search_10epoch.pth``), targets 1.0 / 3.2 GFLOPs;
- ``--configs``: SPViT fine-tuning configs (``model.backbone`` an
  ``mmvitplug.SPViT``, e.g. the one ``tools/model_converters/
  spvit_export.py`` writes after a digits search), the target read from
  ``--targets`` (one per config; optional).

For each: the plain DeiT and the SPViT of the same ViT (random weights:
neither number depends on them), eval mode:

- GFLOPs of one image by mmengine's complexity analysis
  (``mmengine.analysis.get_model_complexity_info``, the attention on its
  explicit path so that its matrix products are counted), and by the
  official formula (``mmvitplug.models.losses.spvit_flops``, what the
  search's target is stated in); the ratio SPViT / DeiT;
- inference images per second, interleaved over ``--repeats`` rounds after
  ``--warmup`` (medians, and the paired median ratio SPViT / DeiT).

Example (CPU, a minute)::

    python tools/analysis/benchmark_spvit.py --archs deit-tiny \
        --configs work_dirs/spvit-search-deit-4l192d-p8_1xb16-4e_digits/\
spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py --targets 0.024 \
        --batch 32 --threads 1 [--record spvit --seeds 0]

``--record FAMILY`` writes each setup's numbers to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) under ``spvit-<name>@<name>``, the name
being the arch's (``deit-tiny``) or, for a config, its stem up to the first
``_`` without the ``spvit-`` and ``finetune-`` / ``search-`` prefixes
(``spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py`` ->
``deit-4l192d-p8``): ``flops/gflops_formula`` (the official formula's
GFLOPs of the SPViT), ``flops/ratio`` (mmengine, SPViT / DeiT), and
``speed/infer`` on CPU or ``speed/infer_<gpu>`` on CUDA (the last word of
the GPU's name, e.g. ``speed/infer_h200``). ``--seeds`` (one per
``--configs`` entry: the search seed the exported config came from)
records the configs' numbers per seed, so that the exports of several
seeds accumulate under one subject.
"""
import argparse

import torch
from benchmark import gflops, infer_pair, setup_process
from mmengine.config import Config

from mmvitplug.models.backbones import DeiT, SPViT
from mmvitplug.models.losses import arch_gates, spvit_flops
from mmvitplug.utils.zoo import add_record_arguments, device_tag

TOOL = 'tools/analysis/benchmark_spvit.py'

#: the official searched architectures (the ft configs' assigned_indicators
#: and the FFN units kept by the released search checkpoints), targets
OFFICIAL = {
    'deit-tiny': dict(
        msa_choices=['conv1x1'] * 2 + ['msa'] * 10,
        ffn_hidden=[744, 758, 764, 767, 766, 764, 756, 659, 633, 473, 179,
                    145],
        target=1.0),
    'deit-small': dict(
        msa_choices=['conv1x1'] + ['msa'] * 11,
        ffn_hidden=[1304, 1399, 1344, 1214, 1251, 1183, 1140, 925, 742, 391,
                    104, 103],
        target=3.2),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='*', default=['deit-tiny'],
                        choices=sorted(OFFICIAL))
    parser.add_argument('--configs', nargs='*', default=[])
    parser.add_argument('--targets', nargs='*', type=float, default=[])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default=None,
                        help='default: cuda when available, else cpu')
    add_record_arguments(
        parser, 'each setup\'s flops/gflops_formula, flops/ratio and '
        'speed/infer (speed/infer_<gpu> on CUDA) under spvit-<name>@<name>')
    parser.add_argument('--seeds', nargs='*', type=int, default=[],
                        help='with --record: the search seed of each '
                        '--configs entry (its numbers are recorded per seed)')
    args = parser.parse_args(argv)
    if args.targets and len(args.targets) != len(args.configs):
        parser.error('--targets needs one target per --configs entry')
    if args.seeds and len(args.seeds) != len(args.configs):
        parser.error('--seeds needs one seed per --configs entry')
    return args


def setups(args):
    """(name, DeiT kwargs, SPViT arch, target, classes) of each setup."""
    for name in args.archs:
        arch = dict(OFFICIAL[name])
        yield name, dict(arch=name), arch, arch.pop('target'), 1000
    for i, path in enumerate(args.configs):
        cfg = Config.fromfile(path)
        backbone = cfg.model.backbone
        if backbone.type != 'mmvitplug.SPViT':
            raise SystemExit(f'{path}: model.backbone is a {backbone.type}, '
                             'not an mmvitplug.SPViT')
        deit = {k: v for k, v in backbone.backbone.items()
                if k not in ('type', 'init_cfg')}
        target = args.targets[i] if args.targets else None
        yield (path.split('/')[-1].split('_')[0], deit,
               dict(msa_choices=backbone.msa_choices,
                    ffn_hidden=backbone.ffn_hidden), target,
               cfg.model.head.get('num_classes', 0))


def build(deit: dict, arch: dict, fused_attn: bool = True):
    """The plain DeiT and the SPViT of the same ViT, eval mode."""
    torch.manual_seed(0)
    plain = DeiT(fused_attn=fused_attn, **deit)
    plain.init_weights()
    pruned = SPViT(DeiT(fused_attn=fused_attn, **deit), **arch)
    pruned.init_weights()
    return plain.eval(), pruned.eval()


def formula_gflops(plain, arch, classes) -> float:
    hidden = plain.layers[0][0].mlp.fc1.out_features
    ffn_hidden = arch['ffn_hidden'] or [hidden] * len(arch['msa_choices'])
    msa, ffn = arch_gates(arch['msa_choices'], ffn_hidden, hidden)
    grid = plain.patch_embed.grid_size
    return spvit_flops(
        msa, ffn, plain.embed_dims, plain.layers[0][0].attn.num_heads,
        grid[0] * grid[1], plain.num_extra_tokens,
        plain.patch_embed.proj.in_channels, plain.patch_embed.patch_size[0],
        classes)[0].item() / 1e9


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    setup_process(device, args.threads)
    rows = []
    for name, deit, arch, target, classes in setups(args):
        plain, pruned = build(deit, arch, fused_attn=False)
        size = plain.patch_embed.img_size
        flops = [gflops(plain, size), gflops(pruned, size)]
        formula = formula_gflops(plain, arch, classes)
        full = formula_gflops(
            plain, dict(msa_choices=['msa'] * len(arch['msa_choices']),
                        ffn_hidden=None), classes)
        plain, pruned = build(deit, arch)
        plain, pruned = plain.to(device), pruned.to(device)
        x = torch.randn(args.batch, 3, *size, device=device)
        rows.append((name, target, full, formula, *flops,
                     flops[1] / flops[0],
                     *infer_pair(plain, pruned, x, args.repeats,
                                 args.warmup)))
        print(f'{name}: {list(arch["msa_choices"])}, FFN '
              f'{list(arch["ffn_hidden"] or [])}')
    print(f'SPViT exported architecture vs the unpruned DeiT, inference, '
          f'{device.type}, batch {args.batch}, {args.threads} thread(s)')
    print(f'{"arch":<14}{"target":>8}{"formula":>9}{"SPViT":>8}{"met":>5}'
          f'{"GFLOPs":>9}{"SPViT":>8}{"ratio":>7}{"img/s":>9}{"SPViT":>9}'
          f'{"ratio":>7}')
    for name, target, full, formula, f0, f1, fr, t0, t1, tr in rows:
        met = '-' if target is None else ('yes' if formula <= target
                                          else 'no')
        tgt = '-' if target is None else f'{target:.4g}'
        print(f'{name:<14}{tgt:>8}{full:>9.4f}{formula:>8.4f}{met:>5}'
              f'{f0:>9.4f}{f1:>8.4f}{fr:>7.3f}{t0:>9.1f}{t1:>9.1f}'
              f'{tr:>7.3f}')
    if args.record:
        record(args, rows, device)


def subject_name(name: str) -> str:
    """The results subject's name of a setup: the arch, or a config's stem
    (up to the first ``_``) without its SPViT prefixes."""
    for prefix in ('spvit-', 'finetune-', 'search-'):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def record(args, rows, device) -> None:
    """Each setup's numbers into the zoo's results under
    ``spvit-<name>@<name>`` (see the module's docstring): the official
    archs' as values, the configs' per seed with ``--seeds``."""
    from mmvitplug.utils.zoo import record_result
    device = torch.device(device)
    where = (torch.cuda.get_device_name(device)
             if device.type == 'cuda' else 'cpu')
    conditions = (f'{where}, batch {args.batch}, '
                  f'{args.threads} thread(s), {args.repeats} paired rounds')
    seeds = [None] * len(args.archs) + (list(args.seeds)
                                        or [None] * len(args.configs))
    for (name, target, full, formula, f0, f1, fr, t0, t1, tr), seed in zip(
            rows, seeds):
        name = subject_name(name)
        subject = f'spvit-{name}@{name}'
        tgt = 'no target' if target is None else f'target {target:.4g}'
        for metric, value, digits, detail in (
                ('flops/gflops_formula', formula, 4,
                 f'the official flops() formula, {tgt} (unpruned '
                 f'{full:.4g})'),
                ('flops/ratio', fr, 3,
                 f'mmengine complexity analysis, {f0:.4g} -> {f1:.4g} '
                 'GFLOPs'),
                ('speed/infer' + device_tag(device), tr, 3,
                 f'{t0:.4g} -> {t1:.4g} img/s')):
            value = float(f'{value:.{digits}g}')
            kind = dict(value=value) if seed is None else dict(
                values={seed: value})
            record_result(args.record, subject, metric, tool=TOOL,
                          note=f'{conditions}; {detail}',
                          root=args.results_root, **kind)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
