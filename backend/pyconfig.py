"""``pyscript.json``: the page's configuration, generated from ``pyscript.toml``.

``pyscript.toml`` is the source people edit.  The page loads the JSON twin because PyScript
parses TOML with a parser it downloads first (one more request on the start-up critical path,
measured by bench/page_load.py); JSON it parses natively.  A test keeps the two equal.

    python -m backend.pyconfig        # rewrite pyscript.json from pyscript.toml
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from backend.config import ROOT


def render(root: Path = ROOT) -> str:
    config = tomllib.loads((root / "pyscript.toml").read_text())
    return json.dumps(config, indent=2) + "\n"


if __name__ == "__main__":
    (ROOT / "pyscript.json").write_text(render())
