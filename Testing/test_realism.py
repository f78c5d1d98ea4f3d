"""Scanner variation of fixed-contrast training MR (training.realism): each draw changes what it says it
changes, a seed repeats it, and probability 0 leaves training exactly as without it."""

from __future__ import annotations

import numpy as np
import pytest

from MRtoCTTranslationLib.training.data import Pair, network_inputs
from MRtoCTTranslationLib.training.realism import (
    MRRealism,
    bias_field,
    map_with_random_fov,
    rescale_together,
    vary_acquisition,
)
from SpineCoreLib.intensity import CTMapping, MRMapping


def volume(shape=(20, 24, 28)) -> np.ndarray:
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return (100 + 400 * ((x // 7 + y // 6 + z // 5) % 3)).astype(np.float32)  # three tissues in blocks


def test_a_seed_repeats_a_draw_and_another_seed_changes_it():
    cfg, mr = MRRealism(probability=1.0), volume()
    a = vary_acquisition(mr, cfg, np.random.default_rng(5))
    b = vary_acquisition(mr, cfg, np.random.default_rng(5))
    c = vary_acquisition(mr, cfg, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.shape == mr.shape and a.dtype == np.float32 and np.all(np.isfinite(a)) and a.min() >= 0


def test_with_every_range_zero_only_the_scaling_to_unit_range_remains():
    cfg = MRRealism(probability=1.0, gamma=0.0, bias=0.0, noise=0.0, blur=0.0, thick_slices=1, fov=0.0, scale=0.0)
    mr = volume()
    out = vary_acquisition(mr, cfg, np.random.default_rng(0))
    lo, hi = np.percentile(mr, [0.0, 99.9])
    assert np.allclose(out, (mr - lo) / (hi - lo), atol=1e-6)
    mapping = MRMapping()
    assert np.array_equal(map_with_random_fov(mr, mapping, cfg, np.random.default_rng(0)), mapping.forward(mr))
    same = rescale_together([mr, mr + 1], cfg, np.random.default_rng(0))
    assert np.array_equal(same[0], mr) and np.array_equal(same[1], mr + 1)


def test_the_bias_field_is_smooth_and_has_the_asked_strength():
    f = bias_field((32, 32, 32), 0.3, np.random.default_rng(1))
    assert f.shape == (32, 32, 32) and f.min() > 0
    assert 0.05 < np.log(f).std() < 0.6
    assert np.abs(np.diff(np.log(f), axis=0)).max() < 0.15  # smooth: no voxel-to-voxel jumps


def test_a_smaller_field_of_view_changes_the_normalisation():
    mr, mapping = volume(), MRMapping()
    mr[:, :, :6] = 2000.0  # a bright structure at one edge that a cropped field of view may leave out
    cfg = MRRealism(probability=1.0, fov=0.5)
    outs = [map_with_random_fov(mr, mapping, cfg, np.random.default_rng(s)) for s in range(16)]
    highs = {round(float(o.max()), 3) for o in outs}
    assert len(highs) > 1  # different crops give different percentiles, on the whole volume's shape
    assert all(o.shape == mr.shape for o in outs)


def test_rescaling_keeps_mr_and_ct_aligned():
    mr = volume()
    ct = mr * 2 - 5
    a, b = rescale_together([mr, ct], MRRealism(probability=1.0, scale=0.2), np.random.default_rng(3))
    assert a.shape == b.shape and a.shape != mr.shape
    assert np.allclose(b, a * 2 - 5, atol=1e-3)  # linear interpolation of a linear map: still aligned


def test_probability_zero_is_training_as_before_and_one_always_varies():
    mr_map, ct_map = MRMapping(), CTMapping()
    p = Pair("s", [volume()], volume() - 300, None, None)
    plain = network_inputs(p, "fixed", np.random.default_rng(0), mr_map, ct_map)
    off = network_inputs(p, "fixed", np.random.default_rng(0), mr_map, ct_map, MRRealism(probability=0.0))
    assert all(np.array_equal(x, y) for x, y in zip(plain, off, strict=True))
    on = network_inputs(p, "fixed", np.random.default_rng(0), mr_map, ct_map, MRRealism(probability=1.0))
    assert not (on[0].shape == plain[0].shape and np.allclose(on[0], plain[0]))
    assert on[0].shape == on[1].shape


@pytest.mark.parametrize(("raw", "needle"), [
    ({"probability": -0.1}, "probability -0.1 must be between 0 and 1"),
    ({"bias": 9}, "bias 9.0 is out of range"),
    ({"scale": 0.6}, "scale 0.6 is out of range (0 to 0.5)"),
    ({"fov": 1.0}, "fov 1.0 must be at least 0 and below 1"),
    ({"noize": 0.1}, "unknown keys ['noize']"),
])
def test_bad_settings_are_named(raw, needle):
    with pytest.raises(ValueError) as err:
        MRRealism.from_json(raw)
    assert needle in str(err.value)
