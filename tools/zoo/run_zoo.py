# Copyright (c) mmvitplug contributors.
"""The bundled-data zoo run: train (and evaluate) every model the metafiles
show as evidence, record the results, regenerate the tables and plots.

    python tools/zoo/run_zoo.py                       # everything (hours)
    python tools/zoo/run_zoo.py --models NAME ...     # a subset
    python tools/zoo/run_zoo.py --list                # what it would run

What runs comes from the metafiles (``configs/*/metafile.yml``): every
collection's ``Zoo.Micro`` models (a backbone's digits classifier, a dense
model on the shapes) and the ``Ours`` / ``Baseline`` subjects of each
method's ``Zoo.Claim``. Per model and seed:

- a training config: ``tools/train.py CONFIG`` (``randomness.seed``), the
  last logged value of each metric the metafiles ask of it;
- an evaluation-only config (k-NN, ``train_cfg`` None) or a linear probe,
  whose metafile entry names its pretraining (``Zoo.Pretraining``): the
  pretraining trains, ``export_backbone.py`` exports it, then
  ``tools/test.py CONFIG backbone.pth`` (a linear probe: ``tools/train.py``
  loading it), and the same evaluation at random init, recorded as
  ``<name>@random-init``.

Each backbone's digits classifier is also measured on this machine:
inference img/s (``cpu/infer_img_s``, batch 64 at 32 x 32, 2 threads) and
the peak memory growth of a training step (``cpu/train_peak_mib``), the
numbers of the zoo plots. Results go to ``docs/zoo/results/<family>.yml``
through :func:`mmvitplug.utils.zoo.record_result`; then
``tools/zoo/sync.py`` and ``tools/analysis/zoo_plots.py`` regenerate the
tables and the plots. A run already finished in ``--work-dir`` is reused.
"""
import argparse
import importlib.util
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RANDOM_INIT = '@random-init'


def load_tool(path):
    name = '_zoo_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = load_tool('zoo/sync.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=None,
                        help='model names (default: every target)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--work-dir', default='work_dirs/zoo')
    parser.add_argument('--repo', default=REPO,
                        help='where the metafiles are read and the results, '
                        'tables and plots written')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to every training / test run (e.g. a '
                        'short schedule for a smoke run)')
    parser.add_argument('--no-speed', action='store_true',
                        help='skip the CPU speed / memory measurements')
    parser.add_argument('--no-sync', action='store_true',
                        help='do not regenerate tables and plots')
    parser.add_argument('--list', action='store_true',
                        help='print the targets and exit')
    parser.add_argument('--retrain', action='store_true')
    return parser.parse_args(argv)


# ----------------------------------------------------------------- targets
def targets(metas) -> Dict[str, dict]:
    """model name -> {'family', 'config', 'metrics', 'pretraining',
    'speed'} of every model the metafiles show as evidence."""
    models = {
        m['Name']: (path, m)
        for path, meta in metas.items() for m in meta.get('Models', [])
    }
    found = OrderedDict()

    def add(name, metric, speed=False):
        base = name[:-len(RANDOM_INIT)] if name.endswith(RANDOM_INIT) \
            else name
        if base not in models:
            return  # a comparison subject (e.g. arch@timm), not a model
        path, model = models[base]
        entry = found.setdefault(
            base,
            dict(
                family=osp.basename(osp.dirname(path)),
                config=model['Config'],
                metrics=[],
                pretraining=(model.get('Zoo') or {}).get('Pretraining'),
                speed=False))
        if metric not in entry['metrics']:
            entry['metrics'].append(metric)
        entry['speed'] |= speed

    for meta in metas.values():
        for col in meta.get('Collections', []):
            zoo = col.get('Zoo') or {}
            for micro in zoo.get('Micro') or []:
                add(micro['Model'], micro['Metric'],
                    speed=zoo.get('Section') == 'backbones'
                    and micro['Metric'] == 'accuracy/top1')
            claim = zoo.get('Claim')
            if claim:
                add(claim['Ours'], claim['Metric'])
                add(claim['Baseline'], claim['Metric'])
    for name, entry in found.items():
        pre = entry['pretraining']
        if pre is not None and pre not in models:
            raise ValueError(f'{name}: Zoo.Pretraining {pre!r} is not a '
                             'model of the index')
        if pre is not None:
            entry['pretraining_config'] = models[pre][1]['Config']
    return found


# -------------------------------------------------------------------- runs
def run(*args, cwd=REPO):
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    cmd = [sys.executable, *args]
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL)


def is_test_only(config):
    from mmengine.config import Config
    return Config.fromfile(config).get('train_cfg') is None


def train(config, work_dir, seed, options, retrain, extra=()):
    if retrain or not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        run('tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', f'randomness.seed={seed}', *options, *extra)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def metrics_of(work_dir, metrics):
    from mmvitplug.utils.logs import last_logged
    return last_logged(work_dir, metrics)


def evaluate_pretrained(entry, work, seed, options, retrain):
    """(pretrained metrics, random-init metrics) of an evaluation config."""
    ckpt = train(entry['pretraining_config'], osp.join(work, 'pretrain'),
                 seed, options, retrain)
    exported = osp.join(work, 'pretrain', 'backbone.pth')
    run('tools/model_converters/export_backbone.py',
        entry['pretraining_config'], ckpt, exported)
    out = []
    for tag, weights in (('pretrained', exported), ('random', None)):
        wd = osp.join(work, tag)
        if is_test_only(entry['config']):
            run('tools/test.py', entry['config'], weights or 'none',
                '--work-dir', wd, '--cfg-options', f'randomness.seed={seed}',
                *options)
        else:
            init = (f'model.backbone.init_cfg.checkpoint={weights}'
                    if weights else 'model.backbone.init_cfg=None')
            train(entry['config'], wd, seed, options, True, extra=(init, ))
        out.append(metrics_of(wd, entry['metrics']))
    return out


# ------------------------------------------------------------------- speed
def measure_speed(config, batch=64, size=32, repeats=7, threads=2):
    """(inference img/s, training-step peak memory growth in MiB) of the
    model a classification config builds, on random images."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    bench = load_tool('analysis/benchmark.py')
    torch.set_num_threads(threads)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(0, 10, (batch, ))
    model.eval()
    speeds = []
    with torch.no_grad():
        model(x, mode='tensor')
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, mode='tensor')
            speeds.append(batch / (time.perf_counter() - start))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    peaks = []
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        with bench.PeakMemory(torch.device('cpu')) as mem:
            logits = model(x, mode='tensor')
            if isinstance(logits, (list, tuple)):
                logits = logits[-1]
            torch.nn.functional.cross_entropy(logits, y).backward()
            optimizer.step()
        peaks.append(mem.peak / 2**20)
    return statistics.median(speeds), statistics.median(peaks)


# -------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    from mmvitplug.utils.zoo import record_result
    metas = sync.load_metafiles(args.repo)
    todo = targets(metas)
    if args.models:
        unknown = sorted(set(args.models) - set(todo))
        if unknown:
            raise SystemExit(f'not zoo targets: {unknown}; choose from '
                             f'{sorted(todo)}')
        todo = OrderedDict((k, v) for k, v in todo.items()
                           if k in args.models)
    if args.list:
        for name, entry in todo.items():
            print(f'{name:<60} {", ".join(entry["metrics"])}'
                  + (f' (pretrained by {entry["pretraining"]})'
                     if entry['pretraining'] else ''))
        return todo
    tool = 'tools/zoo/run_zoo.py'
    for name, entry in todo.items():
        config = osp.join(REPO, entry['config'])  # configs are code
        for seed in args.seeds:
            work = osp.join(args.work_dir, name.replace('/', '__'),
                            f'seed{seed}')
            if entry['pretraining']:
                pre = osp.join(REPO, entry['pretraining_config'])
                ours, rand = evaluate_pretrained(
                    dict(entry, config=config, pretraining_config=pre), work,
                    seed, args.cfg_options, args.retrain)
                for metric in entry['metrics']:
                    record_result(entry['family'], name, metric,
                                  values={seed: ours[metric]}, tool=tool,
                                  root=args.repo)
                    record_result(entry['family'], name + RANDOM_INIT,
                                  metric, values={seed: rand[metric]},
                                  tool=tool, root=args.repo)
            else:
                train(config, work, seed, args.cfg_options, args.retrain)
                got = metrics_of(work, entry['metrics'])
                for metric, value in got.items():
                    record_result(entry['family'], name, metric,
                                  values={seed: value}, tool=tool,
                                  root=args.repo)
            print(f'{name} seed {seed}: done', flush=True)
        if entry['speed'] and not args.no_speed:
            img_s, mib = measure_speed(config)
            note = ('batch 64 at 32 x 32, 2 threads, this run\'s machine; '
                    'compare within one run')
            record_result(entry['family'], name, 'cpu/infer_img_s',
                          value=round(img_s, 1), tool=tool, note=note,
                          root=args.repo)
            record_result(entry['family'], name, 'cpu/train_peak_mib',
                          value=round(mib, 1), tool=tool, note=note,
                          root=args.repo)
    if not args.no_sync:
        sync.main(['--repo', args.repo])
        load_tool('analysis/zoo_plots.py').main(['--repo', args.repo])
    return todo


if __name__ == '__main__':
    main()
