# Weighted k-NN evaluation (DINO's: cosine, T 0.07, k 10 / 20) on the
# bundled digits: the training images (test transform) are the bank, the
# validation images the queries. A k-NN config lists this file and
# `../_base_/default_runtime.py` in its `_base_` and sets
#     model = dict(type='mmvitplug.EmbeddingModel', backbone=...,
#                  data_preprocessor=data_preprocessor)
# then `tools/test.py CONFIG CHECKPOINT` evaluates an exported backbone
# (tools/model_converters/export_backbone.py), `tools/test.py CONFIG none`
# the backbone as its config initialises it (random init).
_base_ = ['../datasets/digits.py']

test_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='mmvitplug.KNNBankDataset',
        bank=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            metainfo={{_base_.metainfo}},
            pipeline={{_base_.test_pipeline}}),
        query=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='val',
            metainfo={{_base_.metainfo}},
            pipeline={{_base_.test_pipeline}})))
test_evaluator = dict(
    _delete_=True, type='mmvitplug.KNNAccuracy', k=(10, 20),
    temperature=0.07)
test_cfg = dict(type='TestLoop')

# evaluation only: no training or validation loop
train_dataloader = None
train_cfg = None
val_dataloader = None
val_evaluator = None
val_cfg = None
