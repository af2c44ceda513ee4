import numpy as np

from veriscope.signals import ai_traces


def _noise(h=256, w=256, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_npr_residual_is_zero_on_a_nearest_upsampled_picture_and_not_on_noise():
    low = _noise(64, 48)
    up = np.repeat(np.repeat(low, 2, axis=0), 2, axis=1)
    r = ai_traces.npr_residual(up)
    assert r.shape == (3, 128, 96)
    assert np.abs(r).max() == 0.0
    assert np.abs(ai_traces.npr_residual(_noise(65, 51))).mean() > 0.5
    assert ai_traces.npr_residual(_noise(65, 51)).shape == (3, 64, 50)  # trimmed to even sides


def test_trace_features_are_finite_and_named():
    f = ai_traces.trace_features(_noise())
    assert f.shape == (len(ai_traces.FEATURE_NAMES),)
    assert np.isfinite(f).all()
    g = ai_traces.trace_features(np.full((128, 128, 3), 90, np.uint8))  # flat: no NaN either
    assert np.isfinite(g).all()


def test_periodic_peak_features_see_an_8_pixel_period():
    rng = np.random.default_rng(1)
    base = rng.normal(128, 12, (256, 256))
    y, x = np.mgrid[0:256, 0:256]
    periodic = base + 6 * ((x % 8 == 0) | (y % 8 == 0))
    names = list(ai_traces.FEATURE_NAMES)
    a = ai_traces.trace_features(np.clip(np.stack([base] * 3, -1), 0, 255))
    b = ai_traces.trace_features(np.clip(np.stack([periodic] * 3, -1), 0, 255))
    assert b[names.index("peak8_max")] > a[names.index("peak8_max")] + 2.0


def test_cfa_feature_sees_a_bayer_interpolated_green_channel():
    rng = np.random.default_rng(2)
    img = rng.normal(128, 20, (256, 256, 3))
    g = img[..., 1].copy()
    # green sampled on a quincunx, the other half interpolated from 4 neighbours
    interp = (np.roll(g, 1, 0) + np.roll(g, -1, 0) + np.roll(g, 1, 1) + np.roll(g, -1, 1)) / 4
    y, x = np.mgrid[0:256, 0:256]
    demosaiced = img.copy()
    demosaiced[..., 1] = np.where((x + y) % 2 == 1, interp, g)
    names = list(ai_traces.FEATURE_NAMES)
    i = names.index("cfa_nyquist")
    assert ai_traces.trace_features(demosaiced)[i] > ai_traces.trace_features(img)[i] + 1.0


def test_crop_grid_is_even_bounded_and_inside():
    c = ai_traces.crop_grid(3000, 4000, 256, 4)
    assert len(c) == 4
    for y, x in c:
        assert y % 2 == 0 and x % 2 == 0
        assert 0 <= y <= 3000 - 256 and 0 <= x <= 4000 - 256
    assert ai_traces.crop_grid(100, 4000, 256, 4) == []
    assert len(ai_traces.crop_grid(600, 600, 256, 10)) == 4
