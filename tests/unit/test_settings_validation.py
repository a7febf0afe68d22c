"""Settings that make no sense fail at start, naming the variable; every Settings field has one source."""
from __future__ import annotations

import dataclasses

import pytest

from chalicelib import settings, wiring


@pytest.mark.parametrize("variable, value", [
    ("PEERPOST_SEND_RATE_PER_SECOND", "0"), ("PEERPOST_SEND_RATE_PER_SECOND", "-3"),
    ("PEERPOST_SEND_RATE_PER_SECOND", "nan"), ("PEERPOST_SEND_CONCURRENCY", "0"),
    ("PEERPOST_SEND_CONCURRENCY", "-1"), ("PEERPOST_SES_MAX_ATTEMPTS", "0"),
    ("PEERPOST_SEND_CONCURRENCY", "two"), ("PEERPOST_PUBLIC_BASE_URL", "peerpost.example.org"),
])
def test_a_setting_that_makes_no_sense_fails_at_start_naming_its_variable(variable, value):
    with pytest.raises(settings.SettingsError, match=variable):
        settings.from_environ({variable: value})


def test_the_defaults_are_valid():
    assert settings.from_environ({}).send_rate_per_second > 0


def test_every_settings_field_is_filled_by_one_variable_of_the_wiring_table_or_derived():
    fields = {f.name for f in dataclasses.fields(settings.Settings)}
    assert set(wiring.ENV) | wiring.DERIVED_FIELDS == fields
    assert len(wiring.ENV) == len(wiring.VARIABLES), "a field is filled by two variables"
