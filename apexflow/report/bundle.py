"""plotly.js for the page: plotly's basic partial bundle (scatter, bar, pie: the report draws scatter traces only),
1.2 MB against the full bundle's 4.8 MB.

The build puts it beside this module from npm (``plotly.js-basic-dist-min``, MIT, pinned in package.json to the
plotly.js version plotly.py writes figures for): ``make report-js`` (which ``make demo`` and ``make test`` run) and
``layers/build.py`` for the API's report layer. Where it was not built the page inlines plotly.py's full bundle, and
says so in the log.
"""
from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

BASIC = Path(__file__).with_name("plotly-basic.min.js")
_log = logging.getLogger(__name__)


@cache
def plotly_js() -> str:
    if BASIC.is_file():
        return BASIC.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    _log.warning("%s is not built (make report-js): the report inlines plotly's full 4.8 MB bundle", BASIC.name)
    return get_plotlyjs()
