"""A tiny pixel model (64 px at 10 m, 4 bands) trained for a few steps on a synthetic dataset, for end-to-end
tests of the whole chain. Usage: python make_tiny_pixel_model.py OUT_DIR  (prints the model directory)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from model_fixtures import make_dataset, make_grid  # noqa: E402

from mapsynth_backend.runtime.protocol import ConsoleReporter  # noqa: E402
from mapsynth_backend.train.command import COMMANDS, train  # noqa: E402


def build(folder: Path, patch_size: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dataset = make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 2, patch_size))
    train(
        COMMANDS[0].resolve(
            {
                "dataset": str(dataset),
                "family": "pixel",
                "preset": "tiny",
                "max_steps": 2,
                "batch_size": 2,
                "validation_every": 0,
                "device": "cpu",
                "output_dir": str(folder / "training"),
            }
        ),
        ConsoleReporter(json_result=False),
    )
    return folder / "training" / "model"


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
