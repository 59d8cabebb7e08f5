"""The calibrated novelty score: quiet on patterns already seen, loud on what the series never showed;
alarms: one per anomaly, none on clean series of many shapes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from apexflow.detect.generic import novelty

N, ONSET = 20_000, 12_000
DAY = 86_400.0


def periodic(kind: str, noise: float, seed: int = 0, period: float | None = None):
    """A sine of period 100 rows (1 row a second), or a daily square wave sampled every 5 minutes."""
    rng = np.random.default_rng(seed)
    idx = np.arange(N)
    if kind == "sine":
        t = idx * 1.0
        x = 10 * np.sin(2 * np.pi * idx / 100)
    else:
        t = 1.7e9 + idx * 300.0
        phase = (t % DAY) / DAY
        x = np.where((phase > 0.33) & (phase < 0.75), 10.0, 0.0)
    return t, x + (rng.normal(0, noise, N) if noise else 0.0)


def faster(kind: str, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The same series whose period shrinks from ``ONSET`` on (100 -> 60 rows; a day -> 12 hours)."""
    y = x.copy()
    rest = np.arange(ONSET, N)
    if kind == "sine":
        y[ONSET:] += 10 * np.sin(2 * np.pi * rest / 60) - 10 * np.sin(2 * np.pi * rest / 100)
    else:
        day, half = (t[ONSET:] % DAY) / DAY, ((t[ONSET:] - t[ONSET]) % (DAY / 2)) / (DAY / 2)
        y[ONSET:] += (np.where((half > 0.33) & (half < 0.75), 10.0, 0.0)
                      - np.where((day > 0.33) & (day < 0.75), 10.0, 0.0))
    return y


def scores(t, x, block: int | None = None, key: str = "score") -> np.ndarray:
    x = np.atleast_2d(x)
    names = [f"c{i}" for i in range(len(x))]
    if block is None:
        return novelty.process({}, t, x, names, want_scores=True)[1][key]
    state: dict = {}
    out = []
    for a in range(0, len(t), block):
        out.append(novelty.process(state, t[a:a + block], x[:, a:a + block], names, want_scores=True)[1][key])
    return np.concatenate(out)


def alarms(t, x, block: int = 50_000) -> np.ndarray:
    return np.flatnonzero(scores(t, x, block, key="alarm"))


CASES = [(k, s) for k in ("sine", "square") for s in (0.0, 0.5)]


@pytest.mark.parametrize("kind,noise", CASES)
def test_clean_periodic_series_stay_quiet(kind, noise):
    s = scores(*periodic(kind, noise))
    assert (s[:novelty.WARMUP] == 0).all()
    assert (s[novelty.WARMUP:] > 0.5).mean() <= 0.001


@pytest.mark.parametrize("plant", ["spike", "level shift", "faster period"])
@pytest.mark.parametrize("kind,noise", CASES)
def test_planted_anomalies_get_the_top_scores(kind, noise, plant):
    t, x = periodic(kind, noise)
    y = x.copy()
    if plant == "spike":
        y[ONSET] += 6.0
    elif plant == "level shift":
        y[ONSET:] += 5.0
    else:
        y = faster(kind, t, x)
    s = scores(t, y)
    found = s[ONSET:ONSET + 300].max()
    assert found > s[novelty.WARMUP:ONSET].max()
    raised = alarms(t, y)
    assert not len(raised) or raised[0] >= ONSET  # nothing before it
    if (noise, plant) != (0.5, "spike"):  # +6 inside the noisy wave's range: ~0.45, a warning, no alarm
        assert found >= 0.5
        assert ((raised >= ONSET) & (raised <= ONSET + 300)).sum() == 1  # one alarm, not a storm
        assert raised[0] <= ONSET + (5 if plant != "faster period" else 300)


def test_a_slower_period_is_found_too():
    t, x = periodic("sine", 0.2)
    rest = np.arange(ONSET, N)
    x[ONSET:] += 10 * np.sin(2 * np.pi * rest / 150) - 10 * np.sin(2 * np.pi * rest / 100)
    s = scores(t, x)
    assert s[ONSET:ONSET + 300].max() >= 0.5 > s[novelty.WARMUP:ONSET].max()


def test_score_falls_once_normal_again_or_the_new_normal():
    t, x = periodic("sine", 0.5, seed=3)
    back = x.copy()
    back[ONSET:ONSET + 200] += 8.0  # an excursion that ends
    s = scores(t, back)
    assert s[ONSET:ONSET + 200].max() >= 0.9
    assert (s[ONSET + 300:] < 0.5).mean() > 0.999
    assert list(alarms(t, back)) == [ONSET]  # raised once, on its first row
    stays = x.copy()
    stays[ONSET:] += 8.0  # a level that stays: novel at first, then the new normal
    s = scores(t, stays)
    assert s[ONSET:ONSET + 50].max() >= 0.9
    assert (s[ONSET + 1500:] < 0.5).mean() > 0.999
    assert list(alarms(t, stays)) == [ONSET]


def test_a_persistent_abnormal_state_is_one_anomaly():
    """A quantised flow that mostly reads 32 starts reading 31 half the time: a valve closing."""
    rng = np.random.default_rng(5)
    t = np.arange(1200) * 1.0
    flow = np.where(rng.random(1200) < 0.1, 33.0, 32.0)
    flow[700:1000] = np.where(rng.random(300) < 0.5, 31.0, 32.0)
    s = scores(t, flow)
    assert (s[:700] >= 0.5).mean() < 0.05
    assert (s[730:1000] >= 0.5).mean() > 0.8
    assert (s[1030:] < 0.5).all()
    raised = alarms(t, flow)
    assert len(raised) == 1 and 700 <= raised[0] <= 730


def test_any_split_with_json_state_gives_the_same_scores_and_events():
    rng = np.random.default_rng(1)
    n = 3000
    t = 1.7e9 + np.arange(n) * 60.0
    x = np.vstack([np.sin(np.arange(n) / 30), rng.normal(0, 1, n), np.round(rng.normal(5, 1, n))])
    x[1, 2000] += 9.0
    x[0, 2500:] += 2.0
    names = ["a", "b", "c"]
    events, whole = novelty.process({}, t, x, names, want_scores=True)
    for cuts in ([1, 255, 256, 257, 1000], sorted(rng.choice(np.arange(1, n), 40, replace=False))):
        state, got, found = {}, [], []
        for part in np.split(np.arange(n), cuts):
            ev, sc = novelty.process(state, t[part], x[:, part], names, want_scores=True)
            got.append(sc["score"])
            found += ev
            state = json.loads(json.dumps(novelty.freeze(state)))
        assert np.array_equal(np.concatenate(got), whole["score"])
        assert found == events


def test_no_look_ahead():
    t, x = periodic("sine", 0.5, seed=2)
    full = scores(t[:5000], x[:5000])
    for cut in (300, 1777, 4000):
        assert np.array_equal(scores(t[:cut], x[:cut]), full[:cut])


def test_state_stays_the_same_size_however_long_the_stream():
    rng = np.random.default_rng(4)
    n = 80_000
    t = np.arange(n) * 1.0
    x = np.vstack([rng.normal(0, 1, n), np.sin(np.arange(n) / 40) + rng.normal(0, 0.1, n)])
    sizes = []
    state: dict = {}
    for a in range(0, n, 20_000):
        novelty.process(state, t[a:a + 20_000], x[:, a:a + 20_000], ["a", "b"])
        sizes.append(len(json.dumps(novelty.freeze(state))))
    assert max(sizes[1:]) < 1.25 * sizes[1]


def test_many_channels_are_scored_jointly_and_the_driver_named():
    rng = np.random.default_rng(6)
    n = 4000
    t = np.arange(n) * 10.0
    x = np.vstack([20 + rng.normal(0, 1, n), 5 + np.sin(np.arange(n) / 20), 100 + rng.normal(0, 3, n)])
    x[1, 3000] += 4.0
    events, sc = novelty.process({}, t, x, ["temp", "vib", "pressure"], want_scores=True)
    assert sc["score"][3000] >= 0.5 and sc["driver"][3000] == 1 and sc["alarm"][3000] == 1
    hit = [e for e in events if e["t_start"] == t[3000]]
    assert hit and hit[0]["channel"] == "vib" and hit[0]["evidence"]["channels"][0] == "vib"
    assert hit[0]["evidence"]["shape"] == "spike"


N_CLEAN = 20_000


def clean(shape: str, seed: int):
    """Clean series of shapes other industries live with (rows a minute apart unless said)."""
    rng = np.random.default_rng(seed)
    i = np.arange(N_CLEAN, dtype=np.float64)
    t = 1.7e9 + 60.0 * i
    if shape == "bursty counts":
        burst = np.convolve(rng.random(N_CLEAN) < 0.01, np.ones(4), mode="same") > 0
        return t, rng.poisson(np.where(burst, 25.0, 3.0)).astype(np.float64)
    if shape == "random walk":
        return t, 100.0 + np.cumsum(rng.normal(0.0, 1.0, N_CLEAN))
    if shape == "noisy daily":
        t = 1.7e9 + 300.0 * i
        return t, 50.0 + 20.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0.0, 3.0, N_CLEAN)
    if shape == "weekly":
        t = 1.7e9 + 3600.0 * i
        weekend = ((t % (7 * DAY)) / DAY) >= 5.0
        return t, (100.0 + 40.0 * np.sin(2 * np.pi * t / DAY) * np.where(weekend, 0.4, 1.0) - 30.0 * weekend
                   + rng.normal(0.0, 4.0, N_CLEAN))
    if shape == "irregular":
        t = 1.7e9 + np.cumsum(rng.exponential(120.0, N_CLEAN) + 10.0)
        return t, 20.0 + 5.0 * np.sin(2 * np.pi * t / DAY) + rng.normal(0.0, 1.0, N_CLEAN)
    raise ValueError(shape)


@pytest.mark.parametrize("shape", ["bursty counts", "random walk", "noisy daily", "weekly", "irregular"])
def test_clean_series_of_other_shapes_raise_almost_no_alarm(shape):
    found = sum(len(alarms(*clean(shape, seed))) for seed in (1, 2))
    assert found / (2 * N_CLEAN) * 10_000 <= 3.0  # alarm onsets per 10,000 rows


@pytest.mark.parametrize("shape", ["noisy daily", "weekly", "irregular", "random walk"])
def test_a_spike_and_a_level_shift_planted_in_them_are_raised_within_5_rows(shape):
    t, x = clean(shape, 3)
    before = x[ONSET - 2000:ONSET]
    size = max(0.5 * (np.percentile(before, 99) - np.percentile(before, 1)), 8 * np.std(np.diff(before)))
    spike, shift = x.copy(), x.copy()
    spike[ONSET] = before.max() + size
    shift[ONSET:] += size
    for y in (spike, shift):
        raised = alarms(t, y)
        assert ((raised >= ONSET) & (raised <= ONSET + 5)).sum() == 1


def test_gaussian_noise_raises_almost_nothing_and_noisier_for_good_becomes_the_new_normal():
    rng = np.random.default_rng(11)
    n = 200_000
    t = np.arange(n) * 1.0
    assert len(alarms(t, rng.normal(0.0, 1.0, n))) <= 5  # 467 anomalies in 500,000 rows before calibration
    x = rng.normal(0.0, 1.0, 40_000)
    x[10_000:] *= 5.0  # five times noisier, for good
    raised = alarms(np.arange(40_000) * 1.0, x)
    assert ((raised >= 10_000) & (raised <= 10_010)).sum() == 1  # raised at once ...
    assert (raised > 20_000).sum() == 0  # ... then the new normal


def test_no_alarm_during_the_probation():
    rng = np.random.default_rng(12)
    x = rng.normal(0.0, 1.0, 2000)
    x[300] += 50.0  # scored, but in the probation
    x[1500] += 50.0
    t = np.arange(2000) * 1.0
    assert scores(t, x)[300] >= 0.5
    assert list(alarms(t, x)) == [1500]


def test_the_ingest_path_stores_one_detection_per_anomaly():
    """Through the pipeline's chunk detector, chunk by chunk with the state packed between them: a level
    shift, its return 1,000 rows later and a spike after it are three `anomaly` detections (each reported
    when raised and again, same id, when it ends), starting at the rows the alarms name: one anomaly does
    not teach the series to ignore the next."""
    from apexflow.chunk import Chunk
    from apexflow.detect.base import Context
    from apexflow.detect.generic import run_novelty

    rng = np.random.default_rng(13)
    n = 6000
    t = np.arange(n) * 10.0
    x = 20.0 + np.sin(np.arange(n) / 30.0) + rng.normal(0.0, 0.2, n)
    x[2500:3500] += 6.0
    x[5000] += 8.0
    ctx = Context("s", "pump", {})
    state: dict = {}
    found = {}
    for seq, a in enumerate(range(0, n, 700)):
        chunk = Chunk("s", "pump", seq, t[a:a + 700], {"flow": x[a:a + 700].astype(np.float32)}, {"flow": "l/min"})
        for d in run_novelty(chunk, state, ctx):
            found[d.detection_id] = d  # upserted by id, as the database does
        state = json.loads(json.dumps(state))
    raised = alarms(t, x.astype(np.float32).astype(np.float64)[None])
    assert sorted(d.t_start for d in found.values()) == list(t[raised])
    assert {d.kind for d in found.values()} == {"anomaly"} and len(raised) == 3
    assert 2500 <= raised[0] <= 2505 and 3500 <= raised[1] <= 3510 and raised[2] == 5000
