# Copyright (c) mmvitplug contributors.
"""The model zoo's plots, from the metafiles and the recorded results.

    python tools/analysis/zoo_plots.py [--out docs/zoo]

Writes (PNG):

- ``digits_top1_vs_speed.png``: every backbone's bundled-digits top-1 (mean
  over the recorded seeds, bars from the lowest to the highest seed)
  against its measured CPU inference throughput (``cpu/infer_img_s`` of
  ``tools/zoo/run_zoo.py``, one run on one machine);
- ``digits_train_memory.png``: the peak memory growth of one training step
  of each of them (``cpu/train_peak_mib``);
- ``imagenet_top1_vs_flops.png``: the PUBLISHED ImageNet-1k top-1 of our
  ImageNet configs (from the papers, as the metafiles label them) against
  their FLOPs (counted by ``tools/zoo/sync.py --count``);
- ``ssl_vs_random.png``: each self-supervised method's claim: its
  evaluation against its baseline (the same backbone at random init, or
  the named alternative), per seed.

A model without the numbers a plot needs is left out and named on stdout.
"""
import argparse
import os
import os.path as osp

from mmvitplug.utils.zoo import load_results, result_numbers

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_sync():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        '_zoo_sync', osp.join(REPO, 'tools', 'zoo', 'sync.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repo', default=REPO)
    parser.add_argument('--out', default=None,
                        help='output folder (default: <repo>/docs/zoo)')
    return parser.parse_args(argv)


def backbone_points(metas, results):
    """[(collection, model, top-1 values, img/s, MiB)]"""
    points, missing = [], []
    for meta in metas.values():
        for col in meta.get('Collections', []):
            zoo = col.get('Zoo') or {}
            if zoo.get('Section') != 'backbones':
                continue
            # the backbone's digits classifier: its first top-1 evidence
            for micro in [m for m in zoo.get('Micro') or []
                          if m['Metric'] == 'accuracy/top1'][:1]:
                rec = results.get(micro['Model'], {})
                top1 = rec.get('accuracy/top1')
                speed = rec.get('cpu/infer_img_s')
                mem = rec.get('cpu/train_peak_mib')
                if not top1 or not speed:
                    missing.append(micro['Model'])
                    continue
                points.append((col['Name'], micro['Model'],
                               result_numbers(top1), speed['value'],
                               mem['value'] if mem else None))
    return points, missing


def plot_top1_vs_speed(points, path, plt, zoom_from=94.0):
    """Every backbone on the left; on the right the crowded top (mean top-1
    at least ``zoom_from``) spread out."""
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.5))
    cmap = plt.get_cmap('tab20')
    for panel, ax in enumerate(axes):
        shown = [p for p in points
                 if panel == 0 or sum(p[2]) / len(p[2]) >= zoom_from]
        for i, (name, _, top1, img_s, _) in enumerate(
                sorted(shown, key=lambda p: p[3])):
            mean = sum(top1) / len(top1)
            ax.errorbar(img_s, mean,
                        yerr=[[mean - min(top1)], [max(top1) - mean]],
                        fmt='o', capsize=3, color=cmap(i % 20))
            ax.annotate(name, (img_s, mean), textcoords='offset points',
                        xytext=(4, 6 if i % 2 else -11), fontsize=7.5)
        ax.set_xscale('log')
        ax.set_xlabel('CPU inference throughput, images/s (batch 64, '
                      '32 x 32, 2 threads; log scale)')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('bundled digits top-1 (%), mean of seeds, bar: '
                       'min-max')
    axes[0].set_title('Backbones on the bundled digits (measured here)')
    axes[1].set_title(f'The same, top-1 >= {zoom_from:g}%')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory(points, path, plt):
    pts = sorted((p for p in points if p[4] is not None), key=lambda p: p[4])
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(pts) + 1.5))
    ax.barh([p[0] for p in pts], [p[4] for p in pts])
    ax.set_xlabel('peak memory growth of one training step, MiB (batch 64, '
                  '32 x 32, CPU)')
    ax.set_title('Training memory of the digits backbones (measured here)')
    ax.grid(axis='x', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def imagenet_points(metas):
    points, missing = [], []
    for meta in metas.values():
        for m in meta.get('Models', []):
            res = (m.get('Results') or [{}])[0]
            top1 = (res.get('Metrics') or {}).get('Top 1 Accuracy')
            if res.get('Dataset') != 'ImageNet-1k' or top1 is None:
                continue
            flops = (m.get('Metadata') or {}).get('FLOPs')
            if not flops:
                missing.append(m['Name'])
                continue
            points.append((m['In Collection'], m['Name'], float(top1),
                           flops / 1e9))
    return points, missing


def plot_imagenet(points, path, plt):
    fig, ax = plt.subplots(figsize=(11, 7))
    families = sorted({p[0] for p in points})
    cmap = plt.get_cmap('tab20')
    markers = 'osD^v<>ph*'
    for i, fam in enumerate(families):
        pts = [p for p in points if p[0] == fam]
        ax.scatter([p[3] for p in pts], [p[2] for p in pts],
                   color=cmap(i % 20), marker=markers[i % len(markers)],
                   label=fam, s=22)
    ax.set_xscale('log')
    ax.set_xlabel('GFLOPs per image (counted by tools/zoo/sync.py; log '
                  'scale)')
    ax.set_ylabel('ImageNet-1k top-1 (%), PUBLISHED by the papers')
    ax.set_title('Published ImageNet-1k accuracy of our configs '
                 '(not measured here)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ssl_points(metas, results):
    points, missing = [], []
    for meta in metas.values():
        for col in meta.get('Collections', []):
            zoo = col.get('Zoo') or {}
            claim = zoo.get('Claim')
            if zoo.get('Section') != 'self-supervised' or not claim:
                continue
            ours = results.get(claim['Ours'], {}).get(claim['Metric'])
            base = results.get(claim['Baseline'], {}).get(claim['Metric'])
            if not ours or not base:
                missing.append(col['Name'])
                continue
            base_name = claim['Baseline']
            label = ('random init' if base_name.endswith('@random-init')
                     else base_name.split('@')[-1])
            points.append((col['Name'], claim['Metric'], result_numbers(ours),
                           result_numbers(base), label))
    return points, missing


def plot_ssl(points, path, plt):
    fig, ax = plt.subplots(figsize=(9, 5))
    width = 0.38
    for i, (name, _, ours, base, _) in enumerate(points):
        for off, vals, color, label in ((-width / 2, ours, 'tab:blue',
                                         'the method'),
                                        (width / 2, base, 'tab:gray',
                                         'its baseline (below the name)')):
            ax.bar(i + off, sum(vals) / len(vals), width, color=color,
                   label=label if i == 0 else None)
            ax.plot([i + off] * len(vals), vals, 'k.', markersize=5)
    ax.set_xticks(range(len(points)))
    ax.set_xticklabels([f'{p[0]}\nvs {p[4]}\n({p[1]})' for p in points],
                       fontsize=7)
    ax.set_ylabel('bundled digits, % (bars: mean; dots: seeds)')
    ax.set_title('Self-supervised methods on the bundled digits: the '
                 'method vs its baseline')
    ax.legend()
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sync = load_sync()
    metas = sync.load_metafiles(args.repo)
    results = load_results(root=args.repo)
    out = args.out or osp.join(args.repo, 'docs', 'zoo')
    os.makedirs(out, exist_ok=True)
    written = []
    backbones, missing = backbone_points(metas, results)
    if missing:
        print(f'no digits top-1 or CPU speed recorded (run tools/zoo/'
              f'run_zoo.py): {missing}')
    if backbones:
        plot_top1_vs_speed(backbones,
                           osp.join(out, 'digits_top1_vs_speed.png'), plt)
        plot_memory(backbones, osp.join(out, 'digits_train_memory.png'), plt)
        written += ['digits_top1_vs_speed.png', 'digits_train_memory.png']
    imagenet, missing = imagenet_points(metas)
    if missing:
        print(f'ImageNet models without FLOPs (tools/zoo/sync.py --count): '
              f'{missing}')
    if imagenet:
        plot_imagenet(imagenet, osp.join(out, 'imagenet_top1_vs_flops.png'),
                      plt)
        written.append('imagenet_top1_vs_flops.png')
    ssl, missing = ssl_points(metas, results)
    if missing:
        print(f'SSL methods without both results: {missing}')
    if ssl:
        plot_ssl(ssl, osp.join(out, 'ssl_vs_random.png'), plt)
        written.append('ssl_vs_random.png')
    for name in written:
        print(f'wrote {osp.join(out, name)}')
    return written


if __name__ == '__main__':
    main()
