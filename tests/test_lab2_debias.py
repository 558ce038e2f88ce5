"""Lab 2 Part 2: the solution notebook's own DB-VAE code (resampling weights, training loop), the
package's given helpers (oracle, evaluation), and the benchmark that measures the notebook's code.

``debiasing_code`` (tests/conftest.py) is the notebook's ``reference`` cells, loaded on its smoke
data and budget: there is no second copy of that code to test instead.
"""

import dataclasses

import numpy as np
import pytest

from mitdeeplearning import debias, faces, seed_spread


def _mu_with_rare_cluster(n=1000, rare=30, d=4, shift=6.0):
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(n, d))
    mu[:rare, 0] += shift
    return mu


def test_histogram_weights_favour_rare_faces(debiasing_code):
    mu = _mu_with_rare_cluster()
    p = debiasing_code.get_training_sample_probabilities(mu, debiasing_code.bins, debiasing_code.smoothing)
    assert p.shape == (1000,) and np.isclose(p.sum(), 1.0) and (p >= 0).all()
    assert p[:30].sum() > 0.1  # 3 % of the faces get far more than 3 % of the draws


def test_pca_variant_finds_the_dominant_direction(debiasing_code):
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(1000, 8)) * 0.3
    direction = rng.normal(size=8)
    direction /= np.linalg.norm(direction)
    mu += np.outer(np.r_[np.full(40, 5.0), rng.normal(size=960)], direction)  # rare faces far along one axis
    p = debiasing_code.get_training_sample_probabilities(debiasing_code.principal_projection(mu, 1), debiasing_code.bins,
                                                         debiasing_code.smoothing)
    assert p[:40].sum() > 0.2


def test_principal_projection(debiasing_code):
    mu = np.random.default_rng(3).normal(size=(500, 5)) * np.array([0.1, 3.0, 0.2, 1.0, 0.1])
    assert debiasing_code.principal_projection(mu, None) is mu
    z = debiasing_code.principal_projection(mu, 2)
    assert z.shape == (500, 2) and np.allclose(z.mean(axis=0), 0)
    assert z[:, 0].std() > 2.5 and 0.7 < z[:, 1].std() < 1.3  # the two largest directions, in order


def test_effective_sample_size_and_oracle():
    assert debias.effective_sample_size(np.ones(50) / 50) == pytest.approx(50)
    darker = np.r_[np.ones(5, bool), np.zeros(95, bool)]
    p = debias.oracle_probabilities(darker, 0.5)
    assert p[darker].sum() == pytest.approx(0.5) and p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both"):
        debias.oracle_probabilities(np.ones(4, bool))


def test_evaluate_groups_counts_recall_per_group():
    labels = np.array([1, 1, 1, 1, 0, 0], np.float32)[:, None]
    groups = np.array([0, 1, 2, 3, -1, -1])
    logits = np.array([5.0, 5.0, -5.0, 5.0, -5.0, 5.0])
    r = debias.evaluate_groups(lambda x: x[:, :1], np.repeat(logits[:, None], 2, axis=1).astype(np.float32), labels, groups)
    assert r["recall"] == [1.0, 1.0, 0.0, 1.0]
    sure, unsure = 1 / (1 + np.exp(-5.0)), 1 / (1 + np.exp(5.0))
    assert r["probability"] == pytest.approx([sure, sure, unsure, sure])
    assert r["nonface_accuracy"] == 0.5 and r["accuracy"] == pytest.approx(4 / 6)
    assert r["gap"] == pytest.approx(50.0)


def test_a_gap_of_exactly_ten_points_is_ten():
    # a standard CNN's recalls in one run (96 and 97 of 100 lighter faces, 86 and 87 darker): in floats
    # the subtraction gives 9.999999999999998, which the lesson's ">= 10 points" counted as below
    assert 100.0 * ((0.96 + 0.97) / 2 - (0.86 + 0.87) / 2) < 10.0
    assert debias.group_gap([0.96, 0.97, 0.86, 0.87]) == 10.0
    assert debias.group_gap([1.0, 1.0, 0.0, 1.0]) == 50.0 and debias.group_gap([0.5, 0.5, 0.75, 0.75]) == -25.0


def test_notebook_training_loop_resamples_on_schedule(debiasing_code):
    code = debiasing_code
    code.loader.seed(0)
    model = code.DB_VAE(code.latent_dim)
    losses, history = code.train_dbvae(model, code.loader, code.settings, debias=True)
    assert len(losses) == code.train_steps and np.isfinite(losses).all()
    expected = list(range(code.warmup_steps, code.train_steps, code.resample_every))
    assert [s for s, _ in history] == expected and expected  # the smoke profile resamples at least once
    assert all(p.shape == (len(code.loader.pos_train_inds),) and np.isclose(p.sum(), 1.0) for _, p in history)
    _, uniform = code.train_dbvae(code.DB_VAE(code.latent_dim), code.loader, dataclasses.replace(code.settings, steps=3),
                                  debias=False)
    assert uniform == []  # the ablation never resamples
    r = debias.evaluate_groups(model.predict, code.test_images, code.test_labels, code.test_groups)
    assert len(r["recall"]) == 4 and 0 <= r["accuracy"] <= 1


def test_the_skew_has_one_source(debiasing_code):
    import inspect

    import mitdeeplearning as mdl

    assert mdl.lab2.DARKER_FRACTION is faces.DARKER_FRACTION
    assert inspect.signature(faces.make_synthetic_faces).parameters["darker_fraction"].default == faces.DARKER_FRACTION
    assert debiasing_code.darker_fraction == 0.1  # the notebook's smoke profile overrides it by name
    assert _load_benchmark().DATA_PARAMETERS["darker_fraction"] == "darker_fraction"  # the benchmark too


def _load_benchmark():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "lab2_debias.py"
    spec = importlib.util.spec_from_file_location("lab2_debias_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_run_returns_json_serialisable_results(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("MDL_DATA_DIR", str(tmp_path))
    bench = _load_benchmark()
    # cpu_threads=1: this pytest run's TensorFlow already runs with one thread per operation (conftest)
    results = bench.run(quick=True, seeds=[0, 1], steps=4, warmup_steps=2, resample_every=1,
                        models="cnn,vae,dbvae_pca1,oracle", n_train_faces=64, n_train_nonfaces=64,
                        n_test_per_group=4, darker_fraction=0.2, cpu_threads=1)
    json.dumps(results, allow_nan=False)  # plain JSON: no NaN, no NumPy types
    assert results["notebook"] == "lab2/solutions/Part2_Debiasing_Solution.ipynb"
    assert results["settings"]["seeds"] == [0, 1] and results["settings"]["steps"] == 4
    assert results["settings"]["data"]["darker_fraction"] == 0.2
    assert results["settings"]["batch_size"] == 32  # not overridden: the notebook's parameters cell
    assert results["groups"] == list(faces.GROUPS)
    assert list(results["models"]) == ["cnn", "vae", "dbvae_pca1", "oracle"]
    for name, m in results["models"].items():
        assert [r["seed"] for r in m["runs"]] == [0, 1]
        for r in m["runs"]:
            assert len(r["recall"]) == 4 and all(0 <= v <= 1 for v in r["recall"])
            assert r["gap"] == pytest.approx(100 * (np.mean(r["recall"][:2]) - np.mean(r["recall"][2:])))
            assert 0 <= r["darker_share"] <= 1 and r["seconds"] > 0
        assert m["summary"]["gap"]["mean"] == pytest.approx(np.mean([r["gap"] for r in m["runs"]]))
        assert m["summary"]["gap"]["se"] is not None
    assert results["models"]["oracle"]["runs"][0]["darker_share"] == pytest.approx(0.5)
    assert results["models"]["dbvae_pca1"]["runs"][0]["darker_share"] != pytest.approx(results["darker_fraction_measured"])  # it resampled
    assert set(results["targets"]) == {"cnn_gap", "dbvae_pca1"}
    assert set(results["targets"]["dbvae_pca1"]) == {"gap_cut", "accuracy_vs_cnn", "darker_recall_vs_uniform_vae"}
    assert isinstance(results["targets"]["cnn_gap"]["met"], bool)
    assert results["settings"]["cpu_threads"] == 1
    # the lesson per seed, recomputed here from the runs
    cnn = [r["gap"] for r in results["models"]["cnn"]["runs"]]
    dbvae = [r["gap"] for r in results["models"]["dbvae_pca1"]["runs"]]
    lesson = results["lesson"]
    assert lesson["seeds"] == 2 and [s["seed"] for s in lesson["per_seed"]] == [0, 1]
    assert lesson["holds"]["count"] == sum(d < c and c >= 10 for c, d in zip(cnn, dbvae))
    assert lesson["dbvae_smaller"]["count"] == sum(d < c for c, d in zip(cnn, dbvae))
    assert results["orderings"]["dbvae_pca1<cnn"] == {"count": lesson["dbvae_smaller"]["count"], "seeds": 2}
    # the first seed's CNN and DB-VAE, trained again in the same process, repeat every number
    again = results["reproducibility"]
    assert again["seed"] == 0 and again["models"] == ["cnn", "dbvae_pca1"]
    assert again["identical"], again["differences"]


def test_benchmark_reports_fresh_seeds_by_default():
    bench = _load_benchmark()
    assert bench.FRESH_SEEDS == list(range(166, 186))
    assert bench._seed_list(None, bench.FRESH_SEEDS) == bench.FRESH_SEEDS
    assert bench.parse_args(["--seeds", "100-103"]).seeds == "100-103"


def test_benchmark_lesson_counts_seeds():
    bench = _load_benchmark()
    runs = lambda gaps: {"runs": [{"seed": s, "gap": g} for s, g in enumerate(gaps)]}  # noqa: E731
    lesson = bench._lesson({"cnn": runs([20.0, 12.0, 8.0, 30.0]), "dbvae_pca1": runs([5.0, 14.0, 2.0, 30.0])})
    assert [s["holds"] for s in lesson["per_seed"]] == [True, False, False, False]
    assert lesson["dbvae_smaller"]["count"] == 2 and lesson["cnn_biased"]["count"] == 3
    assert lesson["holds"] == {"count": 1, "share": 0.25}


def test_benchmark_rejects_unknown_options():
    bench = _load_benchmark()
    with pytest.raises(TypeError, match="unknown option"):
        bench.run(quick=True, stepz=3)
    with pytest.raises(ValueError, match="unknown models"):
        bench.run(quick=True, models="cnn,resnet")


def test_place_among_seeds_ranks_your_gap_and_names_changed_knobs(tmp_path):
    spread = {"parameters": {"train_steps": 300, "seed_free": 1},
              "models": {"cnn": {"label": "standard CNN", "runs": [{"seed": s, "gap": g} for s, g in enumerate([5.0, 20.0, 30.0, 20.0])]},
                         "dbvae_pca1": {"label": "DB-VAE", "runs": [{"seed": 0, "gap": 2.0}]}}}
    lines = seed_spread.place_among_seeds({"standard CNN": 20.0, "DB-VAE": -1.0, "oracle CNN": 0.0},
                                     {"train_steps": 300, "seed_free": 1}, spread)
    assert lines[0] == "standard CNN: your gap +20.0; over 4 seeds the gap ranged +5.0 to +30.0 (median +20.0): 1 below yours, 2 equal, 1 above"
    assert lines[1].startswith("DB-VAE: your gap -1.0; over 1 seed the gap") and lines[1].endswith("0 below yours, 0 equal, 1 above")
    assert lines[2] == "oracle CNN: the benchmark did not measure this model"
    changed = seed_spread.place_among_seeds({"standard CNN": 20.0}, {"train_steps": 6, "seed_free": 1}, spread)
    assert changed[0].startswith("Your parameters differ from the benchmark's (train_steps 6 vs 300)")
    # the course histogram is another model than the principal direction
    assert seed_spread.seed_spread_model("DB-VAE", None) == "dbvae" and seed_spread.seed_spread_model("DB-VAE", 1) == "dbvae_pca1"
    with pytest.raises(KeyError, match="density_components=2"):
        seed_spread.seed_spread_model("DB-VAE", 2)
    with pytest.raises(FileNotFoundError, match="--write-reference"):
        seed_spread.load_seed_spread(tmp_path / "missing.json")
