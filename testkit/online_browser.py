"""The online voting page in real headless Chromium (Debian's, driven by Playwright for Python;
no browser download): a page at a phone's or a desktop's size, the screenshots of its steps,
keyboard-only moves, and the accessibility checks a test can make without a CDN (every control
labelled, headings in order, a visible focus ring, text contrast, nothing wider than a phone)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
    sync_playwright,
)

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "online"
PHONE = ViewportSize(width=360, height=740)
DESKTOP = ViewportSize(width=1280, height=800)
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
STEP_TIMEOUT_MS = 90_000  # Argon2id and the proofs on a busy 2-core machine


def system_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is not installed; ./hanpyo test installs the chromium package")


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=system_chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class VotingPage:
    """One voter's tab: the page, and what it logged and asked for on the way."""

    page: Page
    origin: str
    size: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.origin}/{fragment}")
        self.wait_step("code")

    def wait_step(self, step: str) -> None:
        """Wait until ``step`` shows and its heading has the focus (as a screen reader hears it)."""
        self.page.wait_for_function(
            """step => {
                const s = document.querySelector(`section[data-step="${step}"]`);
                return s !== null && document.activeElement === s.querySelector("h1");
            }""",
            arg=step,
            timeout=STEP_TIMEOUT_MS,
        )

    def step(self) -> str:
        return str(self.page.get_attribute("section[data-step]", "data-step"))

    def heading(self) -> str:
        return self.page.inner_text("section[data-step] h1").strip()

    def error(self) -> str:
        return self.page.inner_text("#error").strip()

    def wait_error(self) -> str:
        self.page.wait_for_function(
            "() => document.querySelector('#error')?.textContent.trim()",
            timeout=STEP_TIMEOUT_MS,
        )
        return self.error()

    def wait_fingerprint(self, box: str = "#review-fingerprint") -> str:
        self.page.wait_for_selector(f"{box} .fingerprint[data-code]", timeout=STEP_TIMEOUT_MS)
        return str(self.page.get_attribute(f"{box} .fingerprint", "data-code"))

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}-{self.size}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    # -- keyboard only ------------------------------------------------------------------------
    def tab_to(self, pattern: str, limit: int = 80) -> str:
        """Press Tab until the focused control's label or text matches ``pattern``; its name."""
        wanted = re.compile(pattern)
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            name = self.focused_name()
            if wanted.search(name):
                return name
        raise AssertionError(f"Tab never reached a control named like {pattern!r}")

    def focused_name(self) -> str:
        return str(self.page.evaluate(FOCUSED_NAME_JS))

    def focus_ring(self) -> dict[str, Any]:
        """The focused control's ring: the outline of it, or of its label for a hidden radio."""
        return dict(self.page.evaluate(FOCUS_RING_JS))

    # -- what an accessibility audit looks at -------------------------------------------------
    def unlabelled_controls(self) -> list[str]:
        return list(self.page.evaluate(UNLABELLED_JS))

    def heading_levels(self) -> list[int]:
        return list(self.page.evaluate(HEADINGS_JS))

    def low_contrast(self) -> list[str]:
        return list(self.page.evaluate(CONTRAST_JS))

    def too_wide(self) -> list[str]:
        return list(self.page.evaluate(TOO_WIDE_JS))

    def small_targets(self) -> list[str]:
        return list(self.page.evaluate(SMALL_TARGETS_JS))

    def audit(self) -> dict[str, list[str]]:
        """Every problem the checks find on the step showing now (empty lists: none)."""
        levels = self.heading_levels()
        skipped = [
            f"h{b} after h{a}" for a, b in zip([0, *levels], levels, strict=False) if b > a + 1
        ]
        return {
            "unlabelled": self.unlabelled_controls(),
            "headings": skipped
            if levels[:1] == [1]
            else [f"the first heading is not h1: {levels}"],
            "contrast": self.low_contrast(),
            "too wide": self.too_wide(),
            "small targets": self.small_targets(),
        }


@contextmanager
def voting_page(browser: Browser, origin: str, size: str) -> Iterator[VotingPage]:
    context = browser.new_context(
        viewport=VIEWPORTS[size],
        device_scale_factor=1,
        has_touch=size == "phone",
        is_mobile=size == "phone",
        locale="ko-KR",
    )
    page = context.new_page()
    voter = VotingPage(page, origin, size)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            voter.console_errors.append(message.text)

    def request(req: Request) -> None:
        if not req.url.startswith(origin) and not req.url.startswith("data:"):
            voter.foreign_requests.append(req.url)

    page.on("console", console)
    page.on("pageerror", lambda e: voter.console_errors.append(str(e)))
    page.on("request", request)
    page.on(
        "response",
        lambda r: voter.failed_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    try:
        yield voter
    finally:
        context.close()


FOCUSED_NAME_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "";
  if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
  if (el.labels && el.labels.length) return [...el.labels].map(l => l.textContent).join(" ");
  return (el.textContent || el.value || "").trim();
}"""

FOCUS_RING_JS = """() => {
  const el = document.activeElement;
  const hidden = el.matches("input") && el.getBoundingClientRect().width <= 2;
  const target = hidden && el.labels && el.labels.length ? el.labels[0] : el;
  const style = getComputedStyle(target);
  return {tag: target.tagName, style: style.outlineStyle,
          width: parseFloat(style.outlineWidth) || 0, color: style.outlineColor};
}"""

UNLABELLED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll("input, select, textarea, button, a[href]")) {
    const named = (el.labels && [...el.labels].some(l => l.textContent.trim()))
      || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
      || (el.matches("button, a") && el.textContent.trim());
    if (!named) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""

HEADINGS_JS = """() => [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
  .filter(h => h.getClientRects().length).map(h => Number(h.tagName[1]))"""

# WCAG 2.x relative luminance and contrast ratio (G17/G18): 4.5:1, or 3:1 for large text.
CONTRAST_JS = """() => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.closest(".sr-only")) continue;
    const a = lum(parse(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5))
      out.push(`${n.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return out;
}"""

TOO_WIDE_JS = """() => {
  const out = [];
  const width = document.documentElement.clientWidth;
  const scroll = document.documentElement.scrollWidth;
  if (scroll > width) out.push(`page ${scroll}px`);
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".sr-only") || !el.getClientRects().length) continue;
    const r = el.getBoundingClientRect();
    if (r.right > width + 0.5 || r.left < -0.5)
      out.push(`${el.tagName}.${el.className}: ${r.left}..${r.right}`);
    else if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible")
      out.push(`${el.tagName}.${el.className} scrolls`);
  }
  return out;
}"""

# WCAG 2.2 2.5.8 asks 24 px; the kiosk's and this page's rule is 48 px for every target.
SMALL_TARGETS_JS = """() => {
  const out = [];
  const targets = "button, a[href], input, .option > label, .score > label";
  for (const el of document.querySelectorAll(targets)) {
    if (!el.getClientRects().length || el.closest(".sr-only")) continue;
    const hidden = el.getBoundingClientRect().width <= 2;
    if (el.matches("input") && (hidden || el.labels?.length)) continue;
    const r = el.getBoundingClientRect();
    if (r.height < 47.5 || r.width < 47.5)
      out.push(`${el.tagName} ${el.textContent.trim().slice(0, 30)} ${r.width}x${r.height}`);
  }
  return out;
}"""
