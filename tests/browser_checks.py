"""Checks shared by the browser tests: console errors of a page, and every Gantt bar drawn in a screenshot.

Pages are driven with Playwright in Debian's Chromium (the ``browser`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from orchestra_local.viewer.gantt import STATUS_COLOURS


def collect_errors(page: Any) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions as they happen."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    return errors


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def gantt_bars_in_screenshot(page: Any, selector: str = "#gantt") -> dict[str, str]:
    """Screenshot the Gantt chart and find each bar in it: ``{task label: status whose colour the bar shows}``.

    A bar is found when plotly drew a ``path`` for it (one per task run, in the order of the y
    axis) and the screenshot shows the colour of its status inside that path's box. Raises
    AssertionError when the bars and the axis labels differ in number.
    """
    chart = page.locator(selector)
    chart.wait_for()
    picture = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    origin = chart.bounding_box()
    labels = [tick.text_content() for tick in chart.locator("g.ytick text").all()]
    found: dict[str, str] = {}
    for trace in chart.locator("g.trace.bars").all():
        for bar in trace.locator("g.point path").all():
            box = bar.bounding_box()
            if box is None or box["width"] <= 0:
                continue
            middle_y = box["y"] + box["height"] / 2
            label = min(zip(labels, chart.locator("g.ytick text").all(), strict=True),
                        key=lambda pair: abs(pair[1].bounding_box()["y"] + pair[1].bounding_box()["height"] / 2
                                             - middle_y))[0]
            pixels = {picture.getpixel((int(box["x"] - origin["x"] + box["width"] * share),
                                        int(middle_y - origin["y"])))
                      for share in (0.1, 0.3, 0.5, 0.7, 0.9)}
            for status, colour in STATUS_COLOURS.items():
                if any(max(abs(a - b) for a, b in zip(pixel, _rgb(colour), strict=True)) <= 12 for pixel in pixels):
                    found[label] = status
    return found
