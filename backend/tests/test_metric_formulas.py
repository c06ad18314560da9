"""The image metrics against independent references: SSIM against scikit-image, PSNR against its formula, FID
against the closed-form Frechet distance of Gaussians, KID against its definition and its Gaussian expectation."""

import itertools

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from mapsynth_backend.evaluate.fid_inception import frechet_distance, kernel_inception_distance
from mapsynth_backend.evaluate.metrics import psnr, ssim, ssim_index


def smooth_pair(seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """A smooth reflectance-like band and a noisy, slightly brighter copy."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    real = 0.05 + 0.25 * gaussian_filter(rng.random((96, 96)), 3) / 0.6
    return real + 0.01 + rng.normal(0, noise, real.shape), real


@pytest.mark.parametrize(("seed", "noise"), [(0, 0.005), (1, 0.02), (2, 0.08)])
def test_ssim_agrees_with_scikit_image(seed, noise):
    """Same window (Gaussian, sigma 1.5) and constants. scikit-image averages the index without the 5 px border
    its window does not cover; ours keeps the border (reflected), so the index maps are compared on the interior.
    Tolerance 1e-3: the two cut the Gaussian at 4 and 3.5 sigma, weights below 1e-3 of the whole."""
    fake, real = smooth_pair(seed, noise)
    reference, full = structural_similarity(
        fake, real, data_range=0.3, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True
    )
    inner = (slice(5, -5), slice(5, -5))
    assert float(full[inner].mean()) == pytest.approx(reference, abs=1e-12)  # what scikit-image averages
    assert float(ssim_index(fake, real, 0.3)[inner].mean()) == pytest.approx(reference, abs=1e-3)
    assert ssim(fake, real, 0.3) == pytest.approx(float(ssim_index(fake, real, 0.3).mean()), rel=1e-12)
    assert 0.0 < reference < 1.0


def test_psnr_is_its_formula():
    fake, real = smooth_pair(3, 0.01)
    mse = np.mean((fake - real) ** 2)
    assert psnr(fake, real, 0.3) == pytest.approx(10 * np.log10(0.3**2 / mse), rel=1e-12)
    assert psnr(real, real, 0.3) == float("inf")
    holes = fake.copy()
    holes[:10] = np.nan  # invalid pixels are left out, not counted as errors
    assert psnr(holes, real, 0.3) == pytest.approx(10 * np.log10(0.3**2 / np.mean((fake - real)[10:] ** 2)))


def gaussian_features(rng, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    """n samples whose sample mean and (ddof=1) sample covariance are exactly ``mean`` and ``cov``."""
    raw = rng.normal(size=(n, len(mean)))
    raw -= raw.mean(0)
    whiten = np.linalg.cholesky(np.cov(raw, rowvar=False))
    unit = np.linalg.solve(whiten, raw.T).T  # sample covariance exactly I
    return unit @ np.linalg.cholesky(cov).T + mean


def rotation(rng, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q


def test_frechet_distance_is_the_closed_form_for_commuting_covariances():
    """Same eigenvectors: Tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt(a_i) - sqrt(b_i))^2."""
    rng = np.random.default_rng(0)
    q = rotation(rng, 5)
    a, b = np.array([1.0, 2.0, 0.5, 3.0, 0.2]), np.array([2.0, 0.3, 0.5, 1.0, 4.0])
    mean_a, mean_b = rng.normal(size=5), rng.normal(size=5)
    fa = gaussian_features(rng, mean_a, q @ np.diag(a) @ q.T, 400)
    fb = gaussian_features(rng, mean_b, q @ np.diag(b) @ q.T, 300)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(fa, fb) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_the_closed_form_for_non_commuting_covariances():
    """2 x 2: Tr (S1 S2)^1/2 = sqrt(Tr(S1 S2) + 2 sqrt(det(S1 S2))) (the product's eigenvalues are positive)."""
    rng = np.random.default_rng(1)
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[0.5, -0.3], [-0.3, 3.0]])
    fa = gaussian_features(rng, np.array([1.0, -2.0]), s1, 200)
    fb = gaussian_features(rng, np.array([0.0, 0.5]), s2, 250)
    product = s1 @ s2
    trace_root = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    expected = 1.0 + 2.5**2 + np.trace(s1) + np.trace(s2) - 2 * trace_root
    assert frechet_distance(fa, fb) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_a_set_with_itself_is_zero_not_clamped():
    """With no clamp a sign error shows: identical sets give 0 within round-off, shifted ones the shift squared."""
    rng = np.random.default_rng(2)
    fa = gaussian_features(rng, np.zeros(4), np.eye(4) + 0.3, 100)
    assert abs(frechet_distance(fa, fa)) < 1e-9
    assert frechet_distance(fa, fa + 0.5) == pytest.approx(4 * 0.25, rel=1e-9)


def kid_by_definition(a: np.ndarray, b: np.ndarray) -> float:
    """The unbiased MMD^2 written out pair by pair (i != j within a set)."""
    d = a.shape[1]
    k = lambda x, y: (float(np.dot(x, y)) / d + 1) ** 3  # noqa: E731
    m, n = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x, y) for x in a for y in b) / (m * n)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_with_the_cubic_kernel():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 3)), rng.normal(1.0, 2.0, size=(9, 3))
    assert kernel_inception_distance(a, b) == pytest.approx(kid_by_definition(a, b), rel=1e-12)


def expected_kernel(mean_x, cov_x, mean_y, cov_y) -> float:
    """E (x.y / d + 1)^3 for independent Gaussians, from their first three moments (Isserlis)."""
    d = len(mean_x)

    def moments(mean, cov):
        second = cov + np.outer(mean, mean)
        third = np.einsum("i,j,k->ijk", mean, mean, mean) + sum(
            np.einsum(spec, mean, cov) for spec in ("i,jk->ijk", "j,ik->ijk", "k,ij->ijk")
        )
        return mean, second, third

    m1x, m2x, m3x = moments(mean_x, cov_x)
    m1y, m2y, m3y = moments(mean_y, cov_y)
    u1, u2, u3 = m1x @ m1y, np.sum(m2x * m2y), np.sum(m3x * m3y)  # E (x.y)^k, k = 1, 2, 3
    return u3 / d**3 + 3 * u2 / d**2 + 3 * u1 / d + 1


def test_kid_matches_the_gaussian_expectation():
    """Unbiased: KID estimates MMD^2 of the Gaussians. Tolerance 15 %: the estimate's standard deviation at this
    sample size is 3.0 % of the value (20 seeds), so 5 standard deviations; a quadratic or quartic kernel is off
    by 63 % and 174 %, a kernel without the 1/d scaling by a factor of 11."""
    rng = np.random.default_rng(4)
    q = rotation(rng, 3)
    mean_x, cov_x = np.array([0.5, -0.2, 1.0]), q @ np.diag([1.0, 0.5, 0.2]) @ q.T
    mean_y, cov_y = np.array([1.5, 0.4, 0.0]), np.diag([0.3, 1.2, 0.8])
    x = rng.multivariate_normal(mean_x, cov_x, 3000)
    y = rng.multivariate_normal(mean_y, cov_y, 3000)
    expected = (
        expected_kernel(mean_x, cov_x, mean_x, cov_x)
        + expected_kernel(mean_y, cov_y, mean_y, cov_y)
        - 2 * expected_kernel(mean_x, cov_x, mean_y, cov_y)
    )
    assert kernel_inception_distance(x, y) == pytest.approx(expected, rel=0.15)
    assert abs(kernel_inception_distance(x[:1500], x[1500:])) < 0.15 * expected  # one distribution: about 0
