"""JavaScript the dashboard's browser tests evaluate in the page: a container's row, read as
the user sees it (one definition for every dashboard e2e file)."""

from __future__ import annotations

import json

# What to read of a container's row (`tr`), as JavaScript expressions.
STATE = "tr.querySelector('td[data-state]').dataset.state"
WHY = "tr.children[7].textContent"
DIGEST = "tr.children[5].textContent"
BUTTONS = "[...tr.querySelectorAll('td.actions button')].map((b) => b.textContent)"


def row_of(name: str, *fields: str) -> str:
    """JavaScript: `fields` of container `name`'s row, as a list (null while there is none)."""
    return (
        f"(() => {{ const c = document.querySelector('td[data-container={json.dumps(name)}]');"
        f" if (!c) return null; const tr = c.parentElement; return [{', '.join(fields)}]; }})()"
    )
