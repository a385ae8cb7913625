# Baseline of the SPViT digits configs
# (spvit-search-deit-4l192d-p8_1xb16-4e_digits.py, then
# spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py): the same digits DeiT
# WITHOUT pruning (the plain mmvitplug.DeiT), initialised from the same
# teacher and fine-tuned with CE on the same schedule: 4 epochs at the
# search's constant lr 1e-4, then 4 epochs of the fine-tuning's cosine to
# 1e-6 (AdamW, weight decay 0.05, none on 1-D parameters; batch 16, no
# augmentation). The unpruned model of the claim "searched + fine-tuned
# top-1 against the unpruned model on the same schedule".
# Source: bundled-data smoke config, not a paper recipe.
_base_ = ['./spvit-finetune-deit-4l192d-p8_1xb16-4e_digits.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        init_cfg=dict(
            type='Pretrained', checkpoint={{_base_.teacher_ckpt}},
            prefix='backbone.')),
    head=dict(
        init_cfg=dict(
            _delete_=True, type='Pretrained',
            checkpoint={{_base_.teacher_ckpt}}, prefix='head.')))
load_from = None

param_scheduler = [
    dict(type='ConstantLR', factor=1.0, by_epoch=True, begin=0, end=4),
    dict(
        type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=4,
        end=8, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=8)
