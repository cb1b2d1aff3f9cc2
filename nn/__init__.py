"""nn: neural networks built from autograd Values (Neuron, Layer, MLP, losses, optimizers, training)."""

from . import datasets
from .engines import FallbackWarning, NotTraceable
from .layers import MLP, Layer, Neuron
from .losses import (
    LOSSES,
    TARGETS,
    Loss,
    bce,
    bce_logits,
    cross_entropy,
    encode_targets,
    get_loss,
    hinge,
    l2_penalty,
    mse,
    sse,
)
from .module import Module
from .optim import SGD, Adam, Optimizer
from .serialize import ModelFileError, load, save
from .stats import grad_stats
from .torch_bridge import from_torch, to_torch
from .train import History, TrainingDiverged, accuracy, evaluate, fit, predict

__all__ = [
    "datasets",
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "LOSSES",
    "TARGETS",
    "Loss",
    "get_loss",
    "mse",
    "sse",
    "bce",
    "bce_logits",
    "cross_entropy",
    "hinge",
    "l2_penalty",
    "encode_targets",
    "Optimizer",
    "SGD",
    "Adam",
    "fit",
    "evaluate",
    "predict",
    "accuracy",
    "History",
    "TrainingDiverged",
    "FallbackWarning",
    "NotTraceable",
    "save",
    "load",
    "ModelFileError",
    "grad_stats",
    "from_torch",
    "to_torch",
]
