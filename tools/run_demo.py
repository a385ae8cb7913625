# Copyright (c) mmvitplug contributors.
"""The main job: train and evaluate on the bundled data, print the results.

Stages, each a plain ``tools/train.py`` run of a bundled-data config in
``configs/bundled/``:

1. a ResNet teacher on the digits (ImageNet layout);
2. a compact transformer (CCT: convolutional tokenizer, sequence pooling)
   trained from scratch on the digits, no teacher;
3. a DeiT student hard-distilled from the ResNet teacher (distillation
   token);
4. DINO self-supervised pretraining of a small DeiT on the digits (labels
   unused), then the weighted k-NN top-1 of its teacher backbone
   (exported with ``tools/model_converters/export_backbone.py``, evaluated
   with ``tools/test.py``) next to the same backbone at random init;
5. Mask R-CNN with a DeiT backbone and a SimpleFPN neck on shapes-coco;
6. UperNet with a DeiT backbone and a SimpleFPN neck on shapes-ade.

Run from the repository root after ``make data`` (``make demo`` does both).
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

from mmvitplug.utils.logs import last_logged

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
    ('ssl', BUNDLED + 'dino/dino-deit-4l64d-p8_1xb64_digits.py',
     ['knn/top1_k20'], 10.0),
    ('det', BUNDLED + 'deit/mask-rcnn-deit-4l96d-p16_1xb4_shapes-coco.py',
     ['coco/bbox_mAP', 'coco/segm_mAP'], 0.0),
    ('seg', BUNDLED + 'deit/upernet-deit-4l96d-p16_1xb4_shapes-ade.py',
     ['mIoU'], 21.7),  # always predicting background
]


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


#: the k-NN evaluation of the ssl stage's backbone
SSL_KNN = BUNDLED + 'dino/knn-deit-4l64d-p8_1xb128_digits.py'


def run(tool, *args):
    """``python tools/<tool> *args`` from the repository root; seconds."""
    cmd = [sys.executable, osp.join(ROOT, 'tools', tool), *args]
    print('+ ' + ' '.join(cmd), flush=True)
    # one OpenMP thread per process: the data-loader workers share the cores
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', '1')
    start = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return time.time() - start


def train(config, work_dir, cfg_options=()):
    args = [config, '--work-dir', work_dir]
    if cfg_options:
        args += ['--cfg-options', *cfg_options]
    return run('train.py', *args)


def knn_rows(pretrain_config, work_dir):
    """Export the pretrained backbone, then k-NN of it and of the same
    backbone at random init: two result rows (name, key, value)."""
    exported = osp.join(work_dir, 'backbone.pth')
    run(osp.join('model_converters', 'export_backbone.py'), pretrain_config,
        last_checkpoint(work_dir), exported)
    rows = []
    for name, checkpoint in (('ssl', exported), ('random', 'none')):
        knn_dir = osp.join(work_dir, f'knn_{name}')
        run('test.py', SSL_KNN, checkpoint, '--work-dir', knn_dir)
        metrics = last_logged(knn_dir, ['knn/top1_k20'], runs=['test'])
        rows.append((f'{name}-knn', 'knn/top1_k20', metrics['knn/top1_k20']))
    return rows


#: bundled digits whose DINO attention maps the demo draws (a 0, 3 and 7)
ATTENTION_IMAGES = ('data/bundled/digits/val/0/0048.png',
                    'data/bundled/digits/val/3/0023.png',
                    'data/bundled/digits/val/7/0017.png')


def attention_maps(pretrain_config, work_dir):
    """The last layer's class-token attention per head of the pretrained
    DINO teacher on a few digits (``tools/analysis/attention_map.py``);
    the README shows them (docs/zoo/dino_attention_*.png)."""
    paths = []
    for image in ATTENTION_IMAGES:
        digit = osp.basename(osp.dirname(image))
        out = osp.join(work_dir, f'attention_{digit}.png')
        run('analysis/attention_map.py', pretrain_config,
            last_checkpoint(work_dir), image, '--out', out)
        paths.append(out)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--only', nargs='+', choices=[s[0] for s in STAGES],
        help='run only these stages (distill needs the teacher run)')
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    rows, maps = [], []
    for name, config, keys, chance in STAGES:
        if args.only and name not in args.only:
            continue
        work_dir = osp.join(args.work_dir, name)
        options = []
        if name == 'distill':
            teacher = last_checkpoint(osp.join(args.work_dir, 'teacher'))
            options = [f'model.teacher_ckpt={teacher}']
        seconds = train(config, work_dir, options)
        if name == 'ssl':  # k-NN of the pretrained and random backbones
            for row_name, key, value in knn_rows(config, work_dir):
                rows.append((row_name, osp.basename(config), key, value,
                             chance, seconds))
            maps = attention_maps(config, work_dir)
            continue
        metrics = last_logged(work_dir, keys, runs=['train'])
        for key in keys:
            rows.append((name, osp.basename(config), key, metrics[key],
                         chance, seconds))

    if maps:
        print('\nDINO attention maps (last layer, class token, per head): '
              + ', '.join(maps))
    print('\nmmvitplug demo results (bundled data, CPU)')
    header = f'{"stage":<10} {"config":<48} {"metric":<14} ' \
             f'{"value":>7} {"chance":>7} {"time":>7}'
    print(header)
    print('-' * len(header))
    for name, config, key, value, chance, seconds in rows:
        chance_s = f'{chance:.1f}'
        print(f'{name:<10} {config:<48} {key:<14} {value:>7.3f} '
              f'{chance_s:>7} {seconds:>6.0f}s')


if __name__ == '__main__':
    main()
