# The bundled-digits part of the DeepCluster and DeeperCluster configs:
# random resized crops of 40-100% of the area (no flips: they change
# digits) for training, sampling uniform over the current clusters,
# mmvitplug.DeepClusterHook embedding the training set with the evaluation
# transform before each clustering; pretraining only (no validation loop:
# the k-NN evaluation is a test config). The configs set the model, the
# batch size, the optimizer and schedule, and the hook's interval when it is
# not 1 (restating the hook).
_base_ = ['../datasets/digits.py', '../default_runtime.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.4, 1.0)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    sampler=dict(_delete_=True, type='mmvitplug.UniformClusterSampler'),
    dataset=dict(pipeline=train_pipeline))

custom_hooks = [
    dict(
        type='mmvitplug.DeepClusterHook',
        extract_pipeline={{_base_.test_pipeline}},
        interval=1),
]

val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=1, save_best=None))
randomness = dict(seed=0)
