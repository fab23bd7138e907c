"""deepvis.cache: results keyed by their inputs and the code, never loaded when damaged."""

import keras
import numpy as np
import pytest

from deepvis.cache import ResultCache, array_digest, model_digest


class Counter:
    """A computation that counts its calls and returns a fresh array each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict:
        self.calls += 1
        return {"value": np.arange(3) * self.calls}


@pytest.fixture
def cache(project_home):
    return ResultCache("test", ["json"])


def test_second_call_loads_without_computing(cache, project_home):
    compute = Counter()
    first = cache.cached("r", {"n": 1}, compute)
    second = cache.cached("r", {"n": 1}, compute)
    assert compute.calls == 1
    np.testing.assert_array_equal(second["value"], first["value"])
    entries = list((project_home / "data" / "cache" / "test").iterdir())
    assert [p.name for p in entries] == [cache.path("r", {"n": 1}).name]


def test_any_change_of_the_key_recomputes(cache):
    compute = Counter()
    cache.cached("r", {"n": 1, "x": np.zeros(2, np.float32)}, compute)
    cache.cached("r", {"n": 2, "x": np.zeros(2, np.float32)}, compute)
    cache.cached("r", {"n": 1, "x": np.zeros(2, np.float64)}, compute)  # same values, new dtype
    cache.cached("other", {"n": 1, "x": np.zeros(2, np.float32)}, compute)
    assert compute.calls == 4


def test_the_code_modules_are_part_of_the_key(project_home):
    key = {"n": 1}
    assert ResultCache("a", ["json"]).key_of(key) != ResultCache("a", ["csv"]).key_of(key)
    assert ResultCache("a", ["json"]).key_of(key) == ResultCache("b", ["json"]).key_of(key)


def test_a_damaged_entry_is_reported_and_recomputed(cache, capsys):
    compute = Counter()
    cache.cached("r", {"n": 1}, compute)
    path = cache.path("r", {"n": 1})
    path.write_bytes(path.read_bytes()[:-5])  # truncated
    result = cache.cached("r", {"n": 1}, compute)
    assert compute.calls == 2
    np.testing.assert_array_equal(result["value"], [0, 2, 4])
    err = capsys.readouterr().err
    assert "is damaged; recomputing it" in err and len(err.strip().splitlines()) == 1
    assert cache.cached("r", {"n": 1}, compute)["value"][1] == 2  # the rewrite loads again
    assert compute.calls == 2


def test_array_digest_tells_apart_bytes_shape_and_dtype():
    a = np.arange(6, dtype=np.float32)
    digests = {
        array_digest(a),
        array_digest(a.reshape(2, 3)),
        array_digest(a.astype(np.float64)),
        array_digest(a + 1),
        array_digest(a, a),
    }
    assert len(digests) == 5
    assert array_digest(a) == array_digest(a.copy())


def test_model_digest_follows_the_weights():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    assert model_digest(twin) == model_digest(model)
    twin.set_weights([w + 1 for w in model.get_weights()])
    changed = keras.models.clone_model(model)
    changed.set_weights(twin.get_weights())
    assert model_digest(changed) != model_digest(model)


def test_a_key_of_another_type_is_refused(cache):
    with pytest.raises(TypeError, match="cannot key a cache entry on object"):
        cache.key_of({"x": object()})
