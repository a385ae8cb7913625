# Copyright (c) mmvitplug contributors.
"""Speed / memory of an mmvitplug backbone against a reference model.

The reference is timm's model of the same architecture (``--timm NAME``) or,
for models timm lacks, a function of a local Python file given by the user
(``--reference-module PATH --reference-fn NAME``, e.g. a copy of the
official repository's model file; nothing of it is shipped here). Both
models get the same weights (the reference's random init converted to our
layout by the converter registered for the backbone in
:mod:`mmvitplug.converters`) and a
1000-class linear head, and are measured interleaved in one process:
inference img/s (eval, no_grad), training img/s (forward, cross entropy,
backward, SGD step) and the peak memory of a training step. Each number is
the median over ``--repeats`` after ``--warmup`` rounds; compare only the
ratios, absolute speed drifts on shared machines.

Examples (2 CPU threads, a few minutes each)::

    python tools/analysis/benchmark.py --arch deit-tiny \
        --timm deit_tiny_patch16_224 --threads 2
    python tools/analysis/benchmark.py --backbone CaiT --arch cait-xxs24 \
        --timm cait_xxs24_224 --threads 2 --repeats 3
    python tools/analysis/benchmark.py --backbone CaiT --arch cait-xxs24 \
        --reference-module ~/deit/cait_models.py \
        --reference-fn cait_XXS24_224
    python tools/analysis/benchmark.py --backbone LeViT --arch levit-128s \
        --mmpretrain '{"type": "LeViT", "arch": "128s"}'

The backbone is ``mmvitplug.<--backbone>`` of the mmvitplug registry (or of
the module ``mmvitplug.models.backbones.<backbone lower-case>``) and the
converter the one registered for ``--converter`` (default: the backbone
type) in :mod:`mmvitplug.converters`.

On CPU, peak memory is the resident-set growth during a step, sampled from
``/proc/self/statm``; the script re-executes itself with
``MALLOC_MMAP_THRESHOLD_`` set so freed tensors leave the resident set. On
CUDA it is ``torch.cuda.max_memory_allocated`` above the baseline.
"""
import argparse
import functools
import importlib
import importlib.util
import inspect
import json
import os
import statistics
import sys
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MMAP_ENV = 'MALLOC_MMAP_THRESHOLD_'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backbone', default='DeiT',
                        help='mmvitplug backbone type (DeiT, CaiT, ...)')
    parser.add_argument('--arch', default='deit-tiny',
                        help='arch of the mmvitplug backbone')
    parser.add_argument('--backbone-kwargs', type=json.loads, default={},
                        help='JSON dict of other keyword arguments of the '
                        'mmvitplug backbone, e.g. \'{"reversible": false}\'')
    parser.add_argument('--converter', default=None,
                        help='registered converter name (default: '
                        '--backbone)')
    parser.add_argument('--timm', default='deit_tiny_patch16_224',
                        help='timm model name of the same architecture')
    parser.add_argument('--mmpretrain', type=json.loads, default=None,
                        help='JSON backbone config of mmpretrain\'s model '
                        'to compare with instead of timm, e.g. \'{"type": '
                        '"LeViT", "arch": "128s"}\' (random weights on '
                        'both sides: no converter, no logits check)')
    parser.add_argument('--reference-module', default=None,
                        help='Python file with the reference model (used '
                        'instead of timm), e.g. official code')
    parser.add_argument('--reference-fn', default=None,
                        help='function of --reference-module returning '
                        'the reference model')
    parser.add_argument('--reference-kwargs', type=json.loads, default={},
                        help='JSON dict of keyword arguments for '
                        '--reference-fn')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--train-batch-size', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch CPU threads')
    parser.add_argument('--fused', action=argparse.BooleanOptionalAction,
                        default=True,
                        help='fused (SDPA) attention in both models')
    parser.add_argument('--device', default='cpu')
    from mmvitplug.utils.zoo import add_record_arguments
    add_record_arguments(
        parser, 'the paired ratios speed/infer, speed/train and '
        'speed/train_memory under SUBJECT (e.g. '
        'deit-tiny@timm:deit_tiny_patch16_224)', subject=True)
    args = parser.parse_args(argv)
    if (args.reference_module is None) != (args.reference_fn is None):
        parser.error('--reference-module and --reference-fn go together')
    return args


def pooled(out):
    """(B, C) features of one backbone output: the first of a pair (e.g.
    class and distillation tokens), the spatial mean of maps (B, C, H, W),
    the token mean of (B, N, C)."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    if out.ndim == 4:
        return out.mean((2, 3))
    if out.ndim == 3:
        return out.mean(1)
    return out


def output_dims(backbone, img_size):
    """Channels of the pooled last output, from one forward pass."""
    backbone.eval()
    with torch.no_grad():
        out = backbone(torch.zeros(1, 3, img_size, img_size))
    return pooled(out[-1]).shape[-1]


class Classifier(nn.Module):
    """A backbone + a linear head, so both sides compute the same thing."""

    def __init__(self, backbone, in_features, num_classes=1000):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.head(pooled(self.backbone(x)[-1]))


def backbone_class(name):
    """``mmvitplug.<name>`` from the registry or its family module."""
    import mmvitplug  # noqa: F401  (registers the mmvitplug modules)
    from mmvitplug.registry import MODELS

    cls = MODELS.get(name)
    if cls is None:
        try:
            importlib.import_module(
                f'mmvitplug.models.backbones.{name.lower()}')
        except ModuleNotFoundError:
            pass
        cls = MODELS.get(name)
    if cls is None:
        raise ValueError(f"Unknown backbone '{name}'; registered mmvitplug "
                         f'modules: {sorted(MODELS.module_dict)}')
    return cls


def converter_fn(name):
    """The converter registered as ``name`` (any letter case)."""
    from mmvitplug.converters import get_converter
    try:
        return get_converter(name)
    except KeyError as e:
        raise ValueError(str(e.args[0])) from None


def build_reference(args):
    """The reference model: timm's, mmpretrain's, or a function of a user's
    file."""
    if args.mmpretrain is not None:
        import mmpretrain.models  # noqa: F401  (registers the backbones)
        from mmpretrain.registry import MODELS
        backbone = MODELS.build(dict(args.mmpretrain))
        backbone.init_weights()
        name = '.'.join(str(v) for v in args.mmpretrain.values())
        return Classifier(backbone, output_dims(backbone, args.img_size)), \
            f'mmpretrain {name}'
    if args.reference_module is None:
        import timm
        return timm.create_model(args.timm, pretrained=False,
                                 img_size=args.img_size), \
            f'timm {args.timm}'
    path = os.path.expanduser(args.reference_module)
    spec = importlib.util.spec_from_file_location('reference_models', path)
    module = importlib.util.module_from_spec(spec)
    # registries such as timm's @register_model look the module up by name
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not hasattr(module, args.reference_fn):
        raise ValueError(f"{path} has no function '{args.reference_fn}'")
    model = getattr(module, args.reference_fn)(**args.reference_kwargs)
    return model, f'ref {args.reference_fn}'


def build_models(args):
    """Our classifier and the reference, with the same weights."""
    torch.manual_seed(0)
    ref, ref_name = build_reference(args)
    # some references zero-init their head (timm ResMLP): randomise it so the
    # logits check below compares real outputs
    head = ref.get_classifier() if hasattr(ref, 'get_classifier') else None
    if isinstance(head, nn.Linear):
        nn.init.normal_(head.weight, std=0.02)
        nn.init.normal_(head.bias, std=0.02)
    for m in ref.modules():
        if hasattr(m, 'fused_attn'):
            m.fused_attn = args.fused
    cls = backbone_class(args.backbone)
    params = inspect.signature(cls).parameters
    kwargs = dict(args.backbone_kwargs)
    if 'img_size' in params:
        kwargs['img_size'] = args.img_size
    if 'fused_attn' in params:
        kwargs['fused_attn'] = args.fused
    backbone = cls(args.arch, **kwargs)
    ours = Classifier(backbone, output_dims(backbone, args.img_size))
    same_weights = args.mmpretrain is None
    if same_weights:
        convert = converter_fn(args.converter or args.backbone)
        state = convert(ref.state_dict())
        result = backbone.load_state_dict(
            {k[9:]: v
             for k, v in state.items() if k.startswith('backbone.')},
            strict=False)
        if result.unexpected_keys:
            raise KeyError(f'converted keys the backbone lacks: '
                           f'{result.unexpected_keys}')
        if result.missing_keys:  # e.g. LITv2's output norms of stages 0-2
            print(f'not in the reference (unused by the classifier, left '
                  f'at their initialisation): {result.missing_keys}')
        head = {k[8:]: v for k, v in state.items()
                if k.startswith('head.fc.')}
        if set(head) == {'weight', 'bias'} and \
                head['weight'].shape == ours.head.weight.shape:
            ours.head.load_state_dict(head)
        else:  # e.g. a BN + Linear or a distillation head: backbones only
            same_weights = False
    return ours.to(args.device), ref.to(args.device), ref_name, same_weights


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def rss_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class PeakMemory:
    """Peak memory growth (bytes) inside the ``with`` block."""

    def __init__(self, device):
        self.device = device
        self.peak = float('nan')

    def __enter__(self):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        elif os.path.exists('/proc/self/statm'):
            self.base = self.max = rss_bytes()
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.0005):
            self.max = max(self.max, rss_bytes())

    def __exit__(self, *exc):
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(
                self.device) - self.base
        elif hasattr(self, 'thread'):
            self.stop.set()
            self.thread.join()
            self.peak = max(self.max, rss_bytes()) - self.base


def setup_process(device, threads):
    """Before measuring: on CPU, re-execute this script once with
    ``MALLOC_MMAP_THRESHOLD_`` set, so freed tensors leave the resident set
    (the memory column reads it); then use ``threads`` torch threads."""
    if device.type == 'cpu' and MMAP_ENV not in os.environ:
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, MMAP_ENV: '65536'})
    torch.set_num_threads(threads)


def interleaved(steps, repeats, warmup):
    """Run every step (a callable returning a tuple of numbers) once per
    round, ``warmup + repeats`` rounds, alternating the order of the steps
    so that load drift hits them alike.

    Returns:
        dict: Step name -> the results of the rounds after the warm-up.
    """
    runs = {name: [] for name in steps}
    order = list(steps)
    for r in range(warmup + repeats):
        for name in order[::1 if r % 2 else -1]:
            result = steps[name]()
            if r >= warmup:
                runs[name].append(result)
    return runs


def medians(results):
    """Per-column medians of a list of result tuples."""
    return [statistics.median(column) for column in zip(*results)]


def paired_ratios(results, peers):
    """Per-column medians of the per-round ratios ``results / peers``
    (paired, robust to machine drift)."""
    return [
        statistics.median(a[i] / b[i] for a, b in zip(results, peers))
        for i in range(len(results[0]))
    ]


def gflops(model, size) -> float:
    """GFLOPs of one image of ``size`` (H, W) by mmengine's complexity
    analysis (``get_model_complexity_info``)."""
    from mmengine.analysis import get_model_complexity_info
    x = torch.randn(1, 3, *size)
    info = get_model_complexity_info(model, inputs=(x, ), show_table=False,
                                     show_arch=False)
    return info['flops'] / 1e9


def infer_pair(plain, other, x, repeats, warmup):
    """Inference img/s of two models on the same batch, interleaved.

    Returns:
        tuple: The medians of ``plain`` and ``other`` and the paired median
        ratio ``other / plain``.
    """
    runs = interleaved(
        dict(plain=lambda: (infer_step(plain, x), ),
             other=lambda: (infer_step(other, x), )), repeats, warmup)
    return (medians(runs['plain'])[0], medians(runs['other'])[0],
            paired_ratios(runs['other'], runs['plain'])[0])


def infer_step(model, x):
    model.eval()
    sync(x.device)
    start = time.perf_counter()
    with torch.no_grad():
        model(x)
    sync(x.device)
    return x.shape[0] / (time.perf_counter() - start)


def train_step(model, optimizer, x, y):
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with PeakMemory(x.device) as mem:
        sync(x.device)
        start = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        sync(x.device)
        elapsed = time.perf_counter() - start
    return x.shape[0] / elapsed, mem.peak / 2**20


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    setup_process(device, args.threads)
    ours, ref, ref_name, same_weights = build_models(args)
    models = {f'mmvitplug {args.arch}': ours, ref_name: ref}

    gen = torch.Generator().manual_seed(0)
    size = (3, args.img_size, args.img_size)
    x = torch.randn(args.batch_size, *size, generator=gen).to(device)
    xt = torch.randn(args.train_batch_size, *size, generator=gen).to(device)
    yt = torch.randint(0, 1000, (args.train_batch_size, ),
                       generator=gen).to(device)
    diff = float('nan')  # different heads or weights: not comparable
    if same_weights:
        with torch.no_grad():
            diff = (ours.eval()(x[:2]) -
                    ref.eval()(x[:2])).abs().max().item()

    optims = {
        name: torch.optim.SGD(m.parameters(), lr=1e-4, momentum=0.9)
        for name, m in models.items()
    }

    def step(name):
        model = models[name]
        return (infer_step(model, x),
                *train_step(model, optims[name], xt, yt))

    runs = interleaved({name: functools.partial(step, name)
                        for name in models}, args.repeats, args.warmup)
    med = {name: medians(res) for name, res in runs.items()}
    ratio = paired_ratios(*runs.values())  # ours / ref
    print(f'device={device} threads={args.threads} fused={args.fused} '
          f'img={args.img_size} infer_bs={args.batch_size} '
          f'train_bs={args.train_batch_size} repeats={args.repeats} '
          f'(median)  max|logits diff|={diff:.2e}')
    header = f"{'model':<36}{'infer img/s':>13}{'train img/s':>13}" \
             f"{'train peak MiB':>16}"
    print(header)
    print('-' * len(header))
    for name, (infer, train, mem) in med.items():
        print(f'{name:<36}{infer:>13.2f}{train:>13.2f}{mem:>16.1f}')
    print(f"{'ratio ours/ref (paired median)':<36}{ratio[0]:>13.3f}"
          f'{ratio[1]:>13.3f}{ratio[2]:>16.3f}')
    if args.record:
        record_ratios(args, ratio)


def record_ratios(args, ratio):
    """The paired ratios into the zoo's results (see docs/model_zoo.md)."""
    from mmvitplug.utils.zoo import record_result
    family, subject = args.record
    note = (f'{args.device}, {args.threads} threads, {args.img_size} px, '
            f'batch {args.batch_size} / {args.train_batch_size} (infer / '
            f'train), {args.repeats} paired rounds, fused={args.fused}')
    for metric, value in zip(
            ('speed/infer', 'speed/train', 'speed/train_memory'), ratio):
        record_result(family, subject, metric, value=round(value, 3),
                      tool='tools/analysis/benchmark.py', note=note,
                      root=args.results_root)
    print(f'recorded {subject} in docs/zoo/results/{family}.yml')


if __name__ == '__main__':
    main()
