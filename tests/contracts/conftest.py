"""The one fixture every contract test shares: `store`, once as the in-memory fake and once as the
table-backed store under moto. Each module names its pair: STORES = (the fake, the real store)."""
from __future__ import annotations

import pytest


@pytest.fixture(params=["dynamodb", "fake"])
def store(request):
    fake, real = request.module.STORES
    if request.param == "fake":
        return fake()
    request.getfixturevalue("tables")
    return real()
