"""Hub downloads of the SD 1.5 base are pinned to a commit (bandit B615; plugins.qgis.org blocks unpinned ones)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mapsynth_backend.models.sd_base import SD15_HUB_ID, SD15_REVISION, load_base
from mapsynth_backend.runtime.protocol import UserError
from mapsynth_backend.train.command import COMMANDS as TRAIN_COMMANDS

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import build_tiny_sd  # noqa: E402

LOAD = """
import sys
from mapsynth_backend.models.sd_base import load_base
from mapsynth_backend.runtime.protocol import UserError
try:
    base = load_base(sys.argv[1], allow_download=True, revision=sys.argv[2])
except UserError as exc:
    print("USER ERROR", exc)
else:
    print("LOADED", base["unet"].config.cross_attention_dim)
"""


def test_the_train_job_pins_sd15_to_a_commit_by_default():
    default = {p.name: p.default for p in TRAIN_COMMANDS[0].params}["revision"]
    assert default == SD15_REVISION and re.fullmatch("[0-9a-f]{40}", default)  # a full commit id, as the hub spells it


@pytest.mark.parametrize("revision", ["main", "v1.5", "", "451F4FE"])
def test_a_branch_or_tag_revision_is_refused_before_any_download(revision):
    with pytest.raises(UserError, match="REVISION: .* is not a commit hash"):
        load_base(SD15_HUB_ID, allow_download=True, revision=revision)


@pytest.mark.slow
def test_a_hub_download_loads_exactly_the_pinned_commit(tmp_path):
    """An offline hub cache holding one snapshot: its commit loads, any other commit does not."""
    snapshot = tmp_path / "hub" / f"models--{SD15_HUB_ID.replace('/', '--')}" / "snapshots" / SD15_REVISION
    build_tiny_sd(snapshot)
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}

    def load(revision: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", LOAD, SD15_HUB_ID, revision],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return proc.stdout.strip().splitlines()[-1]

    assert load(SD15_REVISION) == "LOADED 16"
    assert load("0" * 40).startswith(f"USER ERROR BASE_MODEL: cannot load {SD15_HUB_ID}")
