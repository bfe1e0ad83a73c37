"""The training loop (being moved here from core/trainer.py)."""
from ..run import TrainResult
from ..trainer import Trainer, check_dataset_fits

__all__ = ["Trainer", "TrainResult", "check_dataset_fits"]
