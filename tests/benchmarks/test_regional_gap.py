"""The regional-gap diagnosis serves its variants through the real model: its first row is what
the fitting code itself gives with the same settings, so its table compares like with like."""
from __future__ import annotations

import pytest

import benchmarks.regional_gap as regional_gap
import benchmarks.train as bench_train

pytestmark = pytest.mark.slow


def test_the_recipe_row_repeats_the_fitting_codes_own_figures(tmp_path, monkeypatch):
    from benchmarks.model_size import load_world
    from scoring.params import ModelParams
    from training.model_fitting import fit_coverage_model

    monkeypatch.setattr(regional_gap, "BENCH_DIR", tmp_path)
    monkeypatch.setattr(bench_train, "BENCH_DIR", tmp_path)
    rows = 3000
    found = regional_gap.measure(["recipe before the cell", "teachers read plan x treatment: student"], rows,
                                 echo=lambda line: None)
    [(_, path)] = bench_train.world_histories(rows, ["regional"])
    split, truth = load_world(path)
    for result, cell in zip(found, (False, True)):
        model = fit_coverage_model(split.train, split.validation, ModelParams(teacher_plan_treatment=cell),
                                   progress=False)
        expected = regional_gap.quality(model.served_probability(split.test), split, truth)
        assert result["expected_ratio"] == pytest.approx(expected["expected_ratio"], abs=1e-9)
        assert result["auc_ratio"] == pytest.approx(expected["auc_ratio"], abs=1e-9)
    assert found[0]["expected_ratio"] != found[1]["expected_ratio"]  # the cell changed the teachers
    assert (tmp_path / f"regional_gap-{rows}.jsonl").read_text().count("\n") == 2
