# RevCol-S trained on ImageNet-1k at 224 with intermediate supervision
# (https://arxiv.org/abs/2212.11696; 83.5 top-1, 60M parameters in the
# official README): the recipe of intersup-revcol-t_8xb128_in1k.py with
# the official configs/revcol_small_1k.yaml's stochastic depth 0.3; the
# supervised columns are 1, 3, 5, 7 (every 8 // 4-th).
# Source: official megvii-research/RevCol configs/revcol_small_1k.yaml.
_base_ = ['./intersup-revcol-t_8xb128_in1k.py']

model = dict(
    backbone=dict(arch='revcol-s', out_columns=(1, 3, 5, 7),
                  drop_path_rate=0.3))
