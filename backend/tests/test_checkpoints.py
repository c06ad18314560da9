"""Resume loads only checkpoints this installation wrote: a signed manifest of file hashes is checked before
accelerate unpickles anything (tiny pixel model on the CPU)."""

import hashlib
import hmac
import json
import shutil
import sys
from pathlib import Path

import pytest

from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.checkpoints import CHECKPOINT_MANIFEST
from mapsynth_backend.train.command import COMMANDS as TRAIN_COMMANDS
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from test_models import TWO_CPU_PROCESSES  # noqa: E402 - accelerate launch with two CPU processes

REPORTER = ConsoleReporter(json_result=False)


def params(dataset: Path, out: Path, **overrides):
    return TRAIN_COMMANDS[0].resolve(
        {
            "dataset": str(dataset),
            "family": "pixel",
            "preset": "tiny",
            "output_dir": str(out),
            "max_steps": 2,
            "batch_size": 2,
            "checkpoint_every": 2,
            "validation_every": 0,
            "device": "cpu",
            **overrides,
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    dataset = make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 2, 16))
    train(params(dataset, folder / "run"), REPORTER)
    return dataset, folder / "run" / "checkpoints" / "checkpoint-2"


def copy_run(checkpoint: Path, target: Path) -> Path:
    copied = target / "checkpoints" / checkpoint.name
    shutil.copytree(checkpoint, copied)
    return copied


def test_checkpoints_carry_a_signed_manifest_of_every_file(trained):
    _, checkpoint = trained
    manifest = json.loads((checkpoint / CHECKPOINT_MANIFEST).read_text())
    on_disk = {p.relative_to(checkpoint).as_posix() for p in checkpoint.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {CHECKPOINT_MANIFEST}
    assert {"optimizer.bin", "random_states_0.pkl"} <= set(manifest["files"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((checkpoint / name).read_bytes()).hexdigest() == digest


def test_an_untouched_copy_resumes(trained, tmp_path):
    dataset, checkpoint = trained
    copy_run(checkpoint, tmp_path)
    result = train(params(dataset, tmp_path, max_steps=3, resume="latest"), REPORTER)
    assert result["steps"] == 3


def tamper(folder: Path) -> str:
    pickled = folder / "random_states_0.pkl"
    data = bytearray(pickled.read_bytes())
    data[-2] ^= 0xFF
    pickled.write_bytes(bytes(data))
    return "random_states_0.pkl was changed"


def drop_manifest(folder: Path) -> str:
    (folder / CHECKPOINT_MANIFEST).unlink()
    return f"has no {CHECKPOINT_MANIFEST}"


def forge_manifest(folder: Path) -> str:
    """Someone else's checkpoint with a manifest of correct hashes, signed with another key."""
    (folder / "extra.pkl").write_bytes(b"not ours")
    files = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != CHECKPOINT_MANIFEST
    }
    body = json.dumps(files, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(b"another installation", body, hashlib.sha256).hexdigest()
    (folder / CHECKPOINT_MANIFEST).write_text(json.dumps({"files": files, "hmac_sha256": signature}))
    return "not signed by this installation"


def add_file(folder: Path) -> str:
    (folder / "custom_checkpoint_0.pkl").write_bytes(b"planted")
    return "custom_checkpoint_0.pkl was added"


@pytest.mark.parametrize("change", [tamper, drop_manifest, forge_manifest, add_file])
def test_resume_refuses_a_checkpoint_this_installation_did_not_write(trained, tmp_path, change):
    dataset, checkpoint = trained
    expected = change(copy_run(checkpoint, tmp_path))
    with pytest.raises(UserError, match="RESUME: refusing") as caught:
        train(params(dataset, tmp_path, max_steps=3, resume="latest"), REPORTER)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "model").exists() and not (tmp_path / "loss.csv").exists()


def test_resume_from_a_folder_that_is_no_checkpoint_is_one_clear_error(trained, tmp_path):
    dataset, checkpoint = trained
    renamed = tmp_path / "my backup"
    shutil.copytree(checkpoint, renamed)
    with pytest.raises(UserError, match="is not a checkpoint folder") as caught:
        train(params(dataset, tmp_path / "run", max_steps=3, resume=str(renamed)), REPORTER)
    assert "\n" not in str(caught.value)


def test_ema_state_is_covered_and_resumes(trained, tmp_path):
    """With EMA, accelerate saves custom_checkpoint_0.pkl, which it loads with weights_only=False: it must be in
    the signed manifest, and an untouched EMA checkpoint resumes."""
    dataset, _ = trained
    train(params(dataset, tmp_path, ema=True), REPORTER)
    manifest = json.loads((tmp_path / "checkpoints" / "checkpoint-2" / CHECKPOINT_MANIFEST).read_text())
    assert "custom_checkpoint_0.pkl" in manifest["files"]
    assert train(params(dataset, tmp_path, ema=True, max_steps=3, resume="latest"), REPORTER)["steps"] == 3


@pytest.mark.slow
def test_two_processes_sign_what_they_saved_and_resume(trained, tmp_path):
    import os
    import subprocess

    dataset, _ = trained
    flags = "--family pixel --preset tiny --batch-size 1 --checkpoint-every 2 --validation-every 0 --device cpu"
    launch = [*TWO_CPU_PROCESSES, "train", "--dataset", str(dataset), *flags.split()]
    launch += ["--output-dir", str(tmp_path / "ddp"), "--log-file", str(tmp_path / "ddp.log")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([*launch, "--max-steps", "2"], check=True, capture_output=True, env=env, timeout=600)
    checkpoint = tmp_path / "ddp" / "checkpoints" / "checkpoint-2"
    manifest = json.loads((checkpoint / CHECKPOINT_MANIFEST).read_text())
    on_disk = {p.name for p in checkpoint.iterdir()} - {CHECKPOINT_MANIFEST}
    assert set(manifest["files"]) == on_disk and "optimizer.bin" in on_disk
    subprocess.run(
        [*launch, "--max-steps", "3", "--resume", "latest"], check=True, capture_output=True, env=env, timeout=600
    )
    assert json.loads((tmp_path / "ddp" / "model" / "model_card.json").read_text())["steps"] == 3
