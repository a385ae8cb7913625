# Copyright (c) mmvitplug contributors.
"""DRNet's claim (https://arxiv.org/abs/2106.02898: fewer FLOPs per image
than the same network at a fixed resolution, at about the same accuracy),
measured over seeds against the same classifier trained at the fixed
largest resolution on the same schedule.

For every seed, the DRNet config and the baseline config are trained with
``tools/train.py`` (``distill_claims.train``; a finished run in the work
directory is reused) and their last checkpoints evaluated on the DRNet
config's validation set:

- DRNet: top-1 with per-sample dispatch (each image once, at the
  resolution the predictor chose), the predictor's choice distribution
  (images and top-1 per resolution), the average FLOPs per image =
  the predictor's + the classifier's at the chosen resolution
  (mmengine's ``FlopAnalyzer``, multiply-adds), and, for reference, the
  same classifier's top-1 with every image at one candidate resolution;
- the baseline: top-1 and FLOPs per image at its fixed resolution.

Usage::

    python tools/analysis/drnet_claims.py \
        configs/bundled/drnet/drnet-resnet18-w32_1xb64_digits.py \
        configs/bundled/resnet/sup-resnet18-w32_1xb64_digits.py \
        --seeds 0 1 --work-dir work_dirs/claims/drnet [--record drnet]

``--record FAMILY`` writes, per seed, to ``docs/zoo/results/FAMILY.yml``:
under the DRNet config's model name its ``accuracy/top1`` and
``flops/ratio`` (its average FLOPs per image, predictor included, over the
baseline's), under ``<DRNet model>@all-<size>px`` the top-1 with every
image at that resolution, and under ``<baseline model>@drnet-comparison``
the baseline's ``accuracy/top1`` (the baseline trained on DRNet's
schedule, next to the baseline's own results).
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from distill_claims import ROOT, checkpoints, train


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('drnet', help='DRNetClassifier config')
    parser.add_argument('baseline',
                        help='the same classifier at a fixed resolution')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--work-dir', default='work_dirs/drnet_claims')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even if a run finished')
    from mmvitplug.utils.zoo import add_record_arguments
    add_record_arguments(
        parser, 'per seed DRNet\'s accuracy/top1 and flops/ratio, its '
        'top-1 at each fixed resolution (<model>@all-<size>px) and the '
        'baseline\'s top-1 (<baseline model>@drnet-comparison)')
    return parser.parse_args(argv)


def _load(config: str, checkpoint: str):
    """The model of ``config`` with the weights of ``checkpoint``, eval
    mode, and its validation loader."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    model = cfg.model
    model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model = MODELS.build(model)
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    model.load_state_dict(state)
    loader = Runner.build_dataloader(
        dict(cfg.val_dataloader, num_workers=0, persistent_workers=False))
    return model.eval(), loader


def _flops(module, inputs) -> float:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, (inputs[:1], ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return float(analyzer.total())


def _logits_module(model):
    """A classifier's ``mode='tensor'`` as a module, for the FLOP count."""
    import torch.nn as nn

    class Logits(nn.Module):

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x, mode='tensor')

    return Logits()


def evaluate_drnet(config: str, checkpoint: str) -> Dict[str, object]:
    """Top-1, choices, FLOPs per image of a DRNet checkpoint."""
    import torch
    model, loader = _load(config, checkpoint)
    sizes = model.resolutions
    num = len(sizes)
    chosen = torch.zeros(num, dtype=torch.long)
    right = torch.zeros(num, dtype=torch.long)
    fixed = torch.zeros(num, dtype=torch.long)
    correct = total = 0
    channels = None
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            channels = inputs.size(1)
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            choice = model.choose(inputs)
            hit = model(inputs, mode='tensor').argmax(1) == labels
            correct += hit.sum().item()
            total += labels.numel()
            chosen += torch.bincount(choice, minlength=num)
            right += torch.bincount(choice[hit], minlength=num)
            for j in range(num):
                logits = model.classify_at(inputs, j, 'logits')
                fixed[j] += (logits.argmax(1) == labels).sum().item()
    flops = model.candidate_flops(in_channels=channels).tolist()
    predictor = model.predictor_flops(channels)
    average = predictor + sum(
        c * f for c, f in zip(chosen.tolist(), flops)) / total
    return dict(
        top1=100. * correct / total, sizes=sizes, chosen=chosen.tolist(),
        right=right.tolist(), total=total,
        fixed_top1=[100. * f / total for f in fixed.tolist()],
        flops=flops, predictor_flops=predictor, avg_flops=average)


def evaluate_baseline(config: str, checkpoint: str) -> Dict[str, float]:
    """Top-1 and FLOPs per image of the fixed-resolution classifier."""
    import torch
    model, loader = _load(config, checkpoint)
    correct = total = 0
    flops = None
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            inputs = data['inputs']
            if flops is None:
                flops = _flops(_logits_module(model), inputs)
                size = tuple(inputs.shape[-2:])
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            correct += (model(inputs, mode='tensor').argmax(1) ==
                        labels).sum().item()
            total += labels.numel()
    return dict(top1=100. * correct / total, flops=flops, size=size)


def main(argv: Optional[List[str]] = None) -> Dict[int, dict]:
    args = parse_args(argv)
    from mmengine.registry import init_default_scope

    import mmvitplug  # noqa: F401  (registers the plugin)
    init_default_scope('mmpretrain')
    results = {}
    for seed in args.seeds:
        row = {}
        for kind, config in (('drnet', args.drnet),
                             ('baseline', args.baseline)):
            name = osp.splitext(osp.basename(config))[0]
            work_dir = osp.join(args.work_dir, name, f'seed{seed}')
            train(config, seed, work_dir, None, args.retrain)
            last = checkpoints(work_dir)[-1][1]
            row[kind] = (evaluate_drnet if kind == 'drnet' else
                         evaluate_baseline)(config, last)
            row[kind]['step'] = checkpoints(work_dir)[-1][0]
        results[seed] = row

    print(f'\nDRNet ({osp.basename(args.drnet)}) vs the same classifier at '
          f'a fixed resolution ({osp.basename(args.baseline)}), last '
          'checkpoints, validation set')
    print(f'{"seed":>4} {"top1":>7} {"base":>7} {"MFLOPs":>9} '
          f'{"base":>9} {"ratio":>6}  choices (images, top-1 within)')
    for seed, row in results.items():
        d, b = row['drnet'], row['baseline']
        choices = ', '.join(
            f'{s}px {c} ({100. * r / max(c, 1):.1f}%)'
            for s, c, r in zip(d['sizes'], d['chosen'], d['right']))
        print(f'{seed:>4} {d["top1"]:>7.2f} {b["top1"]:>7.2f} '
              f'{d["avg_flops"] / 1e6:>9.3f} {b["flops"] / 1e6:>9.3f} '
              f'{d["avg_flops"] / b["flops"]:>6.3f}  {choices}')
    seeds = list(results)

    def mean(get):
        return sum(get(results[s]) for s in seeds) / len(seeds)

    print(f'mean {mean(lambda r: r["drnet"]["top1"]):>7.2f} '
          f'{mean(lambda r: r["baseline"]["top1"]):>7.2f} '
          f'{mean(lambda r: r["drnet"]["avg_flops"]) / 1e6:>9.3f} '
          f'{mean(lambda r: r["baseline"]["flops"]) / 1e6:>9.3f} '
          f'{mean(lambda r: r["drnet"]["avg_flops"] / r["baseline"]["flops"]):>6.3f}')  # noqa: E501
    first = results[seeds[0]]['drnet']
    print('\nDRNet MFLOPs per image: predictor '
          f'{first["predictor_flops"] / 1e6:.3f}; classifier at ' + ', '.join(
              f'{s}px {f / 1e6:.3f}'
              for s, f in zip(first['sizes'], first['flops'])) +
          f'; baseline at {results[seeds[0]]["baseline"]["size"]}')
    print('DRNet top-1 with every image at one resolution: ' + '; '.join(
        f'seed {s}: ' + ', '.join(
            f'{size}px {t:.2f}' for size, t in zip(
                results[s]['drnet']['sizes'],
                results[s]['drnet']['fixed_top1'])) for s in seeds))
    if args.record:
        record(args, results)
    return results


#: the subject suffix of the baseline trained for the comparison
BASELINE_SUFFIX = '@drnet-comparison'


def record(args, results) -> None:
    """Per seed: DRNet's top-1 and FLOPs ratio under its model name, its
    top-1 at each fixed resolution under ``<model>@all-<size>px``, the
    baseline's top-1 under ``<baseline model>@drnet-comparison``."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    tool = 'tools/analysis/drnet_claims.py'
    drnet = model_name_of(args.drnet)
    baseline = model_name_of(args.baseline) + BASELINE_SUFFIX
    seeds = list(results)
    first = results[seeds[0]]
    steps = sorted({results[s][k].get('step') for s in seeds
                    for k in ('drnet', 'baseline')} - {None})
    at = f' (step {" / ".join(map(str, steps))})' if steps else ''
    run = (f'last checkpoint{at}, {first["drnet"]["total"]} validation '
           'images, CPU')
    base_size = 'x'.join(map(str, first['baseline']['size']))
    mflops = ' / '.join(f'{results[s]["drnet"]["avg_flops"] / 1e6:.2f}'
                        for s in seeds)
    notes = {
        (drnet, 'accuracy/top1'): f'{run}; arg-max resolution per image',
        (drnet, 'flops/ratio'): (
            f'FLOPs per image vs the fixed {base_size} px classifier '
            f'({mflops} vs {first["baseline"]["flops"] / 1e6:.2f} MFLOPs, '
            f'predictor included); {run}'),
        (baseline, 'accuracy/top1'): (
            f'the same classifier at the fixed {base_size} px, same '
            f'schedule; {run}'),
    }
    for size in first['drnet']['sizes']:
        notes[(f'{drnet}@all-{size}px', 'accuracy/top1')] = (
            f'the DRNet classifier with every image at {size} px; {run}')

    def put(subject, metric, seed, value):
        record_result(args.record, subject, metric, values={seed: value},
                      tool=tool, note=notes[(subject, metric)],
                      root=args.results_root)

    for seed in seeds:
        d, b = results[seed]['drnet'], results[seed]['baseline']
        put(drnet, 'accuracy/top1', seed, round(d['top1'], 2))
        put(drnet, 'flops/ratio', seed, round(d['avg_flops'] / b['flops'],
                                              4))
        for size, top1 in zip(d['sizes'], d['fixed_top1']):
            put(f'{drnet}@all-{size}px', 'accuracy/top1', seed,
                round(top1, 2))
        put(baseline, 'accuracy/top1', seed, round(b['top1'], 2))
    print(f'recorded {drnet}, {drnet}@all-<size>px and {baseline} in '
          f'docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    main()
