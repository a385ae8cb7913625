# Copyright (c) mmvitplug contributors.
"""Pruned self-supervised network vs a random mask at the same sparsity
(Caron et al. 2020, https://arxiv.org/abs/2001.03554): train, export,
k-NN, for several seeds.

For each seed and each of the two pruning configs (both with an
``mmvitplug.MagnitudePruningHook``: the magnitude mask, and its twin with
``mask='random-layerwise'`` or ``'random-global'``): ``tools/train.py``
(``randomness.seed`` set), ``tools/model_converters/export_backbone.py``
on its last checkpoint, ``tools/test.py KNN_CONFIG backbone.pth``. The
sparsity is read twice: from the masks the hook wrote
(``pruning_masks.pth``: kept count / prunable count, which must be the
hook's target exactly) and from the exported backbone itself (the
fraction of zeros among the prunable weights, and whether every pruned
position holds zero).

Usage::

    python tools/analysis/ssl_pruning_claims.py PRUNED_CONFIG \
        RANDOM_MASK_CONFIG KNN_CONFIG --seeds 0 1 --work-dir DIR \
        [--cfg-options custom_hooks.1.sparsity=0.9] [--record ssl_pruning]

Prints one row per seed and run (sparsities, k-NN top-1) and the
difference pruned - random per seed and on average; a training run
already finished in ``DIR`` is reused (``--retrain`` to run it again).

``--record FAMILY`` writes, per seed, each run's k-NN top-1 metrics
(``knn/top1_k10``, ``knn/top1_k20``, ...) and the kept fraction of the
masks (``pruning/kept_fraction``) to ``docs/zoo/results/FAMILY.yml``
under the model name of its training config; with ``--cfg-options`` the
subjects get the suffix ``@<last key>-<value>`` of each option (e.g.
``prune-deepcluster-regnety-5l16d-p4_1xb16_digits@sparsity-0.9``), or the
one given by ``--record-suffix`` (``''`` for none).
"""
import argparse
import importlib.util
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch

from mmvitplug.utils.zoo import add_record_arguments

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    '_pretrain_vs_random', osp.join(osp.dirname(__file__),
                                    'pretrain_vs_random.py'))
pvr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pvr)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pruned_config')
    parser.add_argument('random_config')
    parser.add_argument('knn_config')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--work-dir', default='work_dirs/ssl_pruning_claims')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even if a checkpoint exists')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[],
        help='key=value overrides of both training configs, e.g. '
        'custom_hooks.1.sparsity=0.9')
    add_record_arguments(
        parser, 'each run\'s k-NN top-1 and pruning/kept_fraction per seed '
        'under its training config\'s model name (+ --record-suffix)')
    parser.add_argument(
        '--record-suffix', default=None,
        help='with --record: the suffix of the subjects (default: '
        '@<last key>-<value> of each --cfg-options, e.g. @sparsity-0.9; '
        'none without options)')
    return parser.parse_args(argv)


def sparsities(masks_file: str, backbone_file: str) -> Dict[str, float]:
    """The target and the sparsity of the masks (``pruning_masks.pth``) and
    of the exported backbone: the fraction of zeros among the prunable
    weights, and the fraction of pruned positions that are zero (1.0)."""
    saved = torch.load(masks_file, map_location='cpu', weights_only=False)
    masks = saved['masks']
    weights = torch.load(backbone_file, map_location='cpu',
                         weights_only=False)['state_dict']
    missing = sorted(set(masks) - set(weights))
    if missing:
        raise KeyError(f'{backbone_file} lacks the masked weights {missing}')
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    zeros = sum(int((weights[n] == 0).sum()) for n in masks)
    pruned_zero = sum(int((weights[n][~m] == 0).sum())
                      for n, m in masks.items())
    return dict(
        target=float(saved['sparsity']),
        masks=1 - kept / total,
        exported=zeros / total,
        pruned_zero=pruned_zero / max(total - kept, 1),
        count=total - kept,
        total=total)


def run_one(config: str, knn_config: str, work_dir: str, seed: int,
            retrain: bool, options: Sequence[str] = ()) -> dict:
    """Train (unless done), export, k-NN; the sparsities and metrics."""
    train_dir = osp.join(work_dir, 'train')
    last = osp.join(train_dir, 'last_checkpoint')
    if retrain or not osp.isfile(last):
        pvr._run('tools/train.py', config, '--work-dir', train_dir,
                 '--cfg-options', f'randomness.seed={seed}', *options)
    with open(last) as f:
        checkpoint = f.read().strip()
    exported = osp.join(train_dir, 'backbone.pth')
    pvr._run('tools/model_converters/export_backbone.py', config, checkpoint,
             exported)
    metrics = pvr._metrics(
        pvr.evaluate(knn_config, True, exported, osp.join(work_dir, 'knn'),
                     seed), None)
    return dict(
        sparsity=sparsities(osp.join(train_dir, 'pruning_masks.pth'),
                            exported),
        metrics=metrics)


def main(argv: Optional[List[str]] = None) -> Dict[tuple, dict]:
    args = parse_args(argv)
    results = {}
    runs = (('pruned', args.pruned_config), ('random', args.random_config))
    for seed in args.seeds:
        for tag, config in runs:
            results[(seed, tag)] = run_one(
                config, args.knn_config,
                osp.join(args.work_dir, f'seed{seed}', tag), seed,
                args.retrain, args.cfg_options)

    keys = sorted(results[(args.seeds[0], 'pruned')]['metrics'])
    print(f'\n{osp.basename(args.pruned_config)} vs '
          f'{osp.basename(args.random_config)}')
    print(f'{"seed":>4} {"run":<7} {"target":>7} {"masks":>7} '
          f'{"exported":>8} {"pruned=0":>8} {"pruned/total":>16} ' +
          ' '.join(f'{k:>13}' for k in keys))
    for (seed, tag), r in results.items():
        s = r['sparsity']
        print(f'{seed:>4} {tag:<7} {s["target"]:>7.4f} {s["masks"]:>7.4f} '
              f'{s["exported"]:>8.4f} {s["pruned_zero"]:>8.4f} '
              f'{s["count"]:>8}/{s["total"]:<7} ' +
              ' '.join(f'{r["metrics"][k]:>13.2f}' for k in keys))
    print('k-NN top-1, pruned - random mask:')
    for key in keys:
        diffs = [
            results[(s, 'pruned')]['metrics'][key] -
            results[(s, 'random')]['metrics'][key] for s in args.seeds
        ]
        means = [
            sum(results[(s, t)]['metrics'][key] for s in args.seeds) /
            len(args.seeds) for t in ('pruned', 'random')
        ]
        print(f'{key:<14} ' + ' '.join(
            f'seed {s}: {d:+.2f}' for s, d in zip(args.seeds, diffs)) +
              f'; mean {means[0]:.2f} vs {means[1]:.2f} '
              f'({means[0] - means[1]:+.2f})')
    if args.record:
        record(args, results)
    return results


def record_suffix(args) -> str:
    """``--record-suffix``, or ``@<last key>-<value>`` of each
    ``--cfg-options`` joined by ``,`` (``''`` without options)."""
    if args.record_suffix is not None:
        return args.record_suffix
    parts = []
    for option in args.cfg_options:
        key, _, value = option.partition('=')
        parts.append(f'{key.split(".")[-1]}-{value}')
    return '@' + ','.join(parts) if parts else ''


def record(args, results) -> None:
    """Each run's k-NN top-1 metrics and the kept fraction of its masks,
    per seed, under its training config's model name (+ the suffix)."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    tool = 'tools/analysis/ssl_pruning_claims.py'
    suffix = record_suffix(args)
    knn = osp.splitext(osp.basename(args.knn_config))[0]
    options = (f', --cfg-options {" ".join(args.cfg_options)}'
               if args.cfg_options else '')
    runs = (('pruned', args.pruned_config, 'magnitude mask'),
            ('random', args.random_config, 'random mask'))
    for tag, config, mask in runs:
        subject = model_name_of(config) + suffix
        rows = [(s, results[(s, tag)]) for s in args.seeds
                if (s, tag) in results]
        if not rows:
            continue
        kept = sorted({r['sparsity']['total'] - r['sparsity']['count']
                       for _, r in rows})
        total = rows[0][1]['sparsity']['total']
        target = rows[0][1]['sparsity']['target']
        weights = (f'{" / ".join(f"{k:,}" for k in kept)} of {total:,} '
                   'backbone conv / linear weights kept')
        note = (f'k-NN ({knn}) of the exported backbone, '
                f'{target * 100:g} % pruned ({weights}), {mask}{options}')
        zero = [r['sparsity']['pruned_zero'] for _, r in rows]
        kept_note = (f'{weights}, {mask}, ' +
                     ('every pruned position 0 in the export'
                      if all(z == 1.0 for z in zero) else
                      'pruned positions 0 in the export: ' +
                      ' / '.join(f'{z:.4f}' for z in zero)) + options)
        for seed, r in rows:
            for metric, value in sorted(r['metrics'].items()):
                record_result(args.record, subject, metric,
                              values={seed: round(value, 2)}, tool=tool,
                              note=note, root=args.results_root)
            record_result(args.record, subject, 'pruning/kept_fraction',
                          values={seed: round(1 - r['sparsity']['masks'],
                                              4)},
                          tool=tool, note=kept_note, root=args.results_root)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
