"""Gradients computed on a dask.distributed cluster with worker processes."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def logistic_loss(w, X, y):
    xp = array_namespace(X)
    z = X @ w
    return xp.mean(xp.log1p(xp.exp(-y * z)))


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_gradient_on_a_local_cluster_matches_local(client, rng):
    Xn = rng.standard_normal((400, 5))
    yn = np.sign(rng.standard_normal(400))
    w = rng.standard_normal(5) * 0.1
    X, y = da.from_array(Xn, chunks=(100, 5)), da.from_array(yn, chunks=100)
    val, g = yota.grad(logistic_loss, w, X, y)
    assert type(g[1]).__module__.startswith("dask")
    val_c, gw_c = client.compute([val, g[1]], sync=True)
    local_val, local_g = yota.grad(logistic_loss, w, Xn, yn)
    np.testing.assert_allclose(val_c, local_val, rtol=1e-10)
    np.testing.assert_allclose(gw_c, local_g[1], rtol=1e-10)
