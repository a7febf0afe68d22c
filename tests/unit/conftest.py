"""tests/unit holds only tests without moto, servers or subprocesses: a test here that asks for one of
those fixtures fails before they are set up, so it moves to tests/functional instead of slowing the
fast loop."""
from __future__ import annotations

import pytest

NOT_UNIT = frozenset({"aws_mock", "tables", "outbox", "client", "peerpost", "package", "sam"})


@pytest.fixture(autouse=True)
def _unit_tests_stay_pure(request):
    used = NOT_UNIT & set(request.fixturenames)
    if used:
        pytest.fail(f"a unit test may not use {', '.join(sorted(used))}: move it to tests/functional")
