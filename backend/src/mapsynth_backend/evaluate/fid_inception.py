"""The FID Inception-v3 feature network (the TF 2015-12-05 graph as ported by pytorch-fid), built in code so its
weights load from safetensors only: no TorchScript or pickle archive is ever deserialised. Parameter names follow
torchvision/pytorch-fid, so a converted ``pt_inception-2015-12-05`` state dict loads unchanged (``fc.*`` ignored)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..runtime.outputs import atomic_write
from ..runtime.protocol import Reporter, UserError


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def avg_pool(x: torch.Tensor) -> torch.Tensor:
    """The TF graph averages without the zero padding (pytorch-fid's FID blocks)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = BasicConv2d(cin, 48, 1), BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat(
            [self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)), dbl, self.branch_pool(avg_pool(x))], 1
        )


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            dbl = layer(dbl)
        return torch.cat([self.branch1x1(x), b7, dbl, self.branch_pool(avg_pool(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = BasicConv2d(cin, 192, 1), BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool  # the last block of the TF graph pools with max, the one before with average
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else avg_pool(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(dbl),
                self.branch3x3dbl_3b(dbl),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """Images in [0, 1], any size (resized to 299 like pytorch-fid) -> 2048 pooled features."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
        self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = InceptionE(1280, max_pool=False), InceptionE(2048, max_pool=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


# sha256 of the tensors of pytorch-fid's pt_inception-2015-12-05-6726825d.pth after conversion (tensor_fingerprint).
# Empty: the file could not be obtained where this was written (no download possible). A maintainer who has it
# runs `mapsynth convert-fid-weights pt_inception-2015-12-05-6726825d.pth fid.safetensors` (which checks the
# file's sha256 prefix) and adds the printed fingerprint here; see docs/SECURITY.md.
KNOWN_FINGERPRINTS: dict[str, str] = {}
SOURCE_NAME = "pt_inception-2015-12-05-6726825d.pth"
SOURCE_SHA256_PREFIX = "6726825d"  # torch hub names files by the first 8 hex digits of their sha256
FID_FEATURES = 2048  # below this many patches per set the feature covariance is singular: FID is unreliable


def tensor_fingerprint(state: dict[str, torch.Tensor]) -> str:
    """sha256 over (name, dtype, shape, little-endian bytes) of every tensor, in sorted name order: the same
    numbers give the same fingerprint whatever the file container, order or metadata."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.numpy().astype(tensor.numpy().dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def _network_state(state: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Exactly the network's parameters and buffers (``fc.*`` and training counters dropped), shapes checked:
    a partial or foreign state dict would give meaningless FIDs silently."""
    # BatchNorm's num_batches_tracked is a training counter: older exports lack it, inference does not use it
    expected = {k: v for k, v in FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = [key for key in expected if key not in state]
    wrong = [key for key in expected if key in state and tuple(state[key].shape) != tuple(expected[key].shape)]
    if missing or wrong:
        raise UserError(
            f"INCEPTION_WEIGHTS: {name} is not the FID Inception-v3 network "
            f"({len(missing)} missing and {len(wrong)} mis-shaped parameters, e.g. {(missing + wrong)[0]})"
        )
    return {key: state[key] for key in expected}


def load_fid_inception(path: str | Path, allow_unverified: bool = False) -> FIDInceptionV3:
    """Safetensors only. The network's ``verification`` says whether the weights are the recognised FID
    Inception weights (a known tensor fingerprint, or a file written by convert-fid-weights from a source
    whose sha256 matched, unchanged since); others are refused unless ``allow_unverified``."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise UserError(
            f"INCEPTION_WEIGHTS: {path.name} is not a .safetensors file; only safetensors weights are "
            f"loaded (convert {SOURCE_NAME} once with `mapsynth convert-fid-weights`)"
        )
    try:
        state = load_file(str(path))
        with safe_open(str(path), "pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as error:
        raise UserError(f"INCEPTION_WEIGHTS: cannot read {path}: {error}") from error
    state = _network_state(state, path.name)
    fingerprint = tensor_fingerprint(state)
    converted = metadata.get("source_verified") == "true" and metadata.get("tensor_fingerprint") == fingerprint
    verified = fingerprint in KNOWN_FINGERPRINTS or converted
    if not verified and not allow_unverified:
        raise UserError(
            f"INCEPTION_WEIGHTS: {path.name} are not the recognised FID Inception weights (tensor fingerprint "
            f"{fingerprint[:16]}...); convert {SOURCE_NAME} with `mapsynth convert-fid-weights`, or allow an "
            "unverified FID (UNVERIFIED_FID), which the report marks as such"
        )
    model = FIDInceptionV3()
    model.load_state_dict(state, strict=False)
    model.verification = {
        "verified": verified,
        "fingerprint": fingerprint,
        "verified_by": "known fingerprint"
        if fingerprint in KNOWN_FINGERPRINTS
        else ("source sha256 at conversion" if converted else "none"),
    }
    return model.eval()


def convert_fid_weights(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """pytorch-fid's .pth (a plain state dict) -> safetensors, loaded with ``weights_only=True`` (tensors and
    containers only: no code from the file runs). The source's sha256 must start with 6726825d (its torch hub
    name) unless ``unverified_source``; the tensor fingerprint is stored in the metadata and printed."""
    from safetensors.torch import save_file

    source, out = Path(params["input"]), Path(params["output"])
    if out.suffix != ".safetensors":
        raise UserError(f"OUTPUT: {out.name} must end in .safetensors")
    try:
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise UserError(f"INPUT: cannot read {source}: {error.strerror}") from error
    sha256 = digest.hexdigest()
    source_verified = sha256.startswith(SOURCE_SHA256_PREFIX)
    if not source_verified and not params["unverified_source"]:
        raise UserError(
            f"INPUT: {source.name} is not {SOURCE_NAME} (its sha256 {sha256[:16]}... does not start with "
            f"{SOURCE_SHA256_PREFIX}); use pytorch-fid's file, or --unverified-source for a file FID will mark"
            " unverified"
        )
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)  # tensors and containers only: no code runs
    except Exception as error:  # noqa: BLE001 - the unpickler's many errors: not a plain weights file
        raise UserError(f"INPUT: {source.name} is not a plain PyTorch state dict ({type(error).__name__})") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"INPUT: {source.name} is not a state dict of tensors")
    state = {key: value.contiguous() for key, value in _network_state(state, source.name).items()}
    fingerprint = tensor_fingerprint(state)
    metadata = {
        "source": source.name,
        "source_sha256": sha256,
        "source_verified": "true" if source_verified else "false",
        "tensor_fingerprint": fingerprint,
    }
    atomic_write(out, lambda tmp: save_file(state, str(tmp), metadata=metadata))
    known = fingerprint in KNOWN_FINGERPRINTS
    reporter.log(
        f"tensor fingerprint {fingerprint} ({'known' if known else 'not in KNOWN_FINGERPRINTS yet'}); source sha256"
        f" {sha256} ({'matches' if source_verified else 'does NOT match'} {SOURCE_SHA256_PREFIX})"
    )
    return {"output": str(out), "tensor_fingerprint": fingerprint, "source_sha256": sha256, "verified": source_verified}


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID's Frechet distance between Gaussians fitted to two feature sets (rows = samples). Not clamped at 0:
    a negative value is numerical error in the matrix root (or a bug) and is shown as it is."""
    from scipy import linalg

    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = linalg.sqrtm(cov_a @ cov_b)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * np.real(root)))


def kernel_inception_distance(a: np.ndarray, b: np.ndarray) -> float:
    """KID: the unbiased MMD^2 estimate with the cubic polynomial kernel (x.y / d + 1)^3 (Binkowski et al. 2018)."""
    d = a.shape[1]
    kernel = lambda x, y: (x @ y.T / d + 1) ** 3  # noqa: E731 - the polynomial kernel of KID
    m, n = len(a), len(b)
    kxx, kyy, kxy = kernel(a, a), kernel(b, b), kernel(a, b)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


def fid_kid(real_rgb: np.ndarray, fake_rgb: np.ndarray, model) -> dict[str, float]:
    """FID and KID between crops of two true-colour images (3, H, W) in [0, 1]."""
    patch = max(16, min(64, min(fake_rgb.shape[1:]) // 2))  # crops of the usual patch size, smaller for tiny images

    def features(rgb: np.ndarray) -> np.ndarray:
        crops = [
            rgb[:, y : y + patch, x : x + patch]
            for y in range(0, rgb.shape[1] - patch + 1, patch)
            for x in range(0, rgb.shape[2] - patch + 1, patch)
        ]
        crops = [c for c in crops if np.isfinite(c).all()]
        if len(crops) < 2:
            raise UserError("FID/KID: fewer than two complete patches to compare")
        batch = torch.from_numpy(np.stack(crops)).float()
        with torch.inference_mode():
            return torch.cat([model(part) for part in batch.split(16)]).double().numpy()

    a, b = features(real_rgb), features(fake_rgb)
    return {
        "fid": frechet_distance(a, b),
        "kid": kernel_inception_distance(a, b),
        "real_patches": len(a),
        "synthetic_patches": len(b),
    }


def fid_section(report, reporter: Reporter, real_rgb: np.ndarray, fake_rgb: np.ndarray, model) -> dict[str, Any]:
    """The report's FID/KID section: scores, whether the weights are verified (else marked UNVERIFIED), and a
    warning when a set has fewer patches than features."""
    scores = fid_kid(real_rgb, fake_rgb, model)
    scores.update(model.verification)
    if not scores["verified"]:
        report.note(
            "UNVERIFIED: the feature network's weights are not the recognised FID Inception weights "
            f"(tensor fingerprint {scores['fingerprint']}); these FID/KID values are not comparable with "
            "published ones."
        )
        reporter.log("FID/KID computed with unverified weights (marked in the report)", "warning")
    fewest = min(scores["real_patches"], scores["synthetic_patches"])
    if fewest < FID_FEATURES:
        warning = (
            f"only {fewest} patches in a set (fewer than the {FID_FEATURES} features): FID is unreliable"
            " (its covariance is singular); prefer KID"
        )
        scores["warning"] = warning
        report.note(warning[0].upper() + warning[1:] + ".")
        reporter.log(warning, "warning")
    report.table(
        ["FID", "KID", "real patches", "synthetic patches", "weights"],
        [
            [
                scores["fid"],
                scores["kid"],
                scores["real_patches"],
                scores["synthetic_patches"],
                "verified" if scores["verified"] else "UNVERIFIED",
            ]
        ],
    )
    return scores
