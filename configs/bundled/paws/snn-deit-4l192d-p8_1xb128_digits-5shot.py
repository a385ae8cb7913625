# Soft nearest-neighbour evaluation (PAWS' snn_eval.py: cosine, softmax
# temperature 0.1 over all supports) of the 4-layer DeiT of
# paws-deit-4l192d-p8_1xb32_digits-5shot.py on the bundled digits: the
# supports are the same 5 labelled images per class (seed 0) as in
# training, test transform; the queries are the validation images; the
# class token after the final norm is the embedding.
#   tools/test.py THIS_CONFIG none        # random init (trunc-normal)
#   tools/test.py THIS_CONFIG CHECKPOINT  # backbone.* weights: a PAWS
#       checkpoint (its neck / head keys are ignored), an exported backbone
#       or a classifier
# Source: bundled-data evaluation config, not a paper recipe.
_base_ = [
    '../../_base_/knn/digits.py',
    '../../_base_/default_runtime.py',
]

labels_per_class = 5
label_seed = 0

model = dict(
    type='mmvitplug.EmbeddingModel',
    backbone=dict(
        type='mmvitplug.DeiT',
        arch=dict(
            embed_dims=192, num_layers=4, num_heads=3,
            feedforward_channels=768),
        img_size=32,
        patch_size=8,
        out_type='cls_token'),
    data_preprocessor={{_base_.data_preprocessor}},
)

test_dataloader = dict(
    dataset=dict(
        bank=dict(
            _delete_=True,
            type='mmvitplug.LabeledSubset',
            num_per_class=labels_per_class,
            seed=label_seed,
            dataset=dict(
                type={{_base_.dataset_type}},
                data_root={{_base_.data_root}},
                split='train',
                metainfo={{_base_.metainfo}},
                pipeline={{_base_.test_pipeline}}))))
test_evaluator = dict(
    _delete_=True, type='mmvitplug.SNNAccuracy', temperature=0.1,
    topk=(1, 5))
