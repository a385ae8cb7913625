# Copyright (c) mmvitplug contributors.
"""Does a trained DynamicViT's learned keep decision matter? Top-1 of its
checkpoint with the predictors' decisions, with random decisions of the
same keep counts, and with nothing pruned.

DynamicViT (https://arxiv.org/abs/2106.02034) keeps, at inference, the
``int(N rho^l)`` patch tokens its predictors score highest. This tool
evaluates the student of a trained DynamicViT config (its
``mmvitplug.DynamicViT`` backbone) on the config's validation set three
ways, in the same process:

- ``learned``: as trained;
- ``random``: the same numbers of tokens kept at the same blocks, chosen
  uniformly at random (the predictors' scores replaced by noise), one row
  per ``--seeds`` entry and their mean;
- ``unpruned``: keep ratio 1 at every location (the fine-tuned network
  running on every token).

``learned`` well above ``random`` says the predictors pick informative
tokens; ``unpruned`` above both is what pruning costs at this ratio.

Usage::

    python tools/analysis/dynamic_vit_keep.py CONFIG CHECKPOINT \\
        [--seeds 0 1 2] [--record dynamic_vit [--record-seed 0]]

``--record FAMILY`` writes the ``random (mean)`` and ``unpruned`` top-1 to
``docs/zoo/results/FAMILY.yml`` as ``accuracy/top1`` of
``<model>@random-keep`` and ``<model>@unpruned-inference`` (``<model>``:
the config's model name), for the seed the checkpoint was trained with
(``--record-seed``; default: the ``seed`` of the checkpoint's ``meta``, as
``tools/train.py`` saves it). ``learned`` is the model's own top-1, which
``tools/analysis/distill_claims.py`` records.
"""
import argparse
import contextlib
import os
import os.path as osp
from typing import Dict, List, Optional

import torch
from distill_claims import ROOT, load_student
from mmengine.registry import init_default_scope

from mmvitplug.models.backbones import DynamicViT


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a DynamicViT distillation config')
    parser.add_argument('checkpoint', help='its trained checkpoint')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds of the random keep decisions')
    from mmvitplug.utils.zoo import add_record_arguments
    add_record_arguments(
        parser, 'the random-keep (mean) and unpruned top-1 '
        '(<model>@random-keep, <model>@unpruned-inference, accuracy/top1) '
        'for the checkpoint\'s training seed')
    parser.add_argument('--record-seed', type=int, default=None,
                        help='with --record: the seed the checkpoint was '
                        'trained with (default: its meta\'s seed)')
    return parser.parse_args(argv)


def dynamic_vit_of(model) -> DynamicViT:
    """The DynamicViT backbone of a classifier."""
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, DynamicViT):
        raise SystemExit('the config\'s backbone is not mmvitplug.DynamicViT '
                         f'(got {type(backbone).__name__})')
    return backbone


@contextlib.contextmanager
def random_scores(dynamic: DynamicViT):
    """While active, every predictor's keep scores are uniform noise: the
    top-k keeps random tokens (the counts unchanged)."""
    hooks = [
        p.register_forward_hook(lambda m, args, out: torch.rand_like(out))
        for p in dynamic.predictors
    ]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()


@contextlib.contextmanager
def unpruned(dynamic: DynamicViT):
    """While active, keep ratio 1 at every location."""
    own = dynamic.keep_ratios
    dynamic.keep_ratios = [1.] * len(own)
    try:
        yield
    finally:
        dynamic.keep_ratios = own


def top1(model, loader) -> float:
    correct = total = 0
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            labels = torch.cat([s.gt_label for s in data['data_samples']])
            pred = model(data['inputs'], mode='tensor').argmax(1)
            correct += (pred == labels).sum().item()
            total += labels.numel()
    return 100. * correct / total


def main(argv: Optional[List[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    init_default_scope('mmpretrain')
    config, checkpoint = map(osp.abspath, (args.config, args.checkpoint))
    here = os.getcwd()
    os.chdir(ROOT)  # the config's data paths are the repository's
    try:
        results = evaluate(config, checkpoint, args.seeds)
    finally:
        os.chdir(here)
    if args.record:
        record(args, config, checkpoint, results)
    return results


def checkpoint_seed(checkpoint: str) -> int:
    """The seed ``tools/train.py`` trained a checkpoint with (its
    ``meta['seed']``)."""
    meta = torch.load(checkpoint, map_location='cpu',
                      weights_only=False).get('meta') or {}
    if meta.get('seed') is None:
        raise SystemExit(f'{checkpoint} has no meta seed: give the seed it '
                         'was trained with (--record-seed)')
    return int(meta['seed'])


#: results subject suffix of each evaluation ``record`` writes
RECORD_SUBJECTS = {
    'random (mean)': '@random-keep',
    'unpruned': '@unpruned-inference',
}


def record(args, config: str, checkpoint: str,
           results: Dict[str, float]) -> None:
    """The random-keep mean and the unpruned top-1 into the zoo's results,
    for the checkpoint's training seed."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    seed = (args.record_seed if args.record_seed is not None else
            checkpoint_seed(checkpoint))
    model = model_name_of(config)
    draws = [k for k in results if k.startswith('random (seed ')]
    seeds = ' '.join(k[len('random (seed '):-1] for k in draws)
    where = f'{osp.basename(checkpoint)}, validation set, CPU'
    notes = {
        'random (mean)': (
            'the pruned checkpoint with a random keep of the same counts, '
            f'mean of {len(draws)} draws (seeds {seeds}); {where}'),
        'unpruned': f'the pruned checkpoint run without pruning; {where}',
    }
    for key, suffix in RECORD_SUBJECTS.items():
        record_result(args.record, model + suffix, 'accuracy/top1',
                      values={seed: round(results[key], 2)},
                      tool='tools/analysis/dynamic_vit_keep.py',
                      note=notes[key], root=args.results_root)
    print(f'recorded {model}@random-keep and {model}@unpruned-inference '
          f'(seed {seed}) in docs/zoo/results/{args.record}.yml')


def evaluate(config: str, checkpoint: str,
             seeds: List[int]) -> Dict[str, float]:
    """The three evaluations (see the module docstring), printed."""
    model, loader = load_student(config, checkpoint)
    dynamic = dynamic_vit_of(model)
    results = {'learned': top1(model, loader)}
    with random_scores(dynamic):
        for seed in seeds:
            torch.manual_seed(seed)
            results[f'random (seed {seed})'] = top1(model, loader)
    randoms = [v for k, v in results.items() if k.startswith('random')]
    results['random (mean)'] = sum(randoms) / len(randoms)
    with unpruned(dynamic):
        results['unpruned'] = top1(model, loader)
    ratios = ', '.join(f'{r:.3g}' for r in dynamic.keep_ratios)
    print(f'DynamicViT keep decisions (keep ratios {ratios} before blocks '
          f'{dynamic.pruning_loc}): top-1 on the validation set')
    for name, value in results.items():
        print(f'{name:<20}{value:>7.2f}')
    return results


if __name__ == '__main__':
    main()
