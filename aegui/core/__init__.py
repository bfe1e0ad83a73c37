"""The engine: pure torch and numpy. Nothing under aegui.core imports Qt."""
from .control import LIVE_VALUES, TrainControl
from .data import DataError, Dataset, load_dataset
from .models import build_model, count_parameters, layer_shapes
from .presets import PRESETS, get_preset, preset_names
from .reports import Report
from .serialize import SpecError
from .spec import AutoencoderSpec, SCHEMA_VERSION
from .run import RunArtifact, TrainResult
from .training import Trainer
from .validation import validate

__all__ = [
    "AutoencoderSpec", "DataError", "Dataset", "LIVE_VALUES", "PRESETS", "Report", "SCHEMA_VERSION", "SpecError",
    "RunArtifact", "TrainControl", "TrainResult", "Trainer", "build_model", "count_parameters", "get_preset", "layer_shapes",
    "load_dataset", "preset_names", "validate",
]
