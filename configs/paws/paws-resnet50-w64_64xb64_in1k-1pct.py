# PAWS on ImageNet with 1% of the labels: as
# paws-resnet50-w64_64xb64_in1k-10pct.py, with the official 1% subset.
# Source: the official repository ships one ImageNet config
# (configs/paws/imgnt_train.yaml, 10% labels); its README and
# src/data_manager.py select 1% with unlabeled_frac 0.99, i.e. the file
# imagenet_subsets/99percent.txt (12811 images), everything else unchanged.
# Put that file at data/imagenet/paws_subsets/.
_base_ = ['./paws-resnet50-w64_64xb64_in1k-10pct.py']

subset_file = 'data/imagenet/paws_subsets/99percent.txt'
train_dataloader = dict(
    dataset=dict(support=dict(subset_file=subset_file)))
