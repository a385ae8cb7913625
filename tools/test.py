# Copyright (c) mmvitplug contributors.
"""Evaluate a checkpoint: classification, detection or segmentation.

``--amp`` runs the test loop under autocast (``test_cfg.fp16``): float16 on
GPU, bfloat16 on CPU. Distributed testing without CUDA works through the
patches importing the plugin installs (:mod:`mmvitplug.utils.compat`).

``CHECKPOINT`` ``none`` evaluates the model as its config initialises it
(its ``init_weights``: random init, or its ``init_cfg``), e.g. the
random-init baseline of a k-NN evaluation.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmpretrain.utils import get_ori_model

from mmvitplug.engine.amp import enable_test_amp
from mmvitplug.utils import (check_plugin_imports, check_torchrun_env,
                             finish_distributed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help="checkpoint file, or 'none': the model as its config "
        'initialises it (random init or its init_cfg)')
    parser.add_argument('--work-dir', help='the dir to save logs and results')
    parser.add_argument(
        '--out', help='dump the evaluator results (predictions) to a pickle')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='test under autocast (test_cfg.fp16): float16 on GPU, '
        'bfloat16 on CPU')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_plugin_imports(cfg, args.config)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    initialise = args.checkpoint.lower() == 'none'
    cfg.load_from = None if initialise else args.checkpoint
    cfg.launcher = args.launcher
    if args.amp:
        dtype = enable_test_amp(cfg)
        print_log(f'--amp: testing under {dtype} autocast', logger='current')
    if args.launcher == 'pytorch':
        check_torchrun_env()

    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    if initialise:  # Runner.test() loads a checkpoint, never initialises
        # same seed on every rank: the same weights everywhere
        get_ori_model(runner.model).init_weights()
        print_log('checkpoint none: testing the model as initialised by '
                  'its config', logger='current')
    if args.out is not None:
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    print_log(f'test metrics: {metrics}', logger='current')
    finish_distributed()


if __name__ == '__main__':
    main()
