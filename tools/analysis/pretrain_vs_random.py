# Copyright (c) mmvitplug contributors.
"""Does self-supervised pretraining beat random init? Pretrain, export,
evaluate, for several seeds, next to the same backbone at random init.

For each seed: ``tools/train.py PRETRAIN_CONFIG`` (``randomness.seed``
set), ``tools/model_converters/export_backbone.py`` on its last
checkpoint, then the evaluation config on the exported backbone and on the
backbone as the evaluation config initialises it with the same seed:

- a k-NN / soft-NN config (``mmvitplug.EmbeddingModel``): ``tools/test.py
  EVAL_CONFIG backbone.pth`` and ``tools/test.py EVAL_CONFIG none``;
- a linear-probe config (a classifier whose backbone has a ``Pretrained``
  ``init_cfg``, e.g. ``linear-*``): ``tools/train.py EVAL_CONFIG`` with
  that ``init_cfg`` pointing at the export, and with ``init_cfg=None``.

Usage::

    python tools/analysis/pretrain_vs_random.py PRETRAIN_CONFIG \
        EVAL_CONFIG [EVAL_CONFIG ...] --seeds 0 1 --work-dir DIR

Prints one row per seed and evaluation metric (pretrained, random init,
difference) and the mean over seeds; a pretraining run already finished
in ``DIR`` is reused (``--retrain`` to run it again).
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

from mmvitplug.utils.logs import last_logged
from mmvitplug.utils.zoo import add_record_arguments

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pretrain_config')
    parser.add_argument('eval_configs', nargs='+',
                        help='k-NN / soft-NN or linear-probe configs')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--work-dir', default='work_dirs/pretrain_vs_random')
    parser.add_argument('--metric', nargs='+', default=None,
                        help='metric keys to report (default: knn/top1_* '
                        'and snn/top1_* of test configs, accuracy/top1 of '
                        'linear probes)')
    parser.add_argument('--retrain', action='store_true',
                        help='pretrain again even if a checkpoint exists')
    add_record_arguments(
        parser, 'the numbers per seed: the pretrained ones under the '
        'pretraining\'s model name, the random-init ones under '
        '<evaluation>@random-init')
    return parser.parse_args(argv)


def _run(*args: str) -> None:
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [sys.executable, *args]
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)


def _metrics(work_dir: str, keys: Optional[List[str]]) -> Dict[str, float]:
    """The last value of each wanted metric logged under ``work_dir``
    (default: the top-1 metrics of k-NN, soft-NN and linear probes)."""
    try:
        logged = last_logged(work_dir, keys)
    except RuntimeError as error:
        raise RuntimeError(f'no metric logged: {error}') from None
    found = {
        key: value
        for key, value in logged.items()
        if keys or (key.split('/')[0] in ('knn', 'snn', 'accuracy')
                    and '/top1' in key)
    }
    if not found:
        raise RuntimeError(f'no metric logged under {work_dir}')
    return found


def _is_test_config(path: str) -> bool:
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    return cfg.get('train_cfg') is None


def evaluate(eval_config: str, is_test: bool, exported: Optional[str],
             work_dir: str, seed: int) -> str:
    """Evaluate the export (or random init when ``exported`` is None) with
    ``tools/test.py`` (``is_test``) or ``tools/train.py``."""
    seed_opt = f'randomness.seed={seed}'
    if is_test:
        _run('tools/test.py', eval_config, exported or 'none', '--work-dir',
             work_dir, '--cfg-options', seed_opt)
    else:
        init = f'model.backbone.init_cfg.checkpoint={exported}' \
            if exported else 'model.backbone.init_cfg=None'
        _run('tools/train.py', eval_config, '--work-dir', work_dir,
             '--cfg-options', seed_opt, init)
    return work_dir


def main(argv: Optional[List[str]] = None) -> Dict[tuple, tuple]:
    args = parse_args(argv)
    results = {}
    is_test = {c: _is_test_config(c) for c in args.eval_configs}
    for seed in args.seeds:
        pre_dir = osp.join(args.work_dir, f'seed{seed}', 'pretrain')
        last = osp.join(pre_dir, 'last_checkpoint')
        if args.retrain or not osp.isfile(last):
            _run('tools/train.py', args.pretrain_config, '--work-dir',
                 pre_dir, '--cfg-options', f'randomness.seed={seed}')
        with open(last) as f:
            checkpoint = f.read().strip()
        exported = osp.join(pre_dir, 'backbone.pth')
        _run('tools/model_converters/export_backbone.py',
             args.pretrain_config, checkpoint, exported)
        for eval_config in args.eval_configs:
            name = osp.splitext(osp.basename(eval_config))[0]
            base = osp.join(args.work_dir, f'seed{seed}', name)
            ours = _metrics(
                evaluate(eval_config, is_test[eval_config], exported,
                         base + '_pretrained', seed), args.metric)
            rand = _metrics(
                evaluate(eval_config, is_test[eval_config], None,
                         base + '_random', seed), args.metric)
            for key in sorted(ours):
                results[(name, key, seed)] = (ours[key], rand[key])

    print(f'\n{osp.basename(args.pretrain_config)}: pretrained vs random '
          'init')
    print(f'{"evaluation":<44} {"metric":<16} {"seed":>4} {"pretrained":>10} '
          f'{"random":>8} {"diff":>7}')
    for (name, key, seed), (ours, rand) in results.items():
        print(f'{name:<44} {key:<16} {seed:>4} {ours:>10.2f} {rand:>8.2f} '
              f'{ours - rand:>+7.2f}')
    for name, key in sorted({(n, k) for n, k, _ in results}):
        pairs = [v for (n, k, _), v in results.items()
                 if (n, k) == (name, key)]
        ours = sum(p[0] for p in pairs) / len(pairs)
        rand = sum(p[1] for p in pairs) / len(pairs)
        print(f'{name:<44} {key:<16} {"mean":>4} {ours:>10.2f} {rand:>8.2f} '
              f'{ours - rand:>+7.2f}')
    if args.record:
        record(args, results)
    return results


def record(args, results) -> None:
    """The pretrained numbers under the pretraining's model name, the
    random-init ones under ``<evaluation>@random-init``, per seed."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    ours_subject = model_name_of(args.pretrain_config)
    evals = {
        osp.splitext(osp.basename(c))[0]: model_name_of(c)
        for c in args.eval_configs
    }
    tool = 'tools/analysis/pretrain_vs_random.py'
    for (name, key, seed), (ours, rand) in results.items():
        for subject, value in ((ours_subject, ours),
                               (evals[name] + '@random-init', rand)):
            record_result(args.record, subject, key,
                          values={seed: round(value, 3)}, tool=tool,
                          root=args.results_root)
    print(f'recorded {ours_subject} and its random-init baselines in '
          f'docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
