# Copyright (c) mmvitplug contributors.
"""Measure a distillation claim: train configs over seeds, report top-1 and
the student's agreement with a teacher (or the mIoU of a segmentor).

Each config (a distilled student and its baselines on the same schedule) is
trained with ``tools/train.py`` for every seed (``randomness.seed``), a
checkpoint kept every ``--interval`` epochs (iterations for an
iteration-based config); a run already finished in the work directory is
reused. With ``--init`` the model as initialised is evaluated too (step 0),
e.g. Arch-Net's student initialised from its teacher and not trained (its
"naive conversion"). Every kept checkpoint is then evaluated on the
config's validation set: top-1, and with ``--teacher`` the top-1 agreement
of the student's and the teacher's predictions (the fraction of images on
which their arg-max classes match, function matching's "agreement").

Usage::

    python tools/analysis/distill_claims.py CONFIG [CONFIG ...] \
        --seeds 0 1 --teacher configs/_teachers/resnet18-w32_digits.py \
        --work-dir work_dirs/claims/function_matching

``--teacher`` is a file with ``teacher`` and ``teacher_ckpt`` (the
``configs/_teachers/`` layout). ``--predict-with ensemble`` also evaluates
every checkpoint of a model with ``predict_with`` (MixSKD's self-teacher
head) in that setting (column ``top1_ensemble``). Prints one row per
config, seed and step (epoch or iteration) and the mean over seeds at the
last step.

Segmentation configs (``default_scope = 'mmseg'``, e.g. TransKD's) are
iteration-based and validate at their end: their row is the mIoU / aAcc /
mAcc that validation logged (the student's own prediction), at the last
iteration.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmvitplug.utils.zoo import add_record_arguments
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--teacher', default=None,
                        help='file with `teacher` and `teacher_ckpt` to '
                        'measure agreement with')
    parser.add_argument('--interval', type=int, default=10,
                        help='epochs (iterations for an iteration-based '
                        'config) between evaluated checkpoints')
    parser.add_argument('--init', action='store_true',
                        help='also evaluate each model as initialised, '
                        'before training (step 0)')
    parser.add_argument('--work-dir', default='work_dirs/distill_claims')
    parser.add_argument('--predict-with', nargs='+', default=[],
                        help='also evaluate each checkpoint with these '
                        'settings of the model\'s `predict_with` (e.g. '
                        'MixSKD\'s `ensemble`): columns top1_<setting> '
                        '(nan for a model without predict_with)')
    parser.add_argument('--retrain', action='store_true',
                        help='train again even if a run finished')
    add_record_arguments(
        parser, 'each config\'s last-step numbers per seed (accuracy/top1, '
        'agreement/teacher, mIoU, ...) under its model name')
    return parser.parse_args(argv)


def train(config: str, seed: int, work_dir: str, interval: Optional[int],
          retrain: bool) -> None:
    """Train ``config`` with ``seed`` into ``work_dir`` (once), keeping a
    checkpoint every ``interval`` epochs or iterations (None: the
    config's)."""
    if not retrain and osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        return
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--cfg-options', f'randomness.seed={seed}'
    ]
    if interval is not None:
        cmd += [
            f'default_hooks.checkpoint.interval={interval}',
            'default_hooks.checkpoint.max_keep_ckpts=-1'
        ]
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env,
                   stdout=subprocess.DEVNULL)


def checkpoints(work_dir: str) -> List[Tuple[int, str]]:
    """``(step, path)`` of every epoch checkpoint in ``work_dir`` (of every
    iteration checkpoint, for an iteration-based run)."""
    found = []
    for kind in ('epoch', 'iter'):
        for path in glob.glob(osp.join(work_dir, f'{kind}_*.pth')):
            found.append((int(re.findall(rf'{kind}_(\d+)', path)[-1]),
                          path))
        if found:
            break
    return sorted(found)


def segmentation_result(work_dir: str) -> Tuple[int, Dict[str, float]]:
    """``(iteration, metrics)`` of the last validation a segmentation run
    logged (``<timestamp>/vis_data/scalars.json``)."""
    found = None
    for path in sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'mIoU' in record:
                    found = record
    if found is None:
        raise RuntimeError(f'{work_dir}: no validation (mIoU) was logged')
    return found['step'], {
        k: found[k] for k in ('mIoU', 'aAcc', 'mAcc') if k in found
    }


def build_teacher(teacher_file: Optional[str]):
    """The frozen teacher of a ``configs/_teachers/`` file, or None."""
    if teacher_file is None:
        return None
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mmvitplug.models.distill import load_teacher
    cfg = Config.fromfile(teacher_file)
    teacher = MODELS.build(cfg.teacher)
    load_teacher(teacher, osp.join(ROOT, cfg.teacher_ckpt)
                 if not osp.isabs(cfg.teacher_ckpt) else cfg.teacher_ckpt)
    return teacher.eval()


def load_student(config: str, checkpoint: str):
    """The student of ``config`` (the model itself without a teacher) with
    the weights of ``checkpoint``, in eval mode, and the config's
    validation loader."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    model = cfg.model
    if 'teacher' in model:  # the student alone: a plain classifier
        model = dict(
            type='ImageClassifier',
            backbone=model.backbone,
            neck=model.get('neck'),
            head=dict(model.head,
                      loss=dict(type='CrossEntropyLoss')))
    model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    model['data_preprocessor'] = dict(
        model['data_preprocessor'], type='ClsDataPreprocessor',
        batch_augments=None)
    student = MODELS.build(model)
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    # the student's weights, all of them (a distillation student's
    # connectors and loss states are training-only; a MutualClassifier
    # keeps its distiller, e.g. the hint's LayerNorms)
    if not hasattr(student, 'distiller'):
        state = {k: v for k, v in state.items()
                 if not k.startswith('distiller.')}
    student.load_state_dict(state)
    student.eval()
    loader = Runner.build_dataloader(
        dict(cfg.val_dataloader, num_workers=0, persistent_workers=False))
    return student, loader


def evaluate(config: str, checkpoint: str, teacher,
             predict_with: Sequence[str] = ()) -> Dict[str, float]:
    """Top-1 of the student of ``checkpoint`` on the config's validation
    set, its agreement with ``teacher`` (if any), and its top-1 with each
    of the model's ``predict_with`` settings (``top1_<setting>``), in %."""
    import torch
    student, loader = load_student(config, checkpoint)
    # a baseline without predict_with gets no such column (nan in the table)
    own = getattr(student, 'predict_with', None)
    correct = agree = total = 0
    others = dict.fromkeys(predict_with if own is not None else (), 0)
    with torch.no_grad():
        for batch in loader:
            data = student.data_preprocessor(batch, False)
            # a MutualClassifier predicts with its ensemble (or the
            # student it names), a MixSKDClassifier with its predict_with,
            # a classifier with its logits
            logits = (student.predict_logits(data['inputs']) if hasattr(
                student, 'predict_logits') else student(
                    data['inputs'], mode='tensor'))
            pred = logits.argmax(1)
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            correct += (pred == labels).sum().item()
            for setting in others:
                student.predict_with = setting
                other = student.predict_logits(data['inputs']).argmax(1)
                student.predict_with = own
                others[setting] += (other == labels).sum().item()
            if teacher is not None:
                t_pred = teacher(data['inputs'], mode='tensor').argmax(1)
                agree += (pred == t_pred).sum().item()
            total += labels.numel()
    result = {'top1': 100. * correct / total}
    for setting, n in others.items():
        result[f'top1_{setting}'] = 100. * n / total
    if teacher is not None:
        result['agreement'] = 100. * agree / total
    return result


def initialised(config: str, seed: int, work_dir: str) -> str:
    """The checkpoint of the model of ``config`` as initialised with
    ``seed`` (its ``init_weights``, e.g. from a teacher), not trained."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import set_random_seed
    from mmpretrain.registry import MODELS
    path = osp.join(work_dir, 'init.pth')
    if osp.isfile(path):
        return path
    cfg = Config.fromfile(config)
    set_random_seed(seed)
    here = os.getcwd()
    os.chdir(ROOT)  # the config's relative checkpoint paths
    try:
        model = MODELS.build(cfg.model)
        model.init_weights()
    finally:
        os.chdir(here)
    os.makedirs(work_dir, exist_ok=True)
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def _mean(rows: List[Dict[str, float]], key: str) -> float:
    return sum(r.get(key, float('nan')) for r in rows) / len(rows)


def main(argv: Optional[List[str]] = None) -> Dict[tuple, dict]:
    args = parse_args(argv)
    from mmengine.registry import init_default_scope

    import mmvitplug  # noqa: F401  (registers the plugin)
    init_default_scope('mmpretrain')
    teacher = build_teacher(args.teacher)
    results = {}
    from mmengine.config import Config
    for config in args.configs:
        name = osp.splitext(osp.basename(config))[0]
        segmentation = Config.fromfile(config).default_scope == 'mmseg'
        for seed in args.seeds:
            work_dir = osp.join(args.work_dir, name, f'seed{seed}')
            train(config, seed, work_dir,
                  None if segmentation else args.interval, args.retrain)
            if segmentation:
                step, metrics = segmentation_result(work_dir)
                results[(name, seed, step)] = metrics
                continue
            found = checkpoints(work_dir)
            if args.init:
                found.insert(0, (0, initialised(config, seed, work_dir)))
            for step, path in found:
                results[(name, seed, step)] = evaluate(
                    config, path, teacher, args.predict_with)

    keys = list(dict.fromkeys(k for r in results.values() for k in r))
    print('\n' + f'{"config":<52} {"seed":>4} {"step":>5} ' +
          ' '.join(f'{k:>9}' for k in keys))
    for (name, seed, epoch), res in results.items():
        print(f'{name:<52} {seed:>4} {epoch:>5} ' +
              ' '.join(f'{res.get(k, float("nan")):>9.2f}' for k in keys))
    print('\nmean over seeds at the last step')
    for name in dict.fromkeys(n for n, _, _ in results):
        last = max(e for n, _, e in results if n == name)
        rows = [r for (n, _, e), r in results.items()
                if n == name and e == last]
        print(f'{name:<52} {len(rows):>4} {last:>5} ' +
              ' '.join(f'{_mean(rows, k):>9.2f}' for k in keys))
    if args.record:
        record(args, results)
    return results


#: the results metric of each column (the zoo's names)
RECORD_METRICS = {'top1': 'accuracy/top1', 'agreement': 'agreement/teacher'}


def record(args, results) -> None:
    """Each config's numbers at its last step, per seed, into the zoo's
    results under the config's model name."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    for config in args.configs:
        stem = osp.splitext(osp.basename(config))[0]
        subject = model_name_of(config)
        for seed in args.seeds:
            steps = [e for n, s, e in results if n == stem and s == seed]
            if not steps:
                continue
            row = results[(stem, seed, max(steps))]
            for key, value in row.items():
                metric = RECORD_METRICS.get(key, key)
                if key.startswith('top1_'):
                    metric = 'accuracy/' + key
                record_result(args.record, subject, metric,
                              values={seed: round(value, 3)},
                              tool='tools/analysis/distill_claims.py',
                              root=args.results_root)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
