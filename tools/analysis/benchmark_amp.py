# Copyright (c) mmvitplug contributors.
"""Mixed-precision training throughput of a classification config, against
timm's model of the same architecture in the same process.

Ours is what ``tools/train.py CONFIG --amp [--amp-dtype bfloat16]`` trains:
the config's model (backbone, head and loss, the data preprocessor with its
batch augments, e.g. DeiT's Mixup / CutMix) and its optimizer wrapper
(parameter-wise decay settings included) switched to mixed precision by
:func:`mmvitplug.utils.enable_amp`, one ``model.train_step(data,
optim_wrapper)`` per step. The images are synthetic uint8 batches already on
the device, so the data loader is not measured. The peer is timm's model
(``--timm``) with timm's AdamW / SGD of the config's lr, weight decay and
betas (no decay on 1-d parameters), ``torch.autocast`` of the same dtype
(a ``GradScaler`` for float16), timm's Mixup / CutMix of the config's alphas,
a soft-target cross-entropy and the normalisation on the device.
``--dtype float32`` measures both without autocast.

Each round times ``--steps`` steps of each model (the order alternating per
round); img/s and the peak memory of a round are the medians over
``--repeats`` rounds after ``--warmup``, the ratios the paired medians.

Examples::

    # GPU: DeiT-S, bf16 (what the README's GPU table reports)
    python tools/analysis/benchmark_amp.py \
        configs/deit/sup-deit-small_8xb128_in1k.py \
        --timm deit_small_patch16_224 --dtype bfloat16 --batch-size 256
    # CPU, a tiny DeiT of the bundled digits configs
    python tools/analysis/benchmark_amp.py \
        configs/bundled/deit/sup-deit-4l192d-p8_1xb16_digits.py \
        --timm vit_tiny_patch16_224 --timm-kwargs \
        '{"depth": 4, "patch_size": 8, "img_size": 32}' \
        --device cpu --img-size 32 --batch-size 16 --threads 2
"""
import argparse
import copy
import functools
import json
import time

import torch
from benchmark import (PeakMemory, interleaved, medians, paired_ratios,
                       setup_process, sync)
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope

import mmvitplug  # noqa: F401 (registers the plugin)
from mmvitplug.utils import enable_amp
from mmvitplug.utils.zoo import (add_record_arguments, device_tag,
                                 model_name_of, record_result)

DTYPES = ('float32', 'float16', 'bfloat16')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='classification config to train')
    parser.add_argument('--timm', required=True,
                        help='timm model name of the same architecture')
    parser.add_argument('--timm-kwargs', type=json.loads, default={},
                        help='JSON dict of keyword arguments of '
                        'timm.create_model, e.g. \'{"depth": 4}\'')
    parser.add_argument('--dtype', choices=DTYPES, default='bfloat16',
                        help='autocast dtype (float32: no autocast)')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--steps', type=int, default=10,
                        help='training steps per timed round')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch threads (CPU)')
    add_record_arguments(
        parser, 'the paired ratios to timm under <config model name>@timm:'
        '<timm name> (speed/train_step_<dtype>[_<gpu>]: the full '
        'train_step; speed/train_model_<dtype>[_<gpu>]: our model in '
        'timm\'s loop; memory/train_peak_<dtype>[_<gpu>]: the full step\'s '
        'peak memory)')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'img_size', 'steps', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def build_ours(cfg, dtype, device):
    """The config's classifier and its (mixed-precision) optimizer wrapper,
    as the runner builds them."""
    cfg = copy.deepcopy(cfg)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if cfg.get('data_preprocessor', None) is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    if dtype != 'float32':
        enable_amp(cfg, dtype)
    model = MODELS.build(cfg.model).to(device).train()
    return model, build_optim_wrapper(model, cfg.optim_wrapper)


def preprocessor_cfg(cfg) -> dict:
    """The data preprocessor the runner gives the model: the model's own,
    else the config's top-level one."""
    return cfg.model.get('data_preprocessor', None) or cfg.get(
        'data_preprocessor', None) or {}


def batch_augments(cfg):
    """Mixup / CutMix alphas and the number of classes of the config."""
    pre = preprocessor_cfg(cfg)
    alphas = {'Mixup': 0., 'CutMix': 0.}
    augments = (pre.get('batch_augments', None) or {}).get('augments', [])
    for aug in augments:
        kind = aug['type'].split('.')[-1]
        if kind not in alphas:
            raise ValueError(f'batch augment {aug["type"]!r} has no timm '
                             f'counterpart here (only {", ".join(alphas)})')
        alphas[kind] = aug['alpha']
    num_classes = cfg.model.head.num_classes
    smoothing = cfg.model.head.get('loss', {}).get('label_smooth_val', 0.)
    return alphas, num_classes, smoothing


class TimmPeer:
    """timm's model trained the way timm's train loop does it."""

    def __init__(self, cfg, args, device, model=None):
        import timm
        from timm.data import Mixup
        from timm.loss import (LabelSmoothingCrossEntropy,
                               SoftTargetCrossEntropy)
        from timm.optim import create_optimizer_v2
        alphas, num_classes, smoothing = batch_augments(cfg)
        kwargs = dict(num_classes=num_classes)
        kwargs['drop_path_rate'] = cfg.model.backbone.get(
            'drop_path_rate', 0.)
        kwargs.update(args.timm_kwargs)
        if model is None:
            model = timm.create_model(args.timm, **kwargs)
        self.model = model.to(device)
        self.model.train()
        opt = cfg.optim_wrapper.optimizer
        extra = {k: opt[k] for k in ('betas', 'eps', 'momentum') if k in opt}
        self.optimizer = create_optimizer_v2(
            self.model, opt=opt.type.lower(), lr=opt.lr,
            weight_decay=opt.get('weight_decay', 0.), **extra)
        self.mixup = None
        if alphas['Mixup'] > 0 or alphas['CutMix'] > 0:
            self.mixup = Mixup(
                mixup_alpha=alphas['Mixup'], cutmix_alpha=alphas['CutMix'],
                label_smoothing=smoothing, num_classes=num_classes)
        self.soft_loss = SoftTargetCrossEntropy()
        self.hard_loss = LabelSmoothingCrossEntropy(smoothing)
        pre = preprocessor_cfg(cfg)
        self.mean = torch.tensor(pre['mean'], device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(pre['std'], device=device).view(1, -1, 1, 1)
        self.num_classes = num_classes
        self.dtype = None if args.dtype == 'float32' else getattr(
            torch, args.dtype)
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=args.dtype == 'float16')
        self.device = device

    def step(self, images, labels):
        x = (images.float() - self.mean) / self.std
        target = None
        if self.mixup is not None:
            x, target = self.mixup(x, labels)
        with torch.autocast(self.device.type, dtype=self.dtype,
                            enabled=self.dtype is not None):
            out = self.model(x)
            loss = self.hard_loss(out, labels) if target is None else \
                self.soft_loss(out, target)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()


class Logits(torch.nn.Module):
    """An mmpretrain classifier as a plain images -> logits module."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(x, mode='tensor')


def timed_round(step, steps, images, device):
    """img/s and peak memory (MiB) of ``steps`` calls of ``step``."""
    with PeakMemory(device) as mem:
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync(device)
        elapsed = time.perf_counter() - start
    return images * steps / elapsed, mem.peak / 2**20


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    cfg = Config.fromfile(args.config)
    ours, optim_wrapper = build_ours(cfg, args.dtype, device)
    peer = TimmPeer(cfg, args, device)
    # our model in timm's loop: separates the model from the framework
    ours_in_peer_loop = TimmPeer(
        cfg, args, device, model=Logits(build_ours(cfg, 'float32',
                                                   device)[0]))

    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch_size, 3, args.img_size,
                                    args.img_size),
                           generator=gen, dtype=torch.uint8).to(device)
    labels = torch.randint(0, peer.num_classes, (args.batch_size, ),
                           generator=gen)
    samples = [DataSample().set_gt_label(int(i)) for i in labels]
    labels = labels.to(device)

    def ours_step():
        ours.train_step(dict(inputs=images, data_samples=samples),
                        optim_wrapper)

    def peer_step():
        peer.step(images, labels)

    names = {
        f'timm {args.timm}': peer_step,
        'mmvitplug (train_step)': ours_step,
        'mmvitplug model, timm loop': functools.partial(
            ours_in_peer_loop.step, images, labels),
    }
    steps = {
        name: functools.partial(timed_round, fn, args.steps, args.batch_size,
                                device)
        for name, fn in names.items()
    }
    runs = interleaved(steps, args.repeats, args.warmup)
    med = {name: medians(res) for name, res in runs.items()}
    peer_runs = runs[f'timm {args.timm}']
    ratios = {
        name: paired_ratios(res, peer_runs)
        for name, res in runs.items() if res is not peer_runs
    }
    where = torch.cuda.get_device_name(device) if device.type == 'cuda' \
        else f'cpu, {args.threads} threads'
    print(f'{where}; torch {torch.__version__}; dtype={args.dtype} '
          f'(ours: {type(optim_wrapper).__name__}); batch={args.batch_size} '
          f'img={args.img_size}; {args.steps} steps x {args.repeats} rounds '
          '(median)')
    header = (f"{'model (ratios: paired medians)':<36}{'train img/s':>13}"
              f"{'peak MiB':>12}")
    print(header)
    print('-' * len(header))
    for name, (speed, mem) in med.items():
        print(f'{name:<36}{speed:>13.1f}{mem:>12.1f}')
    for name, ratio in ratios.items():
        print(f"{'ratio ' + name.split(' ', 1)[1] + ' / timm':<36}"
              f'{ratio[0]:>13.3f}{ratio[1]:>12.3f}')
    if args.record:
        record(args, ratios, device, where)
    return med, ratios


def record(args, ratios, device, where) -> None:
    """The ratios to timm into the zoo's results (docs/model_zoo.md)."""
    subject = f'{model_name_of(args.config)}@timm:{args.timm}'
    tag = f'_{args.dtype}{device_tag(device)}'
    step = ratios['mmvitplug (train_step)']
    model = ratios['mmvitplug model, timm loop']
    note = (f'{where}; batch {args.batch_size} at {args.img_size} px, '
            f'{args.steps} steps x {args.repeats} paired rounds')
    for metric, value in ((f'speed/train_step{tag}', step[0]),
                          (f'speed/train_model{tag}', model[0]),
                          (f'memory/train_peak{tag}', step[1])):
        record_result(args.record, subject, metric, value=round(value, 3),
                      tool='tools/analysis/benchmark_amp.py', note=note,
                      root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
