"""The field per minute (``detect.field.Minutes``, ``Timeline``): a sample sees the minutes before its own."""
import numpy as np

from apexflow.chunk import Chunk
from apexflow.detect.field import MIN_SAMPLES, Minutes, Profile, Timeline


def lap_chunk(t0: float, seconds: float, speed: float, brake: float = 0.0, entity: str = "car") -> Chunk:
    """A car at ``speed`` km/h for ``seconds`` from ``t0``, 4 samples a second, over the first 50 m bin only."""
    t = t0 + np.arange(0, seconds, 0.25)
    values = {"Speed": np.full(len(t), speed, np.float32), "Brake": np.full(len(t), brake, np.float32),
              "Distance": np.full(len(t), 10.0, np.float32)}
    return Chunk("s", entity, 0, t, values, {"Speed": "km/h", "Brake": "bool", "Distance": "m"})


def test_a_sample_sees_the_field_of_the_minutes_before_its_own_only():
    minutes = Minutes()
    for c in (lap_chunk(0, 30, 300.0), lap_chunk(60, 30, 200.0), lap_chunk(120, 30, 100.0, brake=1.0)):
        minutes.add_chunk(c)
    field = Timeline(None, minutes)
    assert field.at(0, t=59.0) is None  # the first minute has no field before it
    assert field.at(0, t=61.0) == (0.0, 300.0)  # minute 1 sees minute 0 alone, not its own 200 km/h
    assert field.at(0, t=150.0) == (0.0, 250.0)  # minute 2 sees minutes 0 and 1, not the braking after
    assert field.at(0, t=9_999.0) == field.at(0) == (1 / 3, 200.0)  # later: everything
    assert field.at(1, t=150.0) is None  # a bin nobody passed


def test_stored_sums_and_a_batch_of_its_own_give_the_same_field_however_split_and_ordered():
    parts = [lap_chunk(10.0 * i, 10, 150.0 + 7 * i, brake=float(i % 3 == 0), entity=f"c{i % 4}") for i in range(30)]
    whole = Minutes()
    for c in parts:
        whole.add_chunk(c)
    stored = Minutes.from_rows(Minutes.from_rows(whole.rows()).rows())  # through the database's rows, twice
    rng = np.random.default_rng(3)
    for _ in range(5):
        order = rng.permutation(len(parts))
        cut = int(rng.integers(1, len(parts)))
        before, batch = Minutes(), Minutes()
        for i in order[:cut]:
            before.add_chunk(parts[i])
        for i in order[cut:]:
            batch.add_chunk(parts[i])
        judged = Timeline(Profile(), before).plus(batch)
        for t in (5.0, 65.0, 130.0, 200.0, 299.0):
            assert judged.at(0, MIN_SAMPLES, t) == Timeline(None, stored).at(0, MIN_SAMPLES, t)
    np.testing.assert_array_equal(stored.sums, whole.sums)
    assert sum(r[2] for r in whole.rows()) == sum(c.n for c in parts)
