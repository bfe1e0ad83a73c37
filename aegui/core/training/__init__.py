"""Training: one loop over phases, a state that can be captured and resumed exactly.

    loop.py          Trainer: the streaming loop (a generator of Reports), the fine-tuning step
    phases.py        what one step trains: fine-tuning, or a greedy pretraining stage
    accumulators.py  device-side sums read once per report; the first non-finite step
    snapshot.py      the fixed batch, filters and output bias a report may carry (at most 2/s)
    evaluation.py    validation with the same corruption every epoch
    state.py         the loop's position, random streams, weight buffers
    persist.py       Trainer.state_dict / load_state_dict
    distributed.py   torchrun's environment, the process group, DDP and the collectives a run needs
    lockstep.py      a distributed trainer's DDP wrappers and the decisions its ranks take together
"""
from ..run import TrainResult
from .loop import Trainer, check_dataset_fits
from .persist import StateMismatch

__all__ = ["StateMismatch", "TrainResult", "Trainer", "check_dataset_fits"]
