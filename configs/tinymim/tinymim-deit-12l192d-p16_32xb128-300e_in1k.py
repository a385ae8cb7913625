# TinyMIM (https://arxiv.org/abs/2301.01296) pre-training of ViT-T/16 on
# ImageNet-1k from the official MAE ViT-B (75.8 top-1 after fine-tuning in
# the official README, vs 71.6 for MAE pre-training of ViT-T). The official
# pre-training student `tinymim_vit_tiny_patch16` has 192 dims and 6 heads
# per block (not deit-tiny's 3; the fine-tuned `vit_tiny_patch16` has 3,
# which the weights fit as they are), hence the custom arch; its last block
# gives the relations with the teacher's 12 heads. Everything else is
# tinymim-deit-small_32xb128-300e_in1k.py.
# Source: official OliverRensu/TinyMIM (models_tinymim.py
# tinymim_vit_tiny_patch16, README pre-training command).
_base_ = ['./tinymim-deit-small_32xb128-300e_in1k.py']

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=192, num_layers=12, num_heads=6,
            feedforward_channels=768)))
