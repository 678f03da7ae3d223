"""What the report tests share: a real small program (two priced systems, one disaggregated, with a rate
sweep), a reader of the page's elements, and the headless Chromium that renders it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

SYSTEMS = """
# A comment that would end the page's script if it were not escaped: </script><script>alert(1)</script>
traffic chat {
  arrivals = poisson(20 /s)
  prompt = uniform(min = 64 tokens, max = 512 tokens)
  output = uniform(min = 8 tokens, max = 64 tokens)
  requests = 120
}
slo fast { ttft.p99 < 200 ms, tpot.p99 < 20 ms }
system mixed { pool gp: 2 x toy, tp = 1, max_batch = 32 }
system split {
  pool pre: 1 x toy, role = prefill
  pool dec: 1 x toy, role = decode, max_batch = 32
  link pre -> dec { bandwidth = 10 GB/s, latency = 5 us }
}
run r { model = tiny, traffic = chat, slo = fast, systems = [mixed, split], seed = 11 }
"""
SWEEP = "sweep rates { traffic.chat.arrivals.rate = [10 /s, 80 /s, 640 /s] }\n"

# Attributes by which a browser fetches something when the page loads or is clicked.
_FETCHING = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background"}
_REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class Elements(HTMLParser):
    """Every start tag with its attributes, the text of each ``<pre>``, ``<td>`` and ``<script>``, and,
    per chart element (``id="chart-…"``), the tags inside it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.cells: list[str] = []
        self.pres: list[str] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.charts: dict[str, list[tuple[str, dict[str, str]]]] = {}
        self._open: list[str] = []  # the chart ids we are inside of, with the depth they opened at
        self._depth: list[int] = []
        self._level = 0
        self._text: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append((tag, found))
        for chart in self._open:
            self.charts[chart].append((tag, found))
        if tag in _VOID:
            return
        self._level += 1
        if found.get("id", "").startswith("chart-"):
            self._open.append(found["id"][6:])
            self._depth.append(self._level)
            self.charts[found["id"][6:]] = []
        if tag in ("td", "pre", "script"):
            self._text, self._attrs = [], found

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self._depth and self._depth[-1] == self._level:
            self._open.pop()
            self._depth.pop()
        self._level -= 1
        if self._text is not None and tag in ("td", "pre", "script"):
            text = "".join(self._text)
            if tag == "td":
                self.cells.append(text)
            elif tag == "pre":
                self.pres.append(text)
            else:
                self.scripts.append((self._attrs, text))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def remote(self) -> list[str]:
        """Every fetching attribute, ``<meta http-equiv="refresh">`` or CSS ``url(…)``/``@import`` that names
        a network address."""
        found = [f"<{t} {k}={v!r}>" for t, a in self.tags for k, v in a.items() if k in _FETCHING and _REMOTE.match(v)]
        found += [f"<meta {a}>" for t, a in self.tags if t == "meta" and a.get("http-equiv", "").lower() == "refresh"]
        styles = " ".join(a.get("style", "") for _, a in self.tags)
        return found + re.findall(r"(?:url\(\s*['\"]?\s*(?:https?:)?//|@import)[^)\s]*", styles)

    def specs(self) -> dict:
        (text,) = [t for a, t in self.scripts if a.get("id") == "infera-specs"]
        return json.loads(text)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium() -> str | None:
    """The Chromium of the OS packages (or ``$CHROMIUM``), if one is installed."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def browser_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran in headless Chromium, with every network name unresolvable and a
    dead proxy, so that a chart needing anything from the network would not draw."""
    command = [chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--proxy-server=127.0.0.1:9", "--virtual-time-budget=5000", "--window-size=1200,2400",
               "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
