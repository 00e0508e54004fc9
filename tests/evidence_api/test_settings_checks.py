"""Settings an operator can get wrong are refused at start-up with a message, not a 500 on every page;
the admin command names its operator even where the user has no passwd entry."""

from __future__ import annotations

import getpass

import pytest
from pydantic import ValidationError

from evidence_api.commands import admin
from evidence_api.settings import Settings


def test_an_unknown_display_time_zone_is_refused_at_start_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings(data_dir=tmp_path, display_timezone="Bad/Zone")
    assert Settings(data_dir=tmp_path, display_timezone="Europe/Belfast").display_timezone == "Europe/Belfast"


def test_the_operator_without_a_login_name_is_their_user_id(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_name() -> str:
        raise KeyError("getpwuid(): uid not found: 4242")

    monkeypatch.setattr(getpass, "getuser", no_name)
    assert admin._operator().startswith("uid-")
