"""dlcourse.pytorch.embeddings against independent computations: NumPy's cosines, scikit-learn's PCA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from dlcourse.pytorch.embeddings import cosine_similarities, mean_similarity, nearest_neighbours, project_2d


@pytest.fixture
def weights():
    return np.random.default_rng(0).normal(size=(12, 5))


def numpy_cosines(w):
    return np.array([[a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for b in w] for a in w])


def test_cosine_similarities_match_a_pairwise_numpy_loop(weights):
    got = cosine_similarities(torch.tensor(weights, dtype=torch.float32)).numpy()
    assert got.shape == (12, 12)
    np.testing.assert_allclose(got, numpy_cosines(weights), atol=1e-6)
    np.testing.assert_allclose(np.diag(got), 1.0, atol=1e-6)


def test_a_zero_row_is_similar_to_nothing(weights):
    weights[0] = 0.0
    got = cosine_similarities(weights).numpy()
    assert np.all(got[0] == 0) and np.all(got[:, 0] == 0)


def test_nearest_neighbours_rank_by_cosine_and_skip_the_row_and_exclude(weights):
    expected = numpy_cosines(weights)[3]
    order = [i for i in np.argsort(-expected, kind="stable") if i not in (3, 0)]
    embedding = torch.nn.Embedding.from_pretrained(torch.tensor(weights))
    got = nearest_neighbours(embedding.weight, 3, k=4, exclude=[0])
    assert [i for i, _ in got] == order[:4]
    np.testing.assert_allclose([s for _, s in got], expected[order[:4]], atol=1e-12)
    # a scaled row has cosine 1 with its original: the nearest neighbour, whatever its length
    weights[7] = 10 * weights[5]
    assert nearest_neighbours(weights, 5, k=1) == [(7, pytest.approx(1.0))]


def test_mean_similarity_averages_the_pairs_of_different_rows(weights):
    cos = numpy_cosines(weights)
    a, b = [0, 1, 2], [2, 3]
    pairs = [cos[i, j] for i in a for j in b if i != j]
    assert mean_similarity(weights, a, b) == pytest.approx(np.mean(pairs))
    within = [cos[i, j] for i in a for j in a if i != j]
    assert mean_similarity(weights, a, a) == pytest.approx(np.mean(within))


def test_project_2d_is_pca_up_to_the_sign_of_each_axis(weights):
    got = project_2d(weights).numpy()
    reference = PCA(n_components=2, svd_solver="full").fit_transform(weights)
    assert got.shape == (12, 2)
    for axis in range(2):
        sign = np.sign(got[:, axis] @ reference[:, axis])
        np.testing.assert_allclose(got[:, axis], sign * reference[:, axis], atol=1e-10)
        assert got[np.abs(got[:, axis]).argmax(), axis] > 0   # the fixed sign
    # mirroring the input does not mirror the picture
    np.testing.assert_allclose(project_2d(-weights).numpy(), got, atol=1e-10)


def test_bad_input_says_what_to_do(weights):
    with pytest.raises(ValueError, match=r"embedding matrix \(V, D\)"):
        cosine_similarities(np.zeros(5))
    with pytest.raises(ValueError, match="outside 0..11"):
        nearest_neighbours(weights, 12)
    with pytest.raises(ValueError, match="ask for fewer"):
        nearest_neighbours(weights, 0, k=12)
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_neighbours(weights, 0, k=0)
    with pytest.raises(ValueError, match="no pair of different rows"):
        mean_similarity(weights, [1], [1])
    with pytest.raises(ValueError, match="at least two embedding dimensions"):
        project_2d(weights[:, :1])
