# Copyright (c) mmvitplug contributors.
"""One DINO training step of mmvitplug against the official implementation
(facebookresearch/dino), in the same run: same ViT-S/16 weights, same
crops, same optimizer settings.

Usage (the official code checked out in ``--ref``, e.g. by
``git clone https://github.com/facebookresearch/dino /tmp/dino_ref``)::

    python tools/analysis/benchmark_dino.py --ref /tmp/dino_ref \
        [--batch 4] [--global-size 128] [--local-size 64] [--local-crops 4] \
        [--out-dim 4096] [--repeats 3] \
        [--record dino dino-deit-small@official:facebookresearch/dino]

1. Equivalence: both students start from the same weights (official
   ``vit_small`` + ``DINOHead`` copied into ``mmvitplug.DeiT`` +
   ``mmvitplug.DINOHead``), no drop path, all crops at the native size
   (the official position-embedding interpolation adds 0.1 to the grid
   size, ours resizes to the exact grid, so resized crops differ by
   design); one step each (AdamW, lr 1e-3, weight decay 0.04 on weights
   only, per-parameter clipping 3.0, last layer frozen as in epoch 0,
   teacher EMA 0.996): the script prints the loss, the largest parameter
   differences of student and teacher after the step, and of the centre.
2. Speed: the full step (teacher forward, student forward and backward,
   clipping, optimizer step, teacher update) with 2 global + N local crops
   of different sizes and drop path 0.1, median of ``--repeats``
   interleaved runs, and the ratio official / ours (> 1: ours is faster).

``--record FAMILY SUBJECT`` writes that ratio to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) as ``speed/train`` of ``SUBJECT``
(e.g. ``dino-deit-small@official:facebookresearch/dino``).
"""
import argparse
import os
import sys
import time
from typing import List

import numpy as np
import torch
import torch.distributed as dist


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--ref', default='/tmp/dino_ref',
                        help='checkout of facebookresearch/dino')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--global-size', type=int, default=128)
    parser.add_argument('--local-size', type=int, default=64)
    parser.add_argument('--local-crops', type=int, default=4)
    parser.add_argument('--out-dim', type=int, default=4096)
    parser.add_argument('--repeats', type=int, default=3)
    from mmvitplug.utils.zoo import add_record_arguments
    add_record_arguments(
        parser, 'the step-time ratio official / ours as speed/train under '
        'SUBJECT (e.g. dino-deit-small@official:facebookresearch/dino)',
        subject=True)
    return parser.parse_args(argv)


def official_modules(ref: str):
    sys.path.insert(0, ref)
    import main_dino
    import utils
    import vision_transformer as vits
    return vits, utils, main_dino


def build_official(vits, size, out_dim, drop_path):
    from vision_transformer import DINOHead
    student = vits.vit_small(
        patch_size=16, img_size=[size], drop_path_rate=drop_path)
    teacher = vits.vit_small(patch_size=16, img_size=[size])
    import utils
    student = utils.MultiCropWrapper(
        student, DINOHead(384, out_dim, norm_last_layer=True))
    teacher = utils.MultiCropWrapper(
        teacher, DINOHead(384, out_dim, norm_last_layer=True))
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    return student, teacher


def build_ours(size, out_dim, drop_path, max_iters):
    from mmengine.logging import MessageHub
    from mmengine.registry import MODELS, init_default_scope

    import mmvitplug  # noqa: F401
    init_default_scope('mmpretrain')
    MessageHub.get_current_instance().update_info('max_iters', max_iters)
    return MODELS.build(
        dict(
            type='mmvitplug.DINO',
            backbone=dict(
                type='mmvitplug.DeiT', arch='deit-small', img_size=size,
                patch_size=16, drop_path_rate=drop_path),
            head=dict(
                type='mmvitplug.DINOHead', in_channels=384,
                out_channels=out_dim, norm_last_layer=True),
            momentum=0.004))


def copy_official_into_ours(official, ours) -> None:
    state = {}
    for k, v in official.state_dict().items():
        k = k.replace('last_layer.weight_g',
                      'last_layer.parametrizations.weight.original0')
        k = k.replace('last_layer.weight_v',
                      'last_layer.parametrizations.weight.original1')
        state[k] = v
    own = {
        k: v
        for k, v in ours.state_dict().items()
        if k.startswith(('backbone.', 'head.'))
    }
    missing = set(own) - set(state)
    unexpected = set(state) - set(own)
    if missing or unexpected:
        raise RuntimeError(f'key mismatch: missing {sorted(missing)[:5]}, '
                           f'unexpected {sorted(unexpected)[:5]}')
    ours.load_state_dict(state, strict=False)


def crops(batch, global_size, local_size, local_crops, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ([
        torch.randn(batch, 3, global_size, global_size, generator=g)
        for _ in range(2)
    ] + [
        torch.randn(batch, 3, local_size, local_size, generator=g)
        for _ in range(local_crops)
    ])


class OfficialStep:
    """``train_one_epoch``'s body for one iteration (fp32, epoch 0)."""

    def __init__(self, utils, main_dino, student, teacher, out_dim, ncrops,
                 lr, momentum):
        self.utils = utils
        self.student, self.teacher = student, teacher
        self.loss = main_dino.DINOLoss(out_dim, ncrops, 0.04, 0.07, 30, 100)
        self.optimizer = torch.optim.AdamW(utils.get_params_groups(student))
        for i, group in enumerate(self.optimizer.param_groups):
            group['lr'] = lr
            if i == 0:
                group['weight_decay'] = 0.04
        self.momentum = momentum

    def __call__(self, images: List[torch.Tensor]) -> float:
        teacher_output = self.teacher(images[:2])
        student_output = self.student(images)
        loss = self.loss(student_output, teacher_output, 0)
        self.optimizer.zero_grad()
        loss.backward()
        self.utils.clip_gradients(self.student, 3.0)
        self.utils.cancel_gradients_last_layer(0, self.student, 1)
        self.optimizer.step()
        with torch.no_grad():
            m = self.momentum
            for q, k in zip(self.student.parameters(),
                            self.teacher.parameters()):
                k.data.mul_(m).add_((1 - m) * q.detach().data)
        return loss.item()


class OurStep:
    """The runner's train step: ``loss`` + ``update_params`` of a
    ``ClipOptimWrapper`` (per-parameter clipping 3.0) with the frozen last
    layer of :class:`DINOFreezeLastLayerHook`; the teacher update of a step
    runs at the start of the next forward (``flush`` applies it)."""

    def __init__(self, model, lr):
        from mmengine.optim import build_optim_wrapper

        from mmvitplug.engine.hooks import DINOFreezeLastLayerHook
        self.model = model
        self.optim_wrapper = build_optim_wrapper(
            model,
            dict(
                type='mmvitplug.ClipOptimWrapper',
                optimizer=dict(type='AdamW', lr=lr, weight_decay=0.04),
                clip_grad=dict(type='param_norm', max_norm=3.0),
                paramwise_cfg=dict(flat_decay_mult=0.0)))
        runner = argparse.Namespace(
            model=model, optim_wrapper=self.optim_wrapper, epoch=0)
        self.hook = DINOFreezeLastLayerHook(epochs=1)
        self.hook.before_train(runner)
        self.hook.before_train_epoch(runner)
        self.grads = {}
        self.optim_wrapper.optimizer.register_step_pre_hook(
            self._record_grads)

    def _record_grads(self, optimizer, args, kwargs):
        """The gradients the optimizer steps with (clipped, last layer
        dropped)."""
        self.grads = {
            name: p.grad.detach().clone()
            for name, p in self.model.named_parameters()
            if p.grad is not None
        }

    def __call__(self, images: List[torch.Tensor]) -> float:
        losses = self.model.loss(images)
        self.optim_wrapper.update_params(losses['loss'])
        return losses['loss'].item()

    def flush(self):
        with torch.no_grad():
            self.model.teacher.update_parameters(self.model._student())


def _our_name(name: str) -> str:
    return name.replace(
        'last_layer.weight_g',
        'last_layer.parametrizations.weight.original0').replace(
            'last_layer.weight_v',
            'last_layer.parametrizations.weight.original1')


def grad_diff(official, grads) -> float:
    """Largest gradient difference relative to the largest gradient."""
    diffs, scale = [], []
    for name, p in official.named_parameters():
        ours = grads.get(_our_name(name))
        if p.grad is None or ours is None:
            assert p.grad is None and ours is None, name
            continue
        diffs.append((p.grad - ours).abs().max().item())
        scale.append(p.grad.abs().max().item())
    return max(diffs) / max(scale)


def max_diff(official, ours, prefix=''):
    mapped = {}
    for k, v in official.state_dict().items():
        k = k.replace('last_layer.weight_g',
                      'last_layer.parametrizations.weight.original0')
        k = k.replace('last_layer.weight_v',
                      'last_layer.parametrizations.weight.original1')
        mapped[prefix + k] = v
    state = ours.state_dict()
    return max((mapped[k] - state[k]).abs().max().item() for k in mapped)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('mmengine', log_level='ERROR')
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    if not dist.is_initialized():  # the official DINOLoss all-reduces
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29563')
        dist.init_process_group('gloo', rank=0, world_size=1)
    vits, utils, main_dino = official_modules(args.ref)
    ncrops = 2 + args.local_crops

    # 1. equivalence of one step, crops at the native size, no drop path
    torch.manual_seed(0)
    student, teacher = build_official(vits, args.global_size, args.out_dim,
                                      0.)
    ours = build_ours(args.global_size, args.out_dim, 0., max_iters=100)
    copy_official_into_ours(student, ours)
    # our first forward copies the student into the teacher (steps 0); the
    # update that follows it (flush, steps 1) is step 0's (m = 0.996)
    ours.teacher.steps.fill_(0)
    momentum = utils.cosine_scheduler(0.996, 1, 1, 100)[0]
    official_step = OfficialStep(utils, main_dino, student, teacher,
                                 args.out_dim, ncrops, 1e-3, momentum)
    our_step = OurStep(ours, 1e-3)
    images = crops(args.batch, args.global_size, args.global_size,
                   args.local_crops, seed=1)
    loss_official = official_step(images)
    loss_ours = our_step(images)
    our_step.flush()
    print(f'equivalence (ViT-S/16, batch {args.batch}, {ncrops} crops of '
          f'{args.global_size} px, K={args.out_dim}):')
    print(f'  loss: official {loss_official:.6f}, ours {loss_ours:.6f}')
    print('  max |gradient diff| / max |gradient| (clipped, last layer '
          f'dropped): {grad_diff(student, our_step.grads):.3e}')
    print('  max |student param diff| after the step (AdamW\'s first '
          'step is ~lr x sign(gradient): near-zero gradients amplify '
          'rounding differences): '
          f'{max_diff(student, ours):.3e}')
    print('  max |teacher param diff| after the EMA update: '
          f'{max_diff(teacher, ours.teacher.module):.3e}')
    print('  max |centre diff|: '
          f'{(official_step.loss.center - ours.loss_module.center).abs().max():.3e}')  # noqa: E501

    # 2. speed of the full step, multi-size crops, drop path 0.1
    torch.manual_seed(0)
    student, teacher = build_official(vits, args.global_size, args.out_dim,
                                      0.1)
    ours = build_ours(args.global_size, args.out_dim, 0.1, max_iters=100)
    copy_official_into_ours(student, ours)
    official_step = OfficialStep(utils, main_dino, student, teacher,
                                 args.out_dim, ncrops, 1e-3, momentum)
    our_step = OurStep(ours, 1e-3)
    images = crops(args.batch, args.global_size, args.local_size,
                   args.local_crops, seed=2)
    official_step(images)  # warm-up
    our_step(images)
    times = {'official': [], 'ours': []}
    for _ in range(args.repeats):
        for name, step in (('official', official_step), ('ours', our_step)):
            start = time.perf_counter()
            step(images)
            times[name].append(time.perf_counter() - start)
    t_off, t_ours = (float(np.median(times[k])) for k in ('official',
                                                          'ours'))
    print(f'speed (2x{args.global_size} + {args.local_crops}x'
          f'{args.local_size} crops, batch {args.batch}, drop path 0.1, '
          f'{torch.get_num_threads()} threads, median of {args.repeats}):')
    print(f'  official {t_off:.3f} s/step, ours {t_ours:.3f} s/step, '
          f'official / ours = {t_off / t_ours:.2f}x')
    dist.destroy_process_group()
    results = dict(loss_official=loss_official, loss_ours=loss_ours,
                   ratio=t_off / t_ours, official_s=t_off, ours_s=t_ours,
                   threads=torch.get_num_threads())
    if args.record:
        record(args, results)
    return results


def record(args, results) -> None:
    """The step-time ratio official / ours (``results`` as ``main``
    returns them) into the zoo's results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    family, subject = args.record
    note = (f'one full DINO training step (ViT-S/16, 2x{args.global_size} + '
            f'{args.local_crops}x{args.local_size} crops, batch {args.batch}, '
            f'K={args.out_dim}, drop path 0.1), official / ours step time; '
            f'cpu, {results["threads"]} threads, median of {args.repeats} '
            f'interleaved runs; {results["official_s"]:.3f} vs '
            f'{results["ours_s"]:.3f} s/step')
    record_result(family, subject, 'speed/train',
                  value=float(f'{results["ratio"]:.3g}'),
                  tool='tools/analysis/benchmark_dino.py', note=note,
                  root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{family}.yml')


if __name__ == '__main__':
    main()
