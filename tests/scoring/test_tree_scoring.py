"""The compiled tree walk and the denial model's matrix product equal sklearn on the real model."""
import numpy as np

from scoring.tree_scoring import isotonic_map


def test_compiled_forest_equals_sklearn(champion_model, test_claims):
    features = champion_model.encode(test_claims)
    features[::7, 5] = np.nan  # missing values take the learned branch
    forest, denial = champion_model._compiled()
    expected = champion_model.classifier.predict_proba(features)[:, 1]
    np.testing.assert_allclose(forest.probability(features), expected, atol=1e-12)
    np.testing.assert_allclose(forest.probability(features, threads=2), expected, atol=1e-12)
    # Both this batch's float32 BLAS path and sklearn on float32 features round in float32, with
    # kernels OpenBLAS picks by CPU: on some CPUs a share moves by about 1e-4 (measured 1.07e-4).
    np.testing.assert_allclose(denial.probability(features), champion_model.denial_model.predict_proba(features),
                               atol=5e-4)
    # A few claims take the float64 path the answers use: equal to sklearn in float64.
    few = features[:50]
    np.testing.assert_allclose(denial.probability(few), champion_model.denial_model.predict_proba(few.astype(np.float64)),
                               atol=1e-9)


def test_isotonic_map_equals_the_fitted_calibrator(champion_model, test_claims):
    raw = champion_model._compiled()[0].probability(champion_model.encode(test_claims))
    np.testing.assert_allclose(isotonic_map(champion_model.calibrator, raw), champion_model.calibrator.predict(raw),
                               atol=1e-12)
