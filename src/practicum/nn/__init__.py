"""Tested building blocks, each a ``torch.nn.Module`` with its own parameters."""

from practicum.nn.attention import (
    LearnedPositionalEncoding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    causal_mask,
    scaled_dot_product_attention,
)
from practicum.nn.basic import MLP, BasisExpansion, Linear, l2_penalty
from practicum.nn.conv import (
    Classifier,
    Conv2d,
    GroupNorm,
    PatchWhitening,
    ResidualBlock,
    count_parameters,
    receptive_field,
    update_average,
)
from practicum.nn.generative import (
    ConvDecoder,
    ConvEncoder,
    DiagonalGaussian,
    FourierFeatures,
    MLPDecoder,
    MLPEncoder,
    SineLayer,
    Siren,
    bernoulli_log_likelihood,
    log_mean_exp,
    standard_normal_log_prob,
)
from practicum.nn.recurrent import LSTMCell, Recurrent, RNNCell, clip_grad_norm, detach_state
from practicum.nn.residual_units import ResidualUnit, ResNet, resnet

__all__ = [
    # basic
    "MLP",
    "BasisExpansion",
    "Linear",
    "l2_penalty",
    # vision
    "Classifier",
    "Conv2d",
    "GroupNorm",
    "PatchWhitening",
    "ResidualBlock",
    "ResidualUnit",
    "ResNet",
    "resnet",
    "count_parameters",
    "receptive_field",
    "update_average",
    # generative and implicit models
    "ConvDecoder",
    "ConvEncoder",
    "DiagonalGaussian",
    "FourierFeatures",
    "MLPDecoder",
    "MLPEncoder",
    "SineLayer",
    "Siren",
    "bernoulli_log_likelihood",
    "log_mean_exp",
    "standard_normal_log_prob",
    # sequences
    "LSTMCell",
    "LearnedPositionalEncoding",
    "MultiHeadAttention",
    "RNNCell",
    "Recurrent",
    "SinusoidalPositionalEncoding",
    "TransformerBlock",
    "causal_mask",
    "clip_grad_norm",
    "detach_state",
    "scaled_dot_product_attention",
]
