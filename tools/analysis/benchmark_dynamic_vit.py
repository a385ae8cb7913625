# Copyright (c) mmvitplug contributors.
"""DynamicViT's efficiency claim (https://arxiv.org/abs/2106.02034: 30 %+
fewer FLOPs, 40 %+ more throughput at rho = 0.7 for DeiT-S / B): the
pruned model at inference against the same unpruned backbone.

For each arch (``--archs``: names of the DeiT, CaiT, ConViT and CCT arch
zoos, ``digits`` for the bundled digits DeiT, 4 blocks of 192 dims on
8 x 8 patches of 32 px images, or ``digits-p4``, the same on 4 x 4
patches: 64 tokens instead of 16, ``digits-convit-p4``, the digits ConViT
on 4 x 4 patches) the plain backbone and
``mmvitplug.DynamicViT`` wrapping the same weights (predictors at the
fractions 0.25, 0.5, 0.75 of the depth, ``--keep-ratio``) are measured in
the same run, at the arch's image size:

- GFLOPs of one image with mmengine's complexity analysis
  (``mmengine.analysis.get_model_complexity_info``; the attention on its
  explicit path, ``fused_attn=False``, so that its matrix products are
  counted), and the ratio pruned / plain;
- inference images per second, interleaved over ``--repeats`` rounds after
  ``--warmup`` (medians, and the paired median ratio pruned / plain).

Example (CPU, a minute)::

    python tools/analysis/benchmark_dynamic_vit.py --archs digits \
        deit-small cait-xxs24 convit-small --batch 32 --threads 1 \
        [--record dynamic_vit]

``--record FAMILY`` writes each arch's ratios to the model zoo's results
(``docs/zoo/results/FAMILY.yml``) under ``dynamicvit-<name>@<name>``, the
name being the arch's (``deit-small``) or, for the digits models, their
layout (``digits`` -> ``deit-4l192d-p8``, ``digits-p4`` ->
``deit-4l192d-p4``, ``digits-convit-p4`` -> ``convit-4l192d-p4``):
``flops/ratio``, and ``speed/infer`` on CPU or ``speed/infer_<gpu>`` on
CUDA (the last word of the GPU's name, e.g. ``speed/infer_h200``).
"""
import argparse

import torch
from benchmark import gflops, infer_pair, setup_process

from mmvitplug.models.backbones import CCT, CaiT, ConViT, DeiT, DynamicViT
from mmvitplug.utils.zoo import add_record_arguments, device_tag

TOOL = 'tools/analysis/benchmark_dynamic_vit.py'

DIGITS = dict(
    arch=dict(
        embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=768),
    img_size=32,
    patch_size=8)
#: the bundled digits models: --archs name -> (family, arguments)
DIGITS_ARCHS = {
    'digits': (DeiT, DIGITS),
    'digits-p4': (DeiT, dict(DIGITS, patch_size=4)),
    'digits-convit-p4': (ConViT, dict(
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=4,
            feedforward_channels=768, local_up_to_layer=3),
        img_size=32,
        patch_size=4)),
}
#: the results subject's name of the digits models (their layout)
DIGITS_NAMES = {
    'digits': 'deit-4l192d-p8',
    'digits-p4': 'deit-4l192d-p4',
    'digits-convit-p4': 'convit-4l192d-p4',
}
#: the families DynamicViT prunes, whose arch zoo names --archs takes
FAMILIES = (DeiT, CaiT, ConViT, CCT)


def family_of(arch: str) -> tuple:
    """The backbone class and its arguments of an --archs name."""
    if arch in DIGITS_ARCHS:
        cls, kwargs = DIGITS_ARCHS[arch]
        return cls, dict(kwargs)
    for cls in FAMILIES:
        if arch in cls.arch_zoo:
            return cls, dict(arch=arch)
    names = [n for cls in FAMILIES for n in cls.arch_zoo]
    raise SystemExit(f'unknown arch {arch!r}; choose from '
                     f'{list(DIGITS_ARCHS) + names}')


def image_size(vit) -> tuple:
    """The image size the backbone is made for."""
    embed = getattr(vit, 'patch_embed', None) or getattr(vit, 'tokenizer')
    return tuple(embed.img_size)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['digits',
                                                       'deit-small'])
    parser.add_argument('--keep-ratio', type=float, default=0.7)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default=None,
                        help='default: cuda when available, else cpu')
    add_record_arguments(
        parser, 'each arch\'s flops/ratio and speed/infer (speed/infer_<gpu> '
        'on CUDA) under dynamicvit-<name>@<name>')
    return parser.parse_args(argv)


def build(arch: str, keep_ratio: float, fused_attn: bool = True):
    """The plain backbone and the DynamicViT of the same weights, eval
    mode, and the image size."""
    cls, kwargs = family_of(arch)
    torch.manual_seed(0)
    plain = cls(fused_attn=fused_attn, **kwargs)
    plain.init_weights()
    pruned = DynamicViT(
        cls(fused_attn=fused_attn, **kwargs), keep_ratio=keep_ratio)
    pruned.init_weights()
    pruned.load_state_dict(plain.state_dict(), strict=False)
    return plain.eval(), pruned.eval(), image_size(plain)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    setup_process(device, args.threads)
    rows = []
    for arch in args.archs:
        plain, pruned, size = build(arch, args.keep_ratio, fused_attn=False)
        flops = [gflops(plain, size), gflops(pruned, size)]
        plain, pruned, size = build(arch, args.keep_ratio)
        plain, pruned = plain.to(device), pruned.to(device)
        x = torch.randn(args.batch, 3, *size, device=device)
        with torch.no_grad():
            n = plain.embed(x[:1])[0].size(1) - plain.num_extra_tokens
        rows.append((arch, n, pruned.num_kept(n), *flops,
                     flops[1] / flops[0],
                     *infer_pair(plain, pruned, x, args.repeats,
                                 args.warmup)))
    print(f'DynamicViT rho={args.keep_ratio} vs the plain backbone, '
          f'inference, {device.type}, batch {args.batch}, {args.threads} '
          'thread(s)')
    print(f'{"arch":<18}{"tokens":>7}  {"kept":<14}{"GFLOPs":>8}'
          f'{"pruned":>8}{"ratio":>7}{"img/s":>9}{"pruned":>9}{"ratio":>7}')
    for arch, n, kept, f0, f1, fr, t0, t1, tr in rows:
        print(f'{arch:<18}{n:>7}  {str(kept):<14}{f0:>8.4f}{f1:>8.4f}'
              f'{fr:>7.3f}{t0:>9.1f}{t1:>9.1f}{tr:>7.3f}')
    if args.record:
        record(args, rows, device)


def record(args, rows, device) -> None:
    """Each arch's FLOPs and speed ratios into the zoo's results under
    ``dynamicvit-<name>@<name>`` (see the module's docstring)."""
    from mmvitplug.utils.zoo import record_result
    device = torch.device(device)
    where = (torch.cuda.get_device_name(device)
             if device.type == 'cuda' else 'cpu')
    conditions = (f'{where}, batch {args.batch}, '
                  f'{args.threads} thread(s), rho {args.keep_ratio}, '
                  f'{args.repeats} paired rounds, untrained predictors '
                  '(the kept counts fix the cost)')
    for arch, n, kept, f0, f1, fr, t0, t1, tr in rows:
        name = DIGITS_NAMES.get(arch, arch)
        subject = f'dynamicvit-{name}@{name}'
        tokens = f'{n} tokens, {", ".join(map(str, kept))} kept'
        for metric, value, detail in (
                ('flops/ratio', fr, f'{f0:.4g} -> {f1:.4g} GFLOPs'),
                ('speed/infer' + device_tag(device), tr,
                 f'{t0:.4g} -> {t1:.4g} img/s')):
            record_result(args.record, subject, metric,
                          value=float(f'{value:.3g}'), tool=TOOL,
                          note=f'{conditions}; {tokens} ({detail})',
                          root=args.results_root)
        print(f'recorded {subject} in docs/zoo/results/{args.record}.yml')


if __name__ == '__main__':
    main()
