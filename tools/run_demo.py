# Copyright (c) mmvitplug contributors.
"""The main job: train and evaluate on the bundled data, print the results.

Stages, each a plain ``tools/train.py`` run of a bundled-data config in
``configs/bundled/``:

1. a ResNet teacher on the digits (ImageNet layout);
2. a compact transformer (CCT: convolutional tokenizer, sequence pooling)
   trained from scratch on the digits, no teacher;
3. a DeiT student hard-distilled from the ResNet teacher (distillation
   token);
4. Mask R-CNN with a DeiT backbone and a SimpleFPN neck on shapes-coco;
5. UperNet with a DeiT backbone and a SimpleFPN neck on shapes-ade.

Run from the repository root after ``make data`` (``make demo`` does both).
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: name, config, metric keys to report, chance level (same unit as metric:
#: top-1 and mIoU in %, COCO mAP in [0, 1])
BUNDLED = 'configs/bundled/'
STAGES = [
    ('teacher', BUNDLED + 'resnet/sup-resnet18-w32_1xb64_digits.py',
     ['accuracy/top1'], 10.0),
    ('scratch', BUNDLED + 'cct/sup-cct-6l128d-p4_1xb64_digits.py',
     ['accuracy/top1'], 10.0),
    ('distill', BUNDLED + 'deit/distill-hard-deit-4l192d-p8_1xb16_digits.py',
     ['accuracy/top1'], 10.0),
    ('det', BUNDLED + 'deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py',
     ['coco/bbox_mAP', 'coco/segm_mAP'], 0.0),
    ('seg', BUNDLED + 'deit/upernet-deit-4l96d-p16_1xb4_shapes-ade.py',
     ['mIoU'], 21.7),  # always predicting background
]


def last_metrics(work_dir, keys):
    """The last logged value of each metric key in a run's scalars.json."""
    found = {}
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    for path in files:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                for key in keys:
                    if key in record:
                        found[key] = record[key]
    missing = [k for k in keys if k not in found]
    if missing:
        raise RuntimeError(f'no {missing} logged under {work_dir}; '
                           'see the training log there')
    return found


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train(config, work_dir, cfg_options=()):
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', work_dir]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    print('+ ' + ' '.join(cmd), flush=True)
    # one OpenMP thread per process: the data-loader workers share the cores
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    start = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--only', nargs='+', choices=[s[0] for s in STAGES],
        help='run only these stages (distill needs the teacher run)')
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    rows = []
    for name, config, keys, chance in STAGES:
        if args.only and name not in args.only:
            continue
        work_dir = osp.join(args.work_dir, name)
        options = []
        if name == 'distill':
            teacher = last_checkpoint(osp.join(args.work_dir, 'teacher'))
            options = [f'model.teacher_ckpt={teacher}']
        seconds = train(config, work_dir, options)
        metrics = last_metrics(work_dir, keys)
        for key in keys:
            rows.append((name, osp.basename(config), key, metrics[key],
                         chance, seconds))

    print('\nmmvitplug demo results (bundled data, CPU)')
    header = f'{"stage":<8} {"config":<48} {"metric":<14} ' \
             f'{"value":>7} {"chance":>7} {"time":>7}'
    print(header)
    print('-' * len(header))
    for name, config, key, value, chance, seconds in rows:
        chance_s = f'{chance:.1f}'
        print(f'{name:<8} {config:<48} {key:<14} {value:>7.3f} '
              f'{chance_s:>7} {seconds:>6.0f}s')


if __name__ == '__main__':
    main()
