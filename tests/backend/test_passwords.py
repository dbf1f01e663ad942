from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher

from backend.passwords import Busy, PasswordChecker, hash_password


def test_hashes_are_argon2id_with_at_least_the_owasp_parameters():
    stored = hash_password("some password")
    assert stored.startswith("$argon2id$")
    params = PasswordHasher().check_needs_rehash  # noqa: F841 - parse below instead
    fields = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(fields["m"]) >= 19 * 1024
    assert int(fields["t"]) >= 2
    assert int(fields["p"]) == 1


async def test_verify():
    checker = PasswordChecker(max_concurrent=1, max_waiting=4)
    stored = hash_password("right password")
    assert await checker.verify(stored, "right password")
    assert not await checker.verify(stored, "wrong password")
    assert not await checker.verify(None, "right password")
    assert not await checker.verify("not a hash", "x")


async def test_a_burst_beyond_the_cap_is_refused_not_queued_forever():
    checker = PasswordChecker(max_concurrent=1, max_waiting=1)
    stored = hash_password("pw")
    results = await asyncio.gather(
        *(checker.verify(stored, "pw") for _ in range(4)), return_exceptions=True
    )
    assert [r for r in results if r is True] and sum(isinstance(r, Busy) for r in results) == 2
    # Once the burst is over, checks run again.
    assert await checker.verify(stored, "pw")


@pytest.mark.parametrize("bad", ["", "short"])
async def test_short_passwords_are_refused_at_creation(tmp_path, bad):
    from backend.sqlite_storage import SqliteUsers, connect
    from backend.users import InvalidUser, Users

    with pytest.raises(InvalidUser):
        await Users(SqliteUsers(connect(tmp_path / "db")), lambda: 0.0).add("ada", bad)
