"""Model benchmarks, run in the backend venv by scripts/bench.py; prints one JSON object.

CPU: the pixel family (preset small, the embedded-demo architecture) at 64 px and 20 steps, batch 1 and 8, and
training samples/s. GPU (only when torch sees one): the full SD 1.5 + 2 ControlNet architecture from its published
configuration with random weights (speed does not depend on weight values), fp16, 20 steps, 512 px.
"""

import json
import platform
import sys
import time

import torch


def pixel_cpu() -> dict:
    from mapsynth_backend.models.pixel import PixelModel

    torch.manual_seed(0)
    model = PixelModel.create("small", ["B02", "B03", "B04", "B08"], 64, {})
    model.unet.eval().to(memory_format=torch.channels_last)  # as PixelModel.load() prepares it for inference
    params = sum(p.numel() for p in model.unet.parameters())
    rows = {}
    for batch, total in ((1, 4), (8, 16)):
        maps = torch.rand(batch, 3, 64, 64) * 2 - 1
        model.sample(maps, {"bands": torch.randn(batch, 4, 64, 64)}, 2)  # warm-up
        start = time.perf_counter()
        for _ in range(total // batch):
            model.sample(maps, {"bands": torch.randn(batch, 4, 64, 64)}, 20)
        rows[f"batch_{batch}_s_per_patch"] = (time.perf_counter() - start) / total
    model.unet.train().to(memory_format=torch.contiguous_format)
    optimizer = torch.optim.AdamW(model.unet.parameters(), lr=1e-4)
    scheduler = model.train_scheduler()
    batch = {"target": torch.rand(8, 4, 64, 64) * 2 - 1, "map": torch.rand(8, 3, 64, 64) * 2 - 1,
             "valid": torch.ones(8, 1, 64, 64)}
    start, steps = time.perf_counter(), 5
    for _ in range(steps):
        loss = model.loss(batch, scheduler)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    rows["train_samples_per_s"] = 8 * steps / (time.perf_counter() - start)
    rows["parameters"] = params
    rows["threads"] = torch.get_num_threads()
    return rows


def sd15_gpu(device: str = "cuda", dtype=torch.float16, size: int = 512, batches=(1, 4, 8, 16),
             steps: int = 20) -> dict:
    """Full-size architecture, random weights, fp16: RGB then NIR per patch. ``--smoke`` runs it once on the CPU."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: F401

    from mapsynth_backend.models.controlnet import ControlNetPair

    unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8).to(device, dtype)
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        sample_size=512).to(device, dtype)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77)).to(device, dtype)

    class Tokens:  # fixed ids: tokenisation cost is negligible and needs no vocabulary files
        model_max_length = 77

        def __call__(self, texts, **_):
            return type("T", (), {"input_ids": torch.zeros(len(texts), 77, dtype=torch.long)})()

    nets = [ControlNetModel.from_unet(unet, conditioning_channels=c).to(device, dtype) for c in (3, 6)]
    schedule = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}  # SD 1.5's
    base = {"unet": unet, "vae": vae, "text_encoder": text, "tokenizer": Tokens(), "scheduler_config": schedule}
    pair = ControlNetPair(base, *nets,
                          {"bands": ["B02", "B03", "B04", "B08"], "prompt": ""})
    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    rows = {"device": torch.cuda.get_device_name(0) if cuda else "cpu (smoke run)"}
    for batch in batches:
        maps = torch.rand(batch, 3, size, size, device=device) * 2 - 1
        noise = {k: torch.randn(batch, *pair.noise_shape(size), device=device) for k in ("rgb", "nir")}
        if cuda:
            pair.sample(maps, noise, 2)  # warm-up
        sync()
        start = time.perf_counter()
        pair.sample(maps, noise, steps, guidance=4.0)
        sync()
        total = time.perf_counter() - start
        rows[f"batch_{batch}"] = {"s_per_patch": total / batch, **{k: v / batch for k, v in pair.timings.items()}}
    rows["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return rows


if __name__ == "__main__":
    if "--smoke" in sys.argv:  # the GPU code path on the CPU: full architecture, one step, 64 px
        print(json.dumps(sd15_gpu("cpu", torch.float32, 64, (1,), 1)))
        sys.exit(0)
    result = {"python": platform.python_version(), "torch": torch.__version__, "pixel_cpu": pixel_cpu()}
    if torch.cuda.is_available() and "--no-gpu" not in sys.argv:
        result["sd15_gpu"] = sd15_gpu()
    print(json.dumps(result))
