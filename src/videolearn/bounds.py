"""The numbers a request may carry, for the API's routes and the web pages alike: past
these SQLite cannot hold them (a 500 before; `tests/server/test_fuzz.py` found them), and
no library has that many of anything or lasts that long. It sits beside the layers: the
adapters that take requests use it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# A row's id (a review item's): SQLite's largest integer.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# How many to skip before a page.
Offset = Annotated[int, Query(ge=0, le=10**9)]
# A time in a video, or a duration.
Seconds = Annotated[float, Query(ge=0, le=10**7, allow_inf_nan=False)]
