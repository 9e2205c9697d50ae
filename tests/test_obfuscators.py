import numpy as np
import pytest
from scipy import stats

import privis
from privis.errors import PrivisError
from privis.obfuscate import create_obfuscator
from privis.obfuscate.blur import Blur
from privis.obfuscate.dp_pixelate import DPPixelate
from privis.obfuscate.pixelate import Pixelate
from tests.conftest import mock_regions

METHODS = {
    "blur": {},
    "pixelate": {},
    "fill": {"color": (255, 0, 255)},
    "dp-pixelate": {"epsilon": 0.5, "seed": 1},
    "remove": {"grow": 0},
}


def _image(dtype, channels, rng=np.random.default_rng(3)):
    shape = (48, 64) if channels == 0 else (48, 64, channels)
    if dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, np.iinfo(dtype).max, shape, dtype=np.uint64).astype(dtype)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [0, 3, 4])
def test_shape_dtype_and_input_untouched(method, dtype, channels):
    img = _image(dtype, channels)
    before = img.copy()
    regions = mock_regions([[10, 8, 40, 40]])
    obf = create_obfuscator(method, shape="box", **METHODS[method])
    out = obf.apply(img, regions)
    assert out.shape == img.shape and out.dtype == img.dtype
    np.testing.assert_array_equal(img, before)
    outside = np.ones(img.shape[:2], bool)
    outside[8:40, 10:40] = False
    np.testing.assert_array_equal(out[outside], img[outside])
    changed = np.any((out != img).reshape(48, 64, -1), axis=-1)[8:40, 10:40]
    assert changed.mean() > 0.5, f"{method} left most of the region as it was"


def test_fill_leaves_no_original_pixel_and_respects_shape(noise_image):
    regions = mock_regions([[5, 5, 45, 35], [50, 10, 70, 50]])
    box = privis.create_obfuscator("fill", color=(1, 2, 3), shape="box").apply(noise_image, regions)
    assert np.all(box[5:35, 5:45] == [1, 2, 3]) and np.all(box[10:50, 50:70] == [1, 2, 3])
    ell = privis.create_obfuscator("fill", color=(1, 2, 3), shape="ellipse").apply(noise_image, regions)
    assert np.all(ell[20, 25] == [1, 2, 3])
    np.testing.assert_array_equal(ell[5, 5], noise_image[5, 5])  # corner lies outside the ellipse


def _slow_cell_means(patch, cell):
    out = np.empty(patch.shape, np.float64)
    for y in range(0, patch.shape[0], cell):
        for x in range(0, patch.shape[1], cell):
            block = patch[y : y + cell, x : x + cell].astype(np.float64)
            out[y : y + cell, x : x + cell] = block.reshape(-1, patch.shape[2]).mean(axis=0)
    return out


@pytest.mark.parametrize("cell", [1, 3, 5, 16])
def test_pixelate_is_true_cell_means(noise_image, cell):
    regions = mock_regions([[7, 4, 30, 21]])  # 23 x 17 px: partial edge cells
    out = Pixelate(cell=cell, shape="box").apply(noise_image, regions)
    expected = np.rint(_slow_cell_means(noise_image[4:21, 7:30], cell))
    np.testing.assert_array_equal(out[4:21, 7:30], expected.astype(np.uint8))


def test_pixelate_cell_scales_with_region():
    p = Pixelate(cells=8)
    assert p.cell_size(16, 16) == 2 and p.cell_size(160, 120) == 20
    assert Pixelate(cell=16).cell_size(500, 500) == 16


def test_blur_sigma_has_floor_and_scales():
    b = Blur(strength=0.2, min_sigma=3)
    assert b.sigma(8, 8) == 3 and b.sigma(100, 50) == pytest.approx(20)


def test_blur_hides_detail_in_small_and_large_regions():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (400, 400), dtype=np.uint8)
    for box in ([10, 10, 20, 20], [50, 50, 350, 350]):
        out = Blur(shape="box").apply(img, mock_regions([box]))
        x1, y1, x2, y2 = box
        # White noise has std ~74; a blur with sigma >= 3 px leaves well under a third of it.
        assert out[y1:y2, x1:x2].std() < 25


def test_dp_pixelate_noise_scale_formula():
    dp = DPPixelate(epsilon=0.1, cell=16, m=16)
    assert dp.noise_scale() == pytest.approx(255 * 16 / (16 * 16 * 0.1))
    assert dp.noise_scale(64) == pytest.approx(255 * 16 / (64 * 0.1))


def test_dp_pixelate_noise_is_laplace_with_the_stated_scale():
    # A constant float image in [0, 1]: output cell value - 0.5 is the noise itself.
    img = np.full((512, 512, 3), 0.5, np.float32)
    eps = 3 / (256 * 0.06)  # m=1, b=16, 3 channels -> scale 0.06 (no clipping in practice)
    dp = DPPixelate(epsilon=eps, cell=16, m=1, seed=7, shape="box")
    out = dp.apply(img, mock_regions([[0, 0, 512, 512]]))
    cells = out[::16, ::16].reshape(-1) - 0.5
    # Each 16x16 cell carries one value.
    assert np.all(out[:16, :16] == out[0, 0])
    scale = dp.noise_scale(peak=1.0, channels=3)
    assert scale == pytest.approx(0.06)
    assert np.mean(np.abs(cells)) == pytest.approx(scale, rel=0.08)
    assert stats.kstest(cells, "laplace", args=(0, scale)).pvalue > 1e-3
    # Half the budget, twice the noise.
    dp2 = DPPixelate(epsilon=eps / 2, cell=16, m=1, seed=8, shape="box")
    cells2 = dp2.apply(img, mock_regions([[0, 0, 512, 512]]))[::16, ::16].reshape(-1) - 0.5
    assert np.mean(np.abs(cells2)) == pytest.approx(2 * scale, rel=0.08)


def test_dp_pixelate_noise_without_a_seed_comes_from_opendp_at_the_stated_scale(recwarn):
    img = np.full((512, 512), 100, np.uint8)  # grey: one channel
    dp = DPPixelate(epsilon=1.0, cell=16, m=4, shape="box")  # scale 255*4/256 = 3.98 on a cell mean
    cells = dp.apply(img, mock_regions([[0, 0, 512, 512]]))[::16, ::16].astype(float).reshape(-1) - 100
    assert dp._rng is None and not recwarn.list  # no seed: OpenDP's secure source, no warning
    assert np.mean(np.abs(cells)) == pytest.approx(dp.noise_scale(), rel=0.12)
    with pytest.warns(UserWarning, match="not private"):
        DPPixelate(epsilon=1.0, seed=3)


def test_dp_pixelate_edge_cells_get_larger_noise():
    # Region 20 px wide: full 16x16 cells (256 px) and 4x16 edge cells (64 px) -> 4x the scale.
    img = np.full((16 * 2000, 20), 0.5, np.float32)
    dp = DPPixelate(epsilon=1 / (256 * 0.01), cell=16, m=1, seed=0, shape="box")
    out = dp.apply(img, mock_regions([[0, 0, 20, 16 * 2000]]))
    full = np.abs(out[::16, 0] - 0.5).mean()
    edge = np.abs(out[::16, 16] - 0.5).mean()
    assert full == pytest.approx(0.01, rel=0.1)
    assert edge / full == pytest.approx(4.0, rel=0.15)


def test_dp_pixelate_records_its_parameters():
    assert DPPixelate(epsilon=0.2, cell=8, m=4).params() == {"epsilon": 0.2, "cell": 8, "m": 4}


@pytest.mark.parametrize(
    ("method", "params", "match"),
    [
        ("dp-pixelate", {"epsilon": 0}, "epsilon must be > 0"),
        ("dp-pixelate", {"cell": 2.5}, "cell must be a whole number"),
        ("pixelate", {"cell": -1}, "cell must be > 0"),
        ("blur", {"strength": 0}, "strength must be > 0"),
        ("fill", {"color": (300, 0, 0)}, "0..255"),
        ("fill", {"shape": "star"}, "shape must be one of"),
    ],
)
def test_bad_parameters(method, params, match):
    with pytest.raises(PrivisError, match=match):
        create_obfuscator(method, **params)


def test_obfuscate_whole_image_api():
    crop = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    out = privis.obfuscate(crop, "pixelate", cell=16)
    assert out.dtype == np.uint16 and len(np.unique(out)) == 16
    out = privis.obfuscate(np.zeros((32, 32, 3), np.uint8), "dp-pixelate", epsilon=0.1, cell=16, m=16, seed=0)
    assert out.shape == (32, 32, 3)


def test_dp_pixelate_is_deterministic_under_a_seed():
    img = np.random.default_rng(0).integers(0, 256, (112, 92), dtype=np.uint8)
    a = privis.obfuscate(img, "dp-pixelate", epsilon=0.5, cell=16, m=16, seed=11)
    b = privis.obfuscate(img, "dp-pixelate", epsilon=0.5, cell=16, m=16, seed=11)
    c = privis.obfuscate(img, "dp-pixelate", epsilon=0.5, cell=16, m=16, seed=12)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.5


def test_dp_pixelate_releases_a_track_once_and_accounts_for_it():
    """A track's face is released once and reused: ε per track, not per frame."""
    rng = np.random.default_rng(0)
    dp = DPPixelate(epsilon=0.5, cell=8, m=4, seed=1, shape="box")
    dp.start_video()
    outs = []
    for _ in range(20):
        frame = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # new pixels every frame
        outs.append(dp.apply(frame, mock_regions([[8, 8, 40, 40]], track_id=[3]))[8:40, 8:40])
    assert all(np.array_equal(outs[0], o) for o in outs[1:])  # fresh noise would average away
    assert dp.track_ledger() == {3: {"frames": 20, "releases": 1, "epsilon_spent": 0.5}}
    # a larger box later in the track shows the same cells, stretched: no new release
    bigger = dp.apply(np.zeros((64, 64, 3), np.uint8), mock_regions([[0, 0, 64, 64]], track_id=[3]))
    np.testing.assert_array_equal(bigger[::2, ::2], outs[0])
    # untracked regions (images) are released afresh each time
    a, b = (dp.apply(np.zeros((32, 32, 3), np.uint8), mock_regions([[0, 0, 32, 32]])) for _ in range(2))
    assert not np.array_equal(a, b)
    dp.start_video()
    assert dp.track_ledger() == {}


def test_dp_pixelate_refresh_spends_per_release_within_the_track_budget():
    frame = np.full((32, 32, 3), 100, np.uint8)
    regions = mock_regions([[0, 0, 32, 32]], track_id=[1])
    dp = DPPixelate(epsilon=0.5, cell=8, refresh=5, seed=0, shape="box")
    for _ in range(20):
        dp.apply(frame, regions)
    assert dp.track_ledger()[1]["releases"] == 4 and dp.track_ledger()[1]["epsilon_spent"] == 2.0
    capped = DPPixelate(epsilon=0.5, cell=8, refresh=5, track_budget=1.2, seed=0, shape="box")
    for _ in range(20):
        capped.apply(frame, regions)
    assert capped.track_ledger()[1] == {"frames": 20, "releases": 2, "epsilon_spent": 1.0}
    assert capped.params() == {"epsilon": 0.5, "cell": 8, "m": 16, "refresh": 5, "track_budget": 1.2}
    with pytest.raises(PrivisError, match="at least epsilon"):
        DPPixelate(epsilon=0.5, track_budget=0.1)
