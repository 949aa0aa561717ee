"""Keras model builders used across the notebooks (thin adapters over ``keras.layers``).

Keras defaults that differ from the papers are named here rather than hidden: ``Dense``
defaults to Glorot-uniform, ``LeakyReLU()`` to slope 0.3 (Maas et al. used 0.01), ``PReLU``
to alpha 0 (He et al. used 0.25), ``BatchNormalization`` to momentum 0.99 (too slow for
short runs on small data: we default to 0.9).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

__all__ = ["activation_layer", "build_mlp", "ACTIVATION_NAMES"]

ACTIVATION_NAMES = (
    "relu",
    "leaky_relu",
    "prelu",
    "elu",
    "gelu",
    "tanh",
    "sigmoid",
    "softplus",
    "linear",
)


def activation_layer(spec: str, name: str | None = None) -> keras.layers.Layer:
    """A layer for an activation name; ``"leaky_relu:0.2"`` sets the negative slope.

    ``"leaky_relu"`` means slope 0.01 (Maas et al. 2013), *not* Keras's default 0.3;
    ``"prelu"`` starts at alpha = 0.25 (He et al. 2015), *not* Keras's default 0.
    """
    base, _, arg = spec.partition(":")
    if base == "relu":
        return layers.ReLU(name=name)
    if base == "leaky_relu":
        return layers.LeakyReLU(negative_slope=float(arg or 0.01), name=name)
    if base == "prelu":
        return layers.PReLU(
            alpha_initializer=keras.initializers.Constant(float(arg or 0.25)), name=name
        )
    if base == "elu":
        return layers.ELU(alpha=float(arg or 1.0), name=name)
    if base in ("gelu", "tanh", "sigmoid", "softplus", "linear"):
        return layers.Activation(base, name=name)
    raise ValueError(f"unknown activation {spec!r}; choose from {', '.join(ACTIVATION_NAMES)}")


def _initializer(spec, index: int):
    if isinstance(spec, str):
        return spec
    if isinstance(spec, keras.initializers.Initializer):
        config = spec.get_config()
        if isinstance(config.get("seed"), int):
            config["seed"] = config["seed"] + index  # a seeded instance repeats its draws
        return spec.__class__.from_config(config)
    if callable(spec):
        return spec()
    raise TypeError(f"kernel_initializer must be a name, an Initializer or a factory, not {spec!r}")


def build_mlp(
    depth: int,
    width: int,
    activation: str = "relu",
    *,
    input_dim: int = 64,
    num_classes: int = 10,
    kernel_initializer: str | keras.initializers.Initializer | Callable = "glorot_uniform",
    batch_norm: str | None = None,
    bn_momentum: float = 0.9,
    name: str | None = None,
) -> keras.Sequential:
    """A classifier MLP: ``depth`` hidden layers of ``width`` units, then logits.

    Hidden layer ``i`` (from 1) is ``dense_i`` followed by an activation layer ``act_i``;
    with ``batch_norm="before"`` it is Dense(use_bias=False) → BN (``bn_i``) → activation,
    with ``batch_norm="after"`` Dense → activation → BN. The output layer ``logits`` is a
    linear ``Dense(num_classes)`` (train with ``from_logits=True``).
    """
    if batch_norm not in (None, "before", "after"):
        raise ValueError("batch_norm must be None, 'before' or 'after'")
    stack: list[keras.layers.Layer] = [keras.Input((input_dim,), name="inputs")]
    for i in range(1, depth + 1):
        dense = layers.Dense(
            width,
            use_bias=batch_norm != "before",
            kernel_initializer=_initializer(kernel_initializer, i),
            name=f"dense_{i}",
        )
        bn = layers.BatchNormalization(momentum=bn_momentum, name=f"bn_{i}")
        act = activation_layer(activation, name=f"act_{i}")
        if batch_norm == "before":
            stack += [dense, bn, act]
        elif batch_norm == "after":
            stack += [dense, act, bn]
        else:
            stack += [dense, act]
    stack.append(
        layers.Dense(
            num_classes, kernel_initializer=_initializer(kernel_initializer, 0), name="logits"
        )
    )
    # "leaky_relu:0.2" is not a valid Keras scope name: ':' would make fit() raise
    default_name = f"mlp_{depth}x{width}_{activation.replace(':', '_').replace('.', 'p')}"
    return keras.Sequential(stack, name=name or default_name)
