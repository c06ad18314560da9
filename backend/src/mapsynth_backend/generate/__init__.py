"""Generation: the generate command, per-item noise and reflectance conversion, joint (seamless) denoising."""
