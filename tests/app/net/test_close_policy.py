from __future__ import annotations

import pytest

from app.net.close_policy import _ACTIONS, CloseAction, policy
from app.wire import close_codes


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (1000, CloseAction.STOP),
        (1001, CloseAction.RETRY_SPREAD),
        (1012, CloseAction.RETRY_SPREAD),
        (1006, CloseAction.RETRY),
        (1011, CloseAction.RETRY),
        (1013, CloseAction.RETRY),
        (1014, CloseAction.RETRY),
        (4408, CloseAction.RETRY),
        (4000, CloseAction.RETRY),
        (4429, CloseAction.RETRY_FROM_CAP),
        (4401, CloseAction.SIGN_OUT),
        (1003, CloseAction.FAIL),
        (1008, CloseAction.FAIL),
        (1009, CloseAction.FAIL),
        (4400, CloseAction.FAIL),
        (4403, CloseAction.FAIL),
        (4409, CloseAction.FAIL),
        (4999, CloseAction.RETRY),
        (None, CloseAction.RETRY),
    ],
)
def test_every_close_code_has_its_path(code, action):
    assert policy(code) is action


def test_every_code_on_the_wire_has_a_decided_action():
    """A code added to the wire table must be placed in the policy, not fall to the default."""
    codes = {v for k, v in vars(close_codes).items() if k.isupper() and isinstance(v, int)}
    assert codes == set(_ACTIONS)
