# Copyright (c) mmvitplug contributors.
"""The family configs carry the recipes they declare, and every schedule is
self-consistent.

The recipe facts live next to the configs they describe: each family folder
(``configs/<family>/``) has a ``recipes.yml`` with one entry per config file
(its kind, its source and the published hyper-parameters; the keys are
documented in ``configs/bundled/README.md``). The tests read every entry
generically and check it against the *resolved* config, so a change in a
shared ``_base_`` file that silently changes a recipe fails here. A config
of a family folder without an entry fails too. The consistency test runs
over every shipped config.
"""
import glob
import os.path as osp

import pytest
import yaml
from mmengine.config import Config

from _builders import REPO_ROOT, WRAPPERS, distiller_settings

ROOT = REPO_ROOT
CONFIG_ROOT = osp.join(ROOT, 'configs')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if not any(part.startswith('_') for part in osp.relpath(
        p, CONFIG_ROOT).split(osp.sep)))
#: folders of bundled-data smoke configs: no published recipe to check
BUNDLED = 'bundled'
#: family folders: every config in them declares its recipe facts
FAMILY_CONFIGS = [
    p for p in CONFIGS
    if osp.relpath(p, CONFIG_ROOT).split(osp.sep)[0] != BUNDLED
]

CLS_KINDS = ('pretrain', 'distill', 'finetune', 'kd', 'selfkd')
#: facts every entry of a kind must declare (any entry may declare more)
REQUIRED = {
    'pretrain': ('optimizer', 'lr', 'lr_batch', 'weight_decay', 'epochs',
                 'warmup_epochs', 'drop_path', 'label_smoothing', 'mixup',
                 'cutmix', 'repeated_aug', 'eval_resize'),
    'finetune': ('optimizer', 'lr', 'lr_batch', 'weight_decay', 'epochs',
                 'warmup_epochs', 'drop_path', 'checked_by'),
    'det': ('optimizer', 'lr', 'lr_batch', 'weight_decay', 'layer_decay',
            'epochs', 'drop_path'),
    'seg': ('optimizer', 'lr', 'weight_decay', 'layer_decay', 'iters',
            'drop_path'),
    # self-supervised pretraining (DINO, PAWS, DeepCluster, ...); and
    # 'epochs' or 'iters' (SEER: one pass over 1B images)
    'selfsup': ('optimizer', 'lr', 'lr_batch', 'weight_decay'),
    # linear evaluation of a frozen pretrained backbone
    'linear': ('optimizer', 'lr', 'lr_batch', 'weight_decay', 'epochs',
               'warmup_epochs', 'eval_resize', 'n_last_blocks'),
}
# self-distillation whose algorithm mixes the batch itself and holds its
# loss (MixSKD): the Mixup alpha and the KL temperature
REQUIRED['selfkd'] = ('optimizer', 'lr', 'lr_batch', 'weight_decay', 'epochs',
                      'warmup_epochs', 'selfkd_alpha', 'selfkd_tau')
REQUIRED['distill'] = REQUIRED['pretrain'] + ('distill_type',
                                              'distill_alpha')
# a distillation method's student: the distiller holds every loss term;
# and one of KD_LOSS_FACTS
# (and 'epochs' or 'iters': Arch-Net counts iterations)
REQUIRED['kd'] = tuple(f for f in REQUIRED['pretrain']
                       if f not in ('label_smoothing', 'epochs'))
#: the losses of a 'kd' entry: the distiller's one loss and temperature
#: (function matching: no label loss), or every loss of the distiller by
#: name (locality guidance: its CE on the labels and the guidance terms)
KD_LOSS_FACTS = (('distill_loss', 'distill_tau'), ('distill_losses', ))


def _recipes():
    """{config path relative to configs/: facts} from every recipes.yml."""
    recipes = {}
    for path in sorted(glob.glob(osp.join(CONFIG_ROOT, '*', 'recipes.yml'))):
        family = osp.basename(osp.dirname(path))
        with open(path) as f:
            for name, facts in yaml.safe_load(f).items():
                recipes[f'{family}/{name}'] = facts
    return recipes


RECIPES = _recipes()


def _load(rel):
    return Config.fromfile(osp.join(CONFIG_ROOT, rel))


#: lr decays after the warm-up: a cosine, or a step schedule (torchvision's
#: x0.1 every 30 epochs, timm's x0.973 every 2.4 epochs)
LR_DECAYS = ('CosineAnnealingLR', 'StepLR', 'MultiStepLR')


def _decay_end(cfg):
    ends = [
        s['end'] for s in _schedulers(cfg) if s['type'] in LR_DECAYS
    ]
    assert len(ends) == 1, _schedulers(cfg)
    return ends[0]


def _label_loss(model):
    """The loss on the labels: cosub's ``model.loss.label_loss``, the
    distiller's ``base_loss`` or the head's loss."""
    if 'loss' in model:
        return model.loss.label_loss
    if 'distiller' in model:
        losses = [
            loss.get('base_loss', {}) for loss in distiller_settings(
                model.distiller).losses.values()
        ]
        assert len(losses) == 1, losses
        return losses[0]
    return model.head.loss


def _schedulers(cfg):
    """``param_scheduler`` as a list (a config may give one dict)."""
    schedulers = cfg.param_scheduler
    return schedulers if isinstance(schedulers, list) else [schedulers]


def _distill_loss(model):
    losses = list(distiller_settings(model.distiller).losses.values())
    assert len(losses) == 1, losses
    return losses[0]


def _batch_augments(cfg):
    preprocessor = cfg.model.get('data_preprocessor', cfg.data_preprocessor)
    augments = preprocessor.get('batch_augments') or {}  # None: no Mixup
    return {a['type']: a['alpha'] for a in augments.get('augments', [])}


def _eval_resize(cfg):
    resizes = [
        t['scale'] for t in cfg.val_dataloader.dataset.pipeline
        if t['type'] == 'ResizeEdge'
    ]
    assert len(resizes) == 1, cfg.val_dataloader.dataset.pipeline
    return resizes[0]


def _check_optimizer(cfg, facts):
    assert cfg.optim_wrapper.optimizer.type == facts['optimizer']


def _check_lr(cfg, facts):
    lr = facts['lr']
    optimizer = cfg.optim_wrapper.optimizer
    if 'lr_batch' in facts:
        # the runner scales lr linearly from auto_scale_lr.base_batch_size
        lr_at_batch = (optimizer.lr * facts['lr_batch'] /
                       cfg.auto_scale_lr.base_batch_size)
        assert lr_at_batch == pytest.approx(lr)
    else:
        assert optimizer.lr == pytest.approx(lr)
    if facts['kind'] in CLS_KINDS:
        assert cfg.auto_scale_lr.enable


def _check_weight_decay(cfg, facts):
    assert cfg.optim_wrapper.optimizer.weight_decay == pytest.approx(
        facts['weight_decay'])


def _check_epochs(cfg, facts):
    assert cfg.train_cfg.max_epochs == facts['epochs']
    if facts['kind'] in CLS_KINDS:
        assert _decay_end(cfg) == facts['epochs']


def _check_iters(cfg, facts):
    assert cfg.train_cfg.max_iters == facts['iters']


def _check_warmup(cfg, facts):
    warmups = [s for s in _schedulers(cfg) if s['type'] == 'LinearLR']
    if facts['warmup_epochs'] == 0:  # no warm-up: no LinearLR
        assert warmups == [], warmups
        return
    assert [(s['begin'], s['end']) for s in warmups] == [
        (0, facts['warmup_epochs'])
    ]
    # the warm-up's first lr at the reference batch (official DeiT: 1e-6)
    assert warmups[0]['start_factor'] * facts['lr'] == pytest.approx(
        facts.get('warmup_lr', 1e-6))


def _backbones(model):
    """The model's backbone, or every student's (``MutualClassifier``)."""
    if 'students' in model:
        return [student.backbone for student in model.students.values()]
    if model.backbone.type in WRAPPERS:
        return [model.backbone.backbone]
    return [model.backbone]


def _check_drop_path(cfg, facts):
    for backbone in _backbones(cfg.model):
        if facts['drop_path'] is None:  # no stochastic depth
            assert 'drop_path_rate' not in backbone
        else:
            assert backbone.drop_path_rate == pytest.approx(
                facts['drop_path'])


def _check_step_decay(cfg, facts):
    """timm / torchvision step decay: lr x rate ** (epoch // every) in every
    epoch after the warm-up, by a StepLR or MultiStepLR stepped by epoch."""
    every, rate = facts['step_decay']['every'], facts['step_decay']['rate']
    steps = [
        s for s in _schedulers(cfg) if s['type'] in ('StepLR', 'MultiStepLR')
    ]
    assert len(steps) == 1, _schedulers(cfg)
    step = steps[0]
    assert step.get('by_epoch', True) and not step.get(
        'convert_to_iter_based', False), step
    for epoch in range(facts.get('warmup_epochs', 0), facts['epochs']):
        t = epoch - step.get('begin', 0)
        if step['type'] == 'StepLR':
            n = t // step['step_size']
        else:
            n = sum(m <= t for m in step['milestones'])
        assert step['gamma']**n == pytest.approx(rate**(epoch // every)), (
            f'epoch {epoch}')


def _check_decay_1d(cfg, facts):
    """A recipe that decays every parameter (torch.optim on
    model.parameters(), e.g. the PyTorch ImageNet example) says so: no
    multiplier zeroes the decay of norms, biases or other 1-D parameters
    (our layer-decay constructor zeroes them unless told otherwise)."""
    wrapper = cfg.optim_wrapper
    mults = dict(flat_decay_mult=1.0, norm_decay_mult=1.0, bias_decay_mult=1.0)
    if wrapper.get('constructor') == (
            'mmvitplug.LayerDecayOptimWrapperConstructor'):
        mults.update(flat_decay_mult=0.0, norm_decay_mult=0.0)
    mults.update(wrapper.get('paramwise_cfg') or {})
    decays = all(
        mults[key] != 0.0
        for key in ('flat_decay_mult', 'norm_decay_mult', 'bias_decay_mult'))
    assert decays == facts['decay_1d'], mults


def _check_label_smoothing(cfg, facts):
    loss = _label_loss(cfg.model)
    if facts['label_smoothing'] is None:
        assert 'label_smooth_val' not in loss
    else:
        assert loss.label_smooth_val == pytest.approx(
            facts['label_smoothing'])


def _check_mixup(cfg, facts):
    assert _batch_augments(cfg).get('Mixup') == facts['mixup']


def _check_mixup_prob(cfg, facts):
    """The probability of a batch being mixed (``RandomBatchAugment``'s
    ``probs``; the rest of the batches are not mixed)."""
    preprocessor = cfg.model.get('data_preprocessor', cfg.data_preprocessor)
    probs = preprocessor.batch_augments.get('probs')
    assert probs == pytest.approx(facts['mixup_prob']), probs


def _check_archnet_periods(cfg, facts):
    """Arch-Net's periods, in official "epochs" of ``unit`` iterations
    (``{epochs: count}``, in order): the ArchNetPeriodHook's, as many as
    the loss has periods (an ArchNetLoss: one per output; an
    ArchNetViTLoss: the stem, one per block, the whole network), adding up
    to the iterations. The learning rate: the official
    CosineAnnealingWarmRestarts(T_0=10 epochs, T_mult=2) from the base lr
    created afresh in every period (one PeriodicCosineRestartLR over the
    periods: the ResNet recipe), or with ``restarts: last`` in the last
    period only, down to ``eta_min`` (the Transformer recipe: constant
    before)."""
    found = facts['archnet_periods']
    unit = found['unit']
    periods = [
        unit * epochs for epochs, count in found['periods'].items()
        for _ in range(count)
    ]
    hooks = [h for h in cfg.custom_hooks
             if h['type'] == 'mmvitplug.ArchNetPeriodHook']
    assert len(hooks) == 1 and hooks[0]['periods'] == periods, hooks
    loss = _distill_loss(cfg.model)
    num_periods = loss.num_layers + 2 if loss.type == \
        'mmvitplug.ArchNetViTLoss' else loss.num_outputs
    assert num_periods == len(periods), (loss, len(periods))
    assert sum(periods) == cfg.train_cfg.max_iters
    starts = [sum(periods[:i]) for i in range(len(periods) + 1)]
    restarted = list(zip(starts[:-1], starts[1:]))
    if found.get('restarts') == 'last':
        restarted = restarted[-1:]
    schedulers = _schedulers(cfg)
    assert len(schedulers) == 1, schedulers
    s = schedulers[0]
    assert s.type == 'mmvitplug.PeriodicCosineRestartLR', s
    assert s.get('by_epoch', True) is False, s
    assert (s.get('begin', 0), s.periods) == (
        restarted[0][0], [end - begin for begin, end in restarted]), s
    assert (s.first_cycle, s.get('cycle_mult', 2)) == (10 * unit, 2), s
    assert s.get('eta_min', 0) == pytest.approx(found.get('eta_min', 0)), s


def _check_cutmix(cfg, facts):
    assert _batch_augments(cfg).get('CutMix') == facts['cutmix']


def _check_repeated_aug(cfg, facts):
    sampler = cfg.train_dataloader.sampler.type
    assert (sampler == 'RepeatAugSampler') == facts['repeated_aug'], sampler


def _check_eval_resize(cfg, facts):
    assert _eval_resize(cfg) == facts['eval_resize']


def _check_layer_decay(cfg, facts):
    if facts['layer_decay'] is None:  # one lr for every layer
        assert cfg.optim_wrapper.get('constructor') != (
            'mmvitplug.LayerDecayOptimWrapperConstructor')
        return
    assert cfg.optim_wrapper.constructor == (
        'mmvitplug.LayerDecayOptimWrapperConstructor')
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == (
        pytest.approx(facts['layer_decay']))


def _check_distill(key, attr):

    def check(cfg, facts):
        assert _distill_loss(cfg.model)[attr] == pytest.approx(facts[key])

    return check


def _check_distill_loss(cfg, facts):
    assert _distill_loss(cfg.model).type == facts['distill_loss']


def _check_distill_losses(cfg, facts):
    """The distiller has exactly the named losses, each with the given
    arguments (its type, weight, ...)."""
    losses = distiller_settings(cfg.model.distiller).losses
    expected = facts['distill_losses']
    assert sorted(losses) == sorted(expected), sorted(losses)
    for name, args in expected.items():
        for key, value in args.items():
            got = losses[name].get(key)
            if isinstance(value, float):
                assert got == pytest.approx(value), (name, key, got)
            else:
                assert got == value, (name, key, got)


def _check_loss_weight_schedule(cfg, facts):
    """One ``LossWeightScheduleHook`` of the named loss, built from
    ``custom_hooks``, with these arguments (its defaults included)."""
    from mmvitplug.registry import HOOKS
    expected = facts['loss_weight_schedule']
    hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] == 'mmvitplug.LossWeightScheduleHook'
        and h['loss'] == expected['loss']
    ]
    assert len(hooks) == 1, cfg.get('custom_hooks')
    assert expected['loss'] in cfg.model.distiller.losses
    hook = HOOKS.build(dict(hooks[0]))
    for key, value in expected.items():
        got = getattr(hook, key)
        assert got == (pytest.approx(value) if isinstance(value, float) else
                       value), (key, got)


def _check_distill_type(cfg, facts):
    assert _distill_loss(cfg.model).distill_type == facts['distill_type']


def _check_kl_reduction(cfg, facts):
    assert _distill_loss(cfg.model).kl_reduction == facts['kl_reduction']


def _check_grad_clip(cfg, facts):
    clip = dict(facts['grad_clip'])
    wrapper = cfg.optim_wrapper
    assert dict(wrapper.get('clip_grad') or {}) == clip
    if clip.get('type', 'norm') not in ('norm', 'value'):  # ours clips it
        assert wrapper.type == 'mmvitplug.ClipOptimWrapper'


def _num_layers(backbone):
    from mmvitplug.registry import MODELS
    cls = MODELS.get(backbone.type.split('.')[-1])
    arch = backbone.arch
    return (cls.arch_zoo[arch] if isinstance(arch, str) else arch)[
        cls.num_stages_key]


def _check_n_last_blocks(cfg, facts):
    """The features are the class tokens of the last n blocks, each after
    the final norm, concatenated for the linear head."""
    n = facts['n_last_blocks']
    backbone = cfg.model.backbone
    depth = _num_layers(backbone)
    assert tuple(i % depth for i in backbone.out_indices) == tuple(
        range(depth - n, depth))
    assert backbone.out_type == 'cls_token'
    assert backbone.norm_all_outputs
    assert cfg.model.neck == dict(type='mmvitplug.ConcatOutputs',
                                  num_inputs=n)


def _check_selfkd_alpha(cfg, facts):
    assert cfg.model.alpha == pytest.approx(facts['selfkd_alpha'])


def _check_selfkd_tau(cfg, facts):
    assert cfg.model.loss.tau == pytest.approx(facts['selfkd_tau'])


def _check_milestones(cfg, facts):
    """Epochs at which a MultiStepLR multiplies the lr by its gamma."""
    (step, ) = [s for s in _schedulers(cfg) if s['type'] == 'MultiStepLR']
    assert [step.get('begin', 0) + m for m in step['milestones']] == \
        facts['milestones']['epochs']
    assert step['gamma'] == pytest.approx(facts['milestones']['gamma'])


def _nothing(cfg, facts):
    """Facts read by another check ('lr_batch') or not checkable."""


#: fact -> check(cfg, facts); a fact without a check is an error
CHECKS = {
    'kind': _nothing,
    'source': _nothing,
    'checked_by': _nothing,  # test_finetune_configs_are_checked
    'optimizer': _check_optimizer,
    'lr': _check_lr,
    'lr_batch': _nothing,  # part of 'lr'
    'weight_decay': _check_weight_decay,
    'epochs': _check_epochs,
    'iters': _check_iters,
    'warmup_epochs': _check_warmup,
    'warmup_lr': _nothing,  # part of 'warmup_epochs'
    'drop_path': _check_drop_path,
    'label_smoothing': _check_label_smoothing,
    'mixup': _check_mixup,
    'cutmix': _check_cutmix,
    'repeated_aug': _check_repeated_aug,
    'eval_resize': _check_eval_resize,
    'layer_decay': _check_layer_decay,
    'distill_type': _check_distill_type,
    'distill_loss': _check_distill_loss,
    'distill_losses': _check_distill_losses,
    'loss_weight_schedule': _check_loss_weight_schedule,
    'distill_alpha': _check_distill('distill_alpha', 'alpha'),
    'distill_tau': _check_distill('distill_tau', 'tau'),
    'kl_reduction': _check_kl_reduction,
    'grad_clip': _check_grad_clip,
    'step_decay': _check_step_decay,
    'decay_1d': _check_decay_1d,
    'n_last_blocks': _check_n_last_blocks,
    'selfkd_alpha': _check_selfkd_alpha,
    'selfkd_tau': _check_selfkd_tau,
    'milestones': _check_milestones,
    'mixup_prob': _check_mixup_prob,
    'archnet_periods': _check_archnet_periods,
}


def test_recipes_exist():
    assert len(RECIPES) >= 7
    assert len(FAMILY_CONFIGS) >= len(RECIPES)


@pytest.mark.parametrize(
    'path', FAMILY_CONFIGS,
    ids=[osp.relpath(p, CONFIG_ROOT) for p in FAMILY_CONFIGS])
def test_family_config_declares_its_recipe(path):
    """A config of a family folder states its recipe facts (a bundled-data
    smoke config lives under configs/bundled/ instead)."""
    rel = osp.relpath(path, CONFIG_ROOT).replace(osp.sep, '/')
    assert rel in RECIPES, (
        f'{rel} has no entry in configs/{rel.split("/")[0]}/recipes.yml')
    facts = RECIPES[rel]
    assert facts.get('kind') in REQUIRED, (
        f'{rel}: kind {facts.get("kind")!r}, choose from {sorted(REQUIRED)}')
    missing = [k for k in REQUIRED[facts['kind']] + ('source', )
               if k not in facts]
    assert not missing, f'{rel}: recipes.yml misses {missing}'
    if facts['kind'] in ('selfsup', 'kd'):
        assert 'epochs' in facts or 'iters' in facts, \
            f'{rel}: recipes.yml gives neither epochs nor iters'
    if facts['kind'] == 'kd':
        assert any(all(k in facts for k in keys) for keys in KD_LOSS_FACTS), \
            f'{rel}: recipes.yml gives none of {KD_LOSS_FACTS}'
    unknown = sorted(set(facts) - set(CHECKS))
    assert not unknown, f'{rel}: unknown facts {unknown}, ' \
                        f'choose from {sorted(CHECKS)}'


def test_every_recipe_has_its_config():
    for rel in RECIPES:
        assert osp.isfile(osp.join(CONFIG_ROOT, rel)), rel


def test_finetune_configs_are_checked():
    """A fine-tuning config names the test that loads its checkpoint, and
    that test does."""
    for rel, facts in RECIPES.items():
        if 'checked_by' in facts:
            with open(osp.join(ROOT, facts['checked_by'])) as f:
                assert f'configs/{rel}' in f.read(), (
                    f'{facts["checked_by"]} does not test {rel}')


@pytest.mark.parametrize('rel', sorted(RECIPES))
def test_recipe(rel):
    facts = RECIPES[rel]
    cfg = _load(rel)
    for key in facts:
        try:
            CHECKS[key](cfg, facts)
        except AssertionError as e:
            raise AssertionError(
                f'{rel}: {key} = {facts[key]!r} ({facts["source"]}): '
                f'{e}') from e
    if facts['kind'] == 'linear':  # the whole backbone frozen, in eval
        backbone = cfg.model.backbone
        assert backbone.frozen_stages == _num_layers(backbone), backbone
        assert backbone.init_cfg.type == 'Pretrained'
    if facts['kind'] in CLS_KINDS and not facts.get('decay_1d'):
        # no weight decay on 1-D parameters (biases, norms, gains)
        paramwise = cfg.optim_wrapper.paramwise_cfg
        assert paramwise.get('flat_decay_mult') == 0.0 or (
            paramwise.get('norm_decay_mult') == 0.0
            and paramwise.get('bias_decay_mult') == 0.0)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_schedule_is_consistent(path):
    """Schedulers step (a ParamSchedulerHook is registered) and end where
    training ends."""
    cfg = Config.fromfile(path)
    if 'param_scheduler' not in cfg:
        return
    hooks = cfg.get('default_hooks', {})
    assert any(
        h.get('type') == 'ParamSchedulerHook' for h in hooks.values()), (
            f'{path}: param_scheduler without a ParamSchedulerHook never '
            'steps')
    loop = cfg.train_cfg
    by_epoch = 'max_epochs' in loop
    length = loop['max_epochs'] if by_epoch else loop['max_iters']
    ends = []
    for s in _schedulers(cfg):
        if s['type'] == 'mmvitplug.PeriodicCosineRestartLR':
            # it ends after its periods
            s = dict(s, end=s.get('end', s.get('begin', 0) +
                                  sum(s['periods'])))
        if 'end' in s and s.get('by_epoch', True) == by_epoch:
            ends.append(s['end'])
    assert ends and max(ends) == length, (path, _schedulers(cfg), length)
