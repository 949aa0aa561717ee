"""Experiments of notebook 02 (vanishing gradients): weight-gradient and back-propagated
error norms per layer at init, the saturation of a deep sigmoid network's top hidden layer
during training, and epochs to a target accuracy per activation and depth.

Introduced in notebook 02.
"""

from __future__ import annotations

import numpy as np

from relu_course.data import Split
from relu_course.ensemble import MLPEnsemble, NetSpec, train_ensemble
from relu_course.models import build_mlp
from relu_course.probes import dense_layers, gradient_and_error_norms

__all__ = [
    "INIT_LABELS",
    "PROPER_INIT",
    "draw_kernel",
    "epochs_to_target",
    "layer_ratios",
    "norm_profiles",
    "saturation_runs",
    "steps_to_target",
]

# Initializations compared at init, by the names relu_course.ensemble uses.
INIT_LABELS: dict[str, str] = {
    "glorot_uniform": "Glorot",
    "he_normal": "He",
    "normal:0.01": "N(0, 0.01²)",
}


def draw_kernel(init: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A float32 ``(fan_in, fan_out)`` kernel drawn from ``rng``.

    ``"glorot_uniform"``: U[−√(6/(fan_in + fan_out)), +√(…)] (Keras's ``Dense`` default);
    ``"he_normal"``: the *untruncated* N(0, 2/fan_in) of He et al. (2015), not Keras's
    truncated ``HeNormal``; ``"normal:STD"``: N(0, STD²) whatever the fan-in.
    """
    base, _, arg = init.partition(":")
    if base == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        kernel = rng.uniform(-limit, limit, size=(fan_in, fan_out))
    elif base == "he_normal":
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    elif base == "normal" and arg:
        kernel = rng.normal(0.0, float(arg), size=(fan_in, fan_out))
    else:
        raise ValueError(f"unknown init {init!r}: glorot_uniform, he_normal or normal:STD")
    return kernel.astype(np.float32)


def norm_profiles(
    data: Split,
    activations=("sigmoid", "tanh", "relu"),
    inits=tuple(INIT_LABELS),
    *,
    depth: int = 10,
    width: int = 256,
    n_examples: int = 512,
    seeds=5,
) -> dict[str, dict[tuple[str, str], np.ndarray]]:
    """Per (activation, init): ‖∂L/∂W_l‖ and ‖∂L/∂z_l‖ of every Dense layer at init.

    A ``depth``×``width`` MLP (``build_mlp``: zero biases, linear logits) per activation;
    for each init and seed ``s`` (``seeds``: a count or the seeds themselves) the kernels
    are drawn from ``np.random.default_rng(s)`` with :func:`draw_kernel`, so every
    activation sees *identical* weights for a given (init, seed). L is the mean sparse
    cross-entropy from logits on the first ``n_examples`` training examples; both norms
    come from :func:`relu_course.probes.gradient_and_error_norms` (the reference of the
    exercises ``layer_gradient_norms`` and ``layer_error_norms``).

    Returns ``{"weight": {...}, "error": {...}}``, each mapping ``(activation, init)`` to
    an array of shape (seeds, depth + 1): hidden layers input side first, then the logits
    layer.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    x = data.x_train[:n_examples]
    y = data.y_train[:n_examples]
    models = {
        activation: build_mlp(
            depth, width, activation, input_dim=data.num_features, num_classes=data.num_classes
        )
        for activation in activations
    }
    sizes = [data.num_features] + [width] * depth + [data.num_classes]
    out: dict[str, dict[tuple[str, str], list]] = {"weight": {}, "error": {}}
    for init in inits:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            kernels = [
                draw_kernel(init, a, b, rng) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
            for activation, model in models.items():
                for layer, kernel in zip(dense_layers(model), kernels, strict=True):
                    layer.kernel.assign(kernel)
                    layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
                weight, error = gradient_and_error_norms(model, x, y)
                out["weight"].setdefault((activation, init), []).append(weight)
                out["error"].setdefault((activation, init), []).append(error)
    return {kind: {key: np.array(v) for key, v in d.items()} for kind, d in out.items()}


def layer_ratios(norms, first: int = 1, last: int | None = None) -> np.ndarray:
    """Per seed, norm of layer ``first`` / norm of layer ``last`` (1-based; ``last`` defaults
    to the last hidden layer) from a (seeds, layers) array."""
    norms = np.atleast_2d(np.asarray(norms, dtype=np.float64))
    last = norms.shape[1] - 1 if last is None else last
    return norms[:, first - 1] / norms[:, last - 1]


# Each activation with the initialization made for it: Glorot & Bengio (2010) for the
# saturating ones, He et al. (2015) for ReLU (relu_course.ensemble's init names).
PROPER_INIT: dict[str, str] = {
    "sigmoid": "glorot_uniform",
    "tanh": "glorot_uniform",
    "relu": "he_normal",
}


def epochs_to_target(val_accuracy, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Per network (columns of an (epochs, networks) history): the first epoch (from 1)
    whose validation accuracy is ≥ ``target``, and whether it was reached at all.

    A network that never reaches the target within the E recorded epochs is *censored*: its
    value is E + 1, the smallest it could be, so ratios built on it are bounds, not
    estimates (the caller reports how many runs were censored).
    """
    accuracy = np.asarray(val_accuracy, dtype=np.float64)
    hit = accuracy >= target
    reached = hit.any(axis=0)
    epochs = np.where(reached, np.argmax(hit, axis=0) + 1, accuracy.shape[0] + 1)
    return epochs.astype(np.int64), reached


def steps_to_target(
    data: Split,
    activations=("sigmoid", "tanh", "relu"),
    depths=(2, 5, 10, 20),
    *,
    seeds=5,
    width: int = 64,
    epochs: int | dict[int, int] = 20,
    target: float = 0.9,
    learning_rate: float = 0.01,
    momentum: float = 0.9,
    batch_size: int = 64,
    inits: dict[str, str] | None = None,
    progress: str | None = None,
) -> dict:
    """Epochs to ``target`` validation accuracy for each activation and depth.

    One :class:`relu_course.ensemble.MLPEnsemble` per depth holds every (activation, seed)
    network, each with its proper initialization (``inits``, default :data:`PROPER_INIT`);
    all are trained at once with SGD + momentum (as Krizhevsky et al. 2012) at one learning
    rate for ``epochs`` epochs (one budget, or ``{depth: budget}``). Networks with the same seed see the same mini-batch order:
    per-seed results of two activations are paired. Runs that never reach the target are
    censored at ``epochs + 1`` (see :func:`epochs_to_target`).

    Returns a dict: ``depths``, ``target``, ``budget`` ({depth: epochs}), ``steps_per_epoch``,
    ``inits``, and per activation ``epochs`` (depths, seeds) ints, ``reached`` (depths,
    seeds) bools, ``val_accuracy`` (a list over depths of (epochs, seeds) arrays), ``top_layer_mean`` (depths,
    seeds): the mean output of the top hidden layer on the validation set after training.
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    inits = {a: (inits or PROPER_INIT)[a] for a in activations}
    result = {
        "depths": list(depths),
        "target": float(target),
        "budget": {d: int(epochs[d] if isinstance(epochs, dict) else epochs) for d in depths},
        "steps_per_epoch": len(data.x_train) // batch_size,
        "inits": inits,
        "seeds": seeds,
        "epochs": {},
        "reached": {},
        "val_accuracy": {},
        "top_layer_mean": {},
    }
    per_depth = {
        key: {a: [] for a in activations}
        for key in result
        if key in ("epochs", "reached", "val_accuracy", "top_layer_mean")
    }
    for depth in depths:
        specs = [NetSpec(a, seed=s, init=inits[a]) for a in activations for s in seeds]
        ensemble = MLPEnsemble(
            specs,
            depth=depth,
            width=width,
            input_dim=data.num_features,
            num_classes=data.num_classes,
        )
        history = train_ensemble(
            ensemble,
            data,
            epochs=result["budget"][depth],
            optimizer="sgd",
            learning_rate=learning_rate,
            momentum=momentum,
            batch_size=batch_size,
            evaluate_train=False,
            progress=None if progress is None else f"{progress}, depth {depth}",
        )
        _, hidden = ensemble.forward(data.x_val, return_hidden=True)
        top_mean = np.mean(np.asarray(hidden[-1][1]), axis=(1, 2))
        reached_epochs, reached = epochs_to_target(history["val_accuracy"], target)
        n = len(seeds)
        for k, activation in enumerate(activations):
            part = slice(k * n, (k + 1) * n)
            per_depth["epochs"][activation].append(reached_epochs[part])
            per_depth["reached"][activation].append(reached[part])
            per_depth["val_accuracy"][activation].append(history["val_accuracy"][:, part])
            per_depth["top_layer_mean"][activation].append(top_mean[part])
    for key, values in per_depth.items():
        # val_accuracy stays a list per depth: the budgets may differ between depths
        result[key] = {a: v if key == "val_accuracy" else np.array(v) for a, v in values.items()}
    return result


def _hidden_means(ensemble, x) -> np.ndarray:
    """Mean output of every hidden layer per network: (networks, depth)."""
    _, hidden = ensemble.forward(x, return_hidden=True)
    return np.stack([np.mean(np.asarray(a), axis=(1, 2)) for _, a in hidden], axis=1)


def saturation_runs(
    data: Split,
    activations=("sigmoid", "tanh"),
    *,
    depth: int = 5,
    width: int = 128,
    epochs: int = 10,
    learning_rate: float = 0.3,
    batch_size: int = 16,
    seeds=5,
    n_watch: int = 300,
) -> dict[str, dict[str, np.ndarray]]:
    """Glorot & Bengio's (2010) saturation experiment over seeds, as one ensemble.

    Every network starts from their "standard" initialization W ~ U[−1/√n, 1/√n]
    (n = fan_in, zero biases), drawn from ``np.random.default_rng(seed)`` so that the two
    activations start from identical weights per seed, and is trained with plain SGD (no
    momentum), each seed with its own batch order shared across activations.

    Returns, per activation: ``layer_means_init`` and ``layer_means`` (seeds, depth): the
    mean output of each hidden layer on the first ``n_watch`` validation examples before
    and after training; ``val_accuracy`` (epochs, seeds).
    """
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    specs = [NetSpec(a, seed=s) for a in activations for s in seeds]
    ensemble = MLPEnsemble(
        specs,
        depth=depth,
        width=width,
        input_dim=data.num_features,
        num_classes=data.num_classes,
    )
    sizes = [data.num_features] + [width] * depth + [data.num_classes]
    draws = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        draws[seed] = [
            rng.uniform(-1 / np.sqrt(a), 1 / np.sqrt(a), size=(a, b)).astype(np.float32)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
    for i, kernel in enumerate(ensemble.kernels):
        kernel.assign(np.stack([draws[spec.seed][i] for spec in specs]))
    watch = data.x_val[:n_watch]
    before = _hidden_means(ensemble, watch)
    history = train_ensemble(
        ensemble,
        data,
        epochs=epochs,
        optimizer="sgd",
        learning_rate=learning_rate,
        batch_size=batch_size,
        evaluate_train=False,
    )
    after = _hidden_means(ensemble, watch)
    n = len(seeds)
    return {
        activation: {
            "layer_means_init": before[k * n : (k + 1) * n],
            "layer_means": after[k * n : (k + 1) * n],
            "val_accuracy": history["val_accuracy"][:, k * n : (k + 1) * n],
        }
        for k, activation in enumerate(activations)
    }
