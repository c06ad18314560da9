"""controlnet-sd15 few-step sampling with a latent-consistency LoRA from a local folder (LCM / TCD), on a tiny SD
base and a tiny LoRA written with diffusers' LoRA saver, on the CPU."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from mapsynth_backend.generate.command import generate
from mapsynth_backend.models import load_model
from mapsynth_backend.models.consistency import fuse_lora
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from test_models import generate_params, train_params  # noqa: E402
from tiny_models import build_tiny_sd  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
TARGETS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q")


def write_lora(folder: Path, unet, rank: int = 2, scheduler: str = "") -> Path:
    """A random LoRA on the attention projections of the first transformer block, in diffusers' layout."""
    from diffusers import StableDiffusionPipeline, TCDScheduler

    generator = torch.Generator().manual_seed(0)
    layers = {}
    prefix = "down_blocks.0.attentions.0.transformer_blocks.0"
    modules = dict(unet.named_modules())
    for target in TARGETS:
        weight = modules[f"{prefix}.{target}"].weight
        layers[f"{prefix}.{target}.lora_A.weight"] = torch.randn(rank, weight.shape[1], generator=generator)
        layers[f"{prefix}.{target}.lora_B.weight"] = torch.randn(weight.shape[0], rank, generator=generator) * 0.5
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers)
    if scheduler == "tcd":
        TCDScheduler().save_config(folder)
    return folder


@pytest.fixture(scope="module")
def controlnet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lcm")
    grid = make_grid(folder / "grid.gpkg", 2, 3, 16)
    dataset = make_dataset(folder, grid)
    base = build_tiny_sd(folder / "tiny-sd")
    params = {"dataset": str(dataset), "family": "controlnet-sd15", "preset": "tiny", "max_steps": 1}
    train(train_params(**params, base_model=str(base), output_dir=str(folder / "cn")), REPORTER)
    model_dir = folder / "cn" / "model"
    write_lora(folder / "lcm-lora", load_model(model_dir).base["unet"])
    return folder, model_dir


def run(controlnet, out: Path, **overrides):
    folder, model_dir = controlnet
    common = {"model": str(model_dir), "patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps")}
    generate(generate_params(**common, variations=1, output_dir=str(out), **overrides), REPORTER)
    details = json.loads((out / "mapsynth_output.json").read_text())["details"]
    return {p.name: rasterio.open(p).read() for p in sorted(out.glob("r*_v*.tif"))}, details


def test_the_lora_is_fused_as_scale_times_up_down(controlnet):
    folder, model_dir = controlnet
    unet = load_model(model_dir).base["unet"]
    name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    before = dict(unet.named_modules())[name].weight.detach().clone()
    assert fuse_lora(unet, folder / "lcm-lora") == len(TARGETS)
    from safetensors.torch import load_file

    state = load_file(folder / "lcm-lora" / "pytorch_lora_weights.safetensors")
    down, up = state[f"unet.{name}.lora_A.weight"], state[f"unet.{name}.lora_B.weight"]
    after = dict(unet.named_modules())[name].weight.detach()
    assert torch.allclose(after - before, up @ down, atol=1e-5)


def test_four_lcm_steps_by_default_deterministic_and_batch_independent(controlnet, tmp_path):
    lora = str(controlnet[0] / "lcm-lora")
    a, details = run(controlnet, tmp_path / "a", steps=0, consistency_lora=lora, batch_size=3)
    b, _ = run(controlnet, tmp_path / "b", steps=0, consistency_lora=lora, batch_size=3)
    c, _ = run(controlnet, tmp_path / "c", steps=0, consistency_lora=lora, batch_size=1)
    plain, _ = run(controlnet, tmp_path / "plain", steps=4, guidance=1.0)
    assert details["steps"] == 4 and details["guidance"] == 1.0 and len(a) == 6
    assert all(np.array_equal(a[k], b[k]) for k in a), "same inputs must give bitwise the same output"
    assert max(np.abs(a[k].astype(int) - c[k].astype(int)).max() for k in a) <= 1, "batch size must not matter"
    assert any(not np.array_equal(a[k], plain[k]) for k in a), "the LoRA and the LCM scheduler must be used"
    seamless, details = run(controlnet, tmp_path / "s", steps=0, consistency_lora=lora, seamless=True)
    again, _ = run(controlnet, tmp_path / "s2", steps=0, consistency_lora=lora, seamless=True)
    assert details["steps"] == 4 and all(np.array_equal(seamless[k], again[k]) for k in seamless)


def test_a_tcd_scheduler_config_selects_tcd(controlnet, tmp_path):
    folder, model_dir = controlnet
    model = load_model(model_dir)
    model.use_consistency_lora(write_lora(tmp_path / "tcd", model.base["unet"], scheduler="tcd"))
    assert model.card["consistency_lora"]["scheduler"] == "TCDScheduler"
    noise = torch.randn(1, *model.noise_shape(16))
    assert type(model._sampler(4, noise)).__name__ == "TCDScheduler" and len(model._sampler(4, noise).timesteps) == 4


def test_pickles_wrong_folders_and_pixel_models_are_refused(controlnet, tmp_path):
    folder, model_dir = controlnet
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "pytorch_lora_weights.bin").write_bytes(b"not loaded")
    with pytest.raises(UserError, match="exactly one LoRA .safetensors file, found 0 .pickle weights"):
        run(controlnet, tmp_path / "x", consistency_lora=str(pickled))
    assert not list((tmp_path / "x").glob("*.tif")) if (tmp_path / "x").exists() else True
    pixel = tmp_path / "pixel"
    train(train_params(dataset=str(folder / "dataset"), family="pixel", preset="tiny", max_steps=1,
                       output_dir=str(pixel)), REPORTER)  # fmt: skip
    shutil.rmtree(pixel / "checkpoints")
    with pytest.raises(UserError, match="a pixel model takes no consistency LoRA"):
        run((folder, pixel / "model"), tmp_path / "y", consistency_lora=str(folder / "lcm-lora"))
