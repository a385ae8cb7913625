# Copyright (c) mmvitplug contributors.
"""What the distillation machinery costs: a distillation training step
against its floor, a student training step plus a teacher forward.

For a ``DistillationClassifier`` config (or a subclass's, e.g.
``ArchNetClassifier``: its loss in the last period, the longest, where
every output is trained), two steps on the same weights and the same
(already normalised) batch, measured interleaved in one process:

- ``distill``: ``model.loss`` (recorders hooked while the student and the
  teacher run, connectors, the distiller's losses), backward, SGD step;
- ``floor``: the student's forward, cross-entropy on the labels, backward,
  SGD step, and the teacher's forward under ``no_grad``, called directly.

Prints training images per second and peak training memory of each (the
median over ``--repeats`` rounds after ``--warmup``; CPU memory is the
resident-set growth, as ``benchmark.py``) and the paired median ratio
floor / distill of the speed: the cost factor of a distillation step
(issue 11 asks for at most 1.05).

Example (the digits DeiT hard-distillation config, batch 16, 2 threads)::

    python tools/analysis/benchmark_distill.py \
        configs/bundled/deit/distill-hard-deit-4l192d-p8_1xb16_digits.py \
        --batch 16 --img-size 32 --threads 2 [--record deit]

``--record FAMILY`` writes the two ratios to ``docs/zoo/results/FAMILY.yml``
under ``<model>@floor`` (``<model>``: the config's model name):
``cost/step`` (floor / distill speed) and ``cost/step_memory`` (distill /
floor peak memory).
"""
import argparse
import os.path as osp
import tempfile
import time

import torch
import torch.nn.functional as F
from benchmark import (PeakMemory, interleaved, medians, paired_ratios,
                       setup_process, sync)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a DistillationClassifier config')
    parser.add_argument('--teacher-ckpt', default=None,
                        help='teacher checkpoint (default: random weights)')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    from mmvitplug.utils.zoo import add_record_arguments
    add_record_arguments(
        parser, 'cost/step (floor / distill speed) and cost/step_memory '
        '(distill / floor memory) under <the config\'s model name>@floor')
    return parser.parse_args(argv)


def build(config, teacher_ckpt):
    """The algorithm of ``config``, its teacher loaded from
    ``teacher_ckpt`` or from random weights."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmvitplug  # noqa: F401
    init_default_scope('mmpretrain')
    from mmvitplug.models.distill import DistillationClassifier
    from mmvitplug.models.losses import ArchNetPeriodLoss
    cfg = Config.fromfile(config).model
    cls = MODELS.get(cfg.type)
    if not (isinstance(cls, type)
            and issubclass(cls, DistillationClassifier)):
        raise ValueError(f'{config} builds a {cfg.type}, not a '
                         'mmvitplug.DistillationClassifier (or a subclass)')
    with tempfile.TemporaryDirectory() as tmp:
        if teacher_ckpt is None:
            teacher_ckpt = osp.join(tmp, 'teacher.pth')
            torch.save({'state_dict': MODELS.build(cfg.teacher).state_dict()},
                       teacher_ckpt)
        cfg.teacher_ckpt = teacher_ckpt
        model = MODELS.build(cfg)
    model.init_weights()
    for loss in model.modules():
        if isinstance(loss, ArchNetPeriodLoss):  # the last period: all
            loss.set_period(loss.num_periods - 1)
    return model


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    from mmpretrain.structures import DataSample
    model = build(args.config, args.teacher_ckpt).to(device)
    num_classes = model.head.num_classes
    x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                    device=device)
    y = torch.arange(args.batch, device=device) % num_classes
    samples = [DataSample().set_gt_label(int(i)) for i in y]
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)

    def timed(step):
        def run():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with PeakMemory(device) as mem:
                sync(device)
                start = time.perf_counter()
                step()
                optimizer.step()
                sync(device)
                elapsed = time.perf_counter() - start
            return args.batch / elapsed, mem.peak / 2**20
        return run

    def distill():
        losses = model.loss(x, samples)
        sum(losses.values()).backward()

    def floor():
        F.cross_entropy(model(x, mode='tensor'), y).backward()
        with torch.no_grad():
            model.teacher(x, mode='tensor')

    results = interleaved(
        dict(distill=timed(distill), floor=timed(floor)), args.repeats,
        args.warmup)
    print(f'{osp.basename(args.config)}: batch {args.batch}, '
          f'{args.img_size} px, {args.threads} threads, {device}')
    print(f'{"step":<8} {"img/s":>8} {"memory MiB":>11}')
    for name, runs in results.items():
        speed, memory = medians(runs)
        print(f'{name:<8} {speed:>8.1f} {memory:>11.1f}')
    speed, memory = paired_ratios(results['floor'], results['distill'])
    print(f'cost of a distillation step (floor / distill speed): '
          f'{speed:.3f}x; memory distill / floor: {1 / memory:.3f}x')
    if args.record:
        record(args, speed, 1 / memory)


def record(args, cost, memory) -> None:
    """The speed cost (floor / distill) and the memory ratio (distill /
    floor) into the zoo's results under ``<model>@floor``."""
    from mmvitplug.utils.zoo import model_name_of, record_result
    subject = model_name_of(args.config) + '@floor'
    teacher = (f'teacher {osp.basename(args.teacher_ckpt)}'
               if args.teacher_ckpt else 'random teacher')
    run = (f'{args.device}, batch {args.batch}, {args.img_size} px, '
           f'{args.threads} threads, {args.repeats} paired rounds after '
           f'{args.warmup} warm-up, {teacher}')
    notes = {
        'cost/step': ('the algorithm\'s step / its floor (the student\'s '
                      'own CE step + a teacher forward, same weights and '
                      f'batch), speed floor / distill; {run}'),
        'cost/step_memory': ('peak training memory distill / floor (CPU: '
                             f'resident-set growth); {run}'),
    }
    for metric, value in (('cost/step', cost), ('cost/step_memory', memory)):
        record_result(args.record, subject, metric, value=round(value, 3),
                      tool='tools/analysis/benchmark_distill.py',
                      note=notes[metric], root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
