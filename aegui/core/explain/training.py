"""What the training settings mean: epochs, batch, learning rate, optimiser, schedule, early stopping,
weight decay, validation, seed, device and reports (the builder's Training box)."""
from __future__ import annotations

from .base import BIASES, HIDDEN, TRAINING
from .base import Explanation as E

STEPS: dict[str, E] = {
    "train.epochs": E(
        "How many times training passes over the whole training set.",
        "Each epoch ends with a validation pass (a point on the pale curves) and, with early stopping, a "
        "check on progress. The tutorial: training repeats over epochs until the loss reaches a satisfactory "
        "minimum or stabilises. Too few and the model is unfinished; too many and it may overfit, which a "
        "widening gap between the training and validation curves shows. Training > Continue training takes a "
        "finished run on to more epochs, exactly as if it had never stopped.",
        TRAINING),
    "train.batch_size": E(
        "How many samples each optimisation step averages over.",
        "From the tutorial: larger batches can speed training up but need more memory; smaller ones make "
        "each step noisier, which can regularise but converges more slowly. A larger batch also means fewer "
        "steps per epoch, so it often wants a larger learning rate. The Summary's memory estimate grows with "
        "it. The learning rate and batch size experiment sweeps both.",
        TRAINING),
    "train.lr": E(
        "The size of each step down the gradient. Too high overshoots and can diverge, too low crawls; it can "
        "be changed while training.",
        "The tutorial calls the learning rate a crucial hyperparameter: too high a rate overshoots the "
        "optimum, too low a rate converges slowly. On the loss plot a good rate falls steeply, then levels "
        "off; too high a rate gives a jagged or rising curve, and one far too high makes the loss infinite, "
        "where the NaN guard stops the run and keeps the last good weights. Adam's usual 0.001 is a safe "
        "start.\n\n"
        "It is live: change it during a run, and a mark on the loss plot shows when.",
        TRAINING),
    "train.optimizer": E(
        "The rule that turns gradients into weight updates: adam, adamw, sgd or rmsprop.",
        "The tutorial describes gradient descent: move each weight against its gradient, step by step. sgd "
        "does exactly that (with momentum), one rate for every weight; adam and rmsprop scale each weight's "
        "step by the size of its recent gradients, so they need less tuning and are the usual choice for "
        "autoencoders.",
        TRAINING),
    "train.optimizer=adam": E(
        "Adaptive steps for each weight, from running averages of its gradient and squared gradient. A good "
        "default at a rate of 0.001.",
        "Adam copes with gradients of very different sizes in different layers, which is why most "
        "autoencoders train with it.",
        TRAINING, "adam"),
    "train.optimizer=adamw": E(
        "Adam with weight decay applied to the weights directly instead of through the gradient: the better "
        "pairing with decay.",
        "With plain adam, l2 decay is scaled by the same adaptive factors as the gradient, so weights with "
        "large gradients are hardly decayed. adamw decays every weight alike.",
        TRAINING, "adamw"),
    "train.optimizer=sgd": E(
        "Plain gradient descent with momentum 0.9. It usually needs a larger, better-tuned learning rate, "
        "around 0.01 to 0.1.",
        "The method the tutorial describes. One rate serves every weight, so layers whose gradients are small "
        "learn slowly; in return its behaviour is simple to reason about.",
        TRAINING, "sgd"),
    "train.optimizer=rmsprop": E(
        "Scales each weight's step by a running average of its squared gradient: adam's predecessor.",
        "Adaptive like adam, without adam's running average of the gradient itself. Similar learning rates "
        "suit both.",
        TRAINING, "rmsprop"),
    "train.lr_schedule": E(
        "How the learning rate changes over the run: constant, halved when validation stalls, a cosine decay "
        "to zero, or halved in steps.",
        "Large steps early cover ground quickly; smaller steps late settle into a minimum. A schedule makes "
        "that happen by itself, and the stats line shows the rate in use.",
        TRAINING),
    "train.lr_schedule=none": E(
        "The rate stays as set, or as you change it live.",
        "The simplest choice, and the one to use when you want to steer the rate by hand during a run.",
        None, "none"),
    "train.lr_schedule=plateau": E(
        "Halves the rate whenever the validation loss has not improved for half the early-stopping patience "
        "(at least one epoch).",
        "It reacts to the run itself: while the loss keeps falling nothing changes, and when it stalls, "
        "smaller steps often find a little more.",
        TRAINING, "plateau: halve when stuck"),
    "train.lr_schedule=cosine": E(
        "Lowers the rate along a half cosine, from its value at the start to zero at the last epoch.",
        "It falls slowly at first, fastest in the middle, and gently at the end. The run's epoch total is "
        "its horizon, kept when the run is continued.",
        TRAINING, "cosine: smooth decay to zero"),
    "train.lr_schedule=step": E(
        "Halves the rate after each third of the run's epochs.",
        "A fixed staircase: the full rate for the first third, half for the second, a quarter for the last.",
        TRAINING, "step: halve in stages"),
    "train.patience": E(
        "Stop early when the validation loss has not improved for this many epochs. 0 turns early stopping "
        "off.",
        "The tutorial's validation set is there to catch overfitting: once the validation loss stops "
        "improving, more epochs only fit the training set more tightly. Early stopping ends the run there, "
        "and the status bar says so. The plateau schedule uses half this patience.",
        TRAINING),
}

REGULARISATION: dict[str, E] = {
    "train.regularization.decay": E(
        "How weights are pulled towards zero: l2 shrinks each in proportion to its size, l1 pushes small ones "
        "to exactly zero.",
        "Weight decay is the tutorial's L1 or L2 regularisation against overfitting: large weights cost "
        "extra, so the model prefers simpler solutions. Weights and biases have separate strengths below, "
        "because, as the tutorial notes, biases can overfit too.",
        HIDDEN),
    "train.regularization.decay=l2": E(
        "Penalises the squared weights, through the optimiser: every weight shrinks a little each step, large "
        "ones most.",
        "The usual kind. It keeps weights small and smooth without switching any of them off.",
        HIDDEN, "l2: shrink in proportion"),
    "train.regularization.decay=l1": E(
        "Adds the weights' absolute values to the loss: small weights are pushed to exactly zero, leaving "
        "sparse connections.",
        "It prunes: connections that do not pay for themselves disappear. Filters in the Weights panel then "
        "look patchier.",
        HIDDEN, "l1: push to zero"),
    "train.regularization.weight_decay": E(
        "The decay strength for the weights (matrices and kernels). 0 is off.",
        "Typical values for l2 are 0.0001 to 0.01. Too strong, and the model underfits: reconstructions lose "
        "detail and the filters in the Weights panel fade.",
        HIDDEN),
    "train.regularization.bias_decay": E(
        "The decay strength for the biases (and normalisation scales), separate from the weights'. 0 is off.",
        "The tutorial says biases can contribute to overfitting too, and that L1 or L2 regularisation can be "
        "applied to them. Usually biases are left alone: they are few, and they hold averages (the output "
        "bias holds the data's mean), which decay pulls towards zero.",
        BIASES),
    "train.regularization.grad_clip": E(
        "Caps the size (norm) of each step's gradient. 0 is off.",
        "One bad batch can give a huge gradient that throws the weights far off; clipping shortens such a "
        "step without changing its direction. The stats line shows the gradient norm: a clip a little above "
        "its usual value acts only on the spikes. It helps with high learning rates and adversarial "
        "training.",
        TRAINING),
}

RUNNING: dict[str, E] = {
    "train.val_fraction": E(
        "The share of the data held out to validate every epoch; the model never trains on it.",
        "The tutorial: a separate validation set shows how the model does on data it has not seen, which "
        "reveals overfitting. The split follows from the seed and is saved with the run, so the Latent space "
        "map and the anomaly view use the same held-out samples. 0 keeps nothing back, and then nothing "
        "measures overfitting.",
        TRAINING),
    "train.seed": E(
        "The seed of every random choice in a run: the initial weights, the split, the shuffling, the noise. "
        "The same seed gives the same run.",
        "On the CPU the same model, data and seed give the same losses bit for bit, so a comparison between "
        "two settings is not a comparison between two lucky draws. Try two or three seeds before trusting a "
        "small difference.",
        TRAINING),
    "train.device": E(
        "Where training runs: auto picks a CUDA GPU, then Apple's MPS, then the CPU.",
        "The status bar names the device the next run will use. A model too large for the device's memory "
        "is refused before it starts, with the reason beside the Summary's parameter count.",
        TRAINING),
    "train.device=auto": E(
        "The fastest device this machine has: a CUDA GPU, then Apple's MPS, then the CPU.",
        "The right choice almost always; a project saved on one machine then trains on whatever the next "
        "one has.",
        None, "auto"),
    "train.device=cpu": E(
        "The processor: always there, and fast enough for the built-in data.",
        "On the CPU a seed gives the same run bit for bit, which the experiments rely on.",
        None, "cpu"),
    "train.device=cuda": E(
        "An NVIDIA GPU. Training is refused, with the reason, on a machine without one.",
        "Much faster for conv, attention and capsule models and large batches; mixed precision works only "
        "here.",
        None, "cuda"),
    "train.device=mps": E(
        "The GPU of an Apple-silicon Mac.",
        "Faster than the CPU for larger models; refused, with the reason, on other machines.",
        None, "mps"),
    "train.amp": E(
        "Mixed precision: faster training on a CUDA GPU with bfloat16 or float16 arithmetic; ignored on other "
        "devices.",
        "Most of the arithmetic runs in 16-bit numbers, which GPUs do several times faster, while the weights "
        "stay 32-bit: bfloat16 where the GPU has it, else float16 with loss scaling. Results differ slightly "
        "from full precision.",
        TRAINING),
    "train.report_interval_s": E(
        "How often, in seconds, the trainer sends the dashboard its numbers.",
        "Each report costs a little time; about ten a second keep the curves live without slowing training.",
        TRAINING),
    "train.report_every_steps": E(
        "Report every this many steps instead of by time; 0 reports by time.",
        "Step-based reports come at the same points whatever the machine's speed, which the command line and "
        "the tests use.",
        TRAINING),
    "train.snapshot_size": E(
        "How many fixed validation samples the Reconstructions panel follows through the run.",
        "The same samples every time, so you can watch each one sharpen from the first blur to the end.",
        TRAINING),
}
