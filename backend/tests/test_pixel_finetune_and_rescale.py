"""Pixel family: fine-tuning from an existing model (BASE_MODEL) and guidance rescale, on tiny real UNets."""

import pytest
import torch

from mapsynth_backend.models.pixel import PixelModel
from mapsynth_backend.runtime.protocol import UserError

BANDS = ["B02", "B03", "B04", "B08"]
CARD = {"patch_size": 16, "map_dropout": 0.1, "guidance": 2.0}


def new_model(seed, bands=BANDS, **options):
    torch.manual_seed(seed)
    return PixelModel.create("tiny", bands, 16, dict(CARD), **options)


def test_base_model_weights_are_the_starting_point(tmp_path):
    base = new_model(0)
    base.save(tmp_path / "base")
    tuned = new_model(1, base_model=str(tmp_path / "base"))
    fresh = new_model(1)
    for name, weight in base.unet.state_dict().items():
        assert torch.equal(tuned.unet.state_dict()[name], weight)
    assert any(not torch.equal(fresh.unet.state_dict()[n], w) for n, w in base.unet.state_dict().items())
    with pytest.raises(UserError, match="BASE_MODEL"):
        new_model(2, bands=["B04", "B08"], base_model=str(tmp_path / "base"))


def test_guidance_rescale_brings_the_spread_back_to_the_map_conditioned_prediction():
    model = new_model(0)
    model.unet.eval()
    inputs, maps = torch.randn(2, 4, 16, 16), torch.rand(2, 3, 16, 16) * 2 - 1
    t = torch.tensor(500)
    with torch.no_grad():
        mapped = model.predict(inputs, maps, t, 1.0)
        plain = model.predict(inputs, maps, t, 3.0)
        model.card["guidance_rescale"] = 1.0
        rescaled = model.predict(inputs, maps, t, 3.0)
        model.card["guidance_rescale"] = 0.5
        half = model.predict(inputs, maps, t, 3.0)
    spread = [x.std(dim=(1, 2, 3)) for x in (mapped, plain, rescaled)]
    assert not torch.allclose(spread[1], spread[0], rtol=0.05)
    assert torch.allclose(spread[2], spread[0], rtol=1e-4)
    assert torch.allclose(half, 0.5 * (plain + rescaled), atol=1e-5)
