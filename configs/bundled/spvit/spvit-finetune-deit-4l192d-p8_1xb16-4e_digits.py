# SPViT fine-tuning (He et al. 2021, https://arxiv.org/abs/2111.11802;
# official main_pruning.py with assigned_indicators) at digits scale: the
# architecture a search chose, as a plain model (mmvitplug.SPViT: per
# block MSA, a 3 x 3 / 1 x 1 convolution derived from the attention, or
# nothing; FFNs of the kept hidden units), fine-tuned with CE.
# The architecture and checkpoint below are placeholders written over by
#   python tools/model_converters/spvit_export.py SEARCH_CONFIG \
#       SEARCH_CHECKPOINT \
#       configs/bundled/spvit/spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py
# which writes, next to the search checkpoint, the exported weights
# (spvit_exported.pth) and this config with the searched msa_choices /
# ffn_hidden and load_from (spvit-finetune-*.py): run that one. As
# committed, the config builds the official DeiT-Ti pattern scaled to 4
# blocks (the first block a 1 x 1 conv, full FFNs) and loads the exported
# weights of spvit-search-deit-4l192d-p8_1xb16-4e_digits.py.
# Optimizer (official: AdamW, the weight lr 5e-5 x batch / 512, cosine,
# no warm-up): AdamW lr 1e-4 (the search's), weight decay 0.05 (none on
# 1-D parameters), cosine to 1e-6 over 4 epochs of batch 16.
# Baseline on the same schedule (search 4 + fine-tune 4 epochs):
# spvit-unpruned-deit-4l192d-p8_1xb16-8e_digits.py.
# Source: bundled-data smoke config, not a paper recipe.
_base_ = [
    '../../_base_/datasets/digits.py',
    '../../_base_/default_runtime.py',
    '../../_teachers/deit-4l192d-p8_digits.py',
]

model = dict(
    _delete_=True,
    type='ImageClassifier',
    backbone=dict(
        type='mmvitplug.SPViT',
        backbone=_base_.deit_backbone,
        msa_choices=['conv1x1', 'msa', 'msa', 'msa'],
        ffn_hidden=None),
    neck=None,
    head=dict(
        _base_.deit_head,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    data_preprocessor=_base_.data_preprocessor)
load_from = ('work_dirs/spvit-search-deit-4l192d-p8_1xb16-4e_digits/'
             'spvit_exported.pth')

train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs'),
    ]))

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=1e-4, weight_decay=0.05, eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }))
param_scheduler = [
    dict(
        type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=0,
        end=4, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=4, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(interval=30),
    checkpoint=dict(max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
