#!/usr/bin/env python3
"""Time from "play" to the first frame in examples/video-platform, in Debian's Chromium.

    .venv/bin/python bench/video_play.py [--runs 20]

Starts the example's whole stack (Redis, gatepass, nginx with auth_request, the API; every
process real, on loopback, stopped by pid), signs in once, then presses play ``--runs`` times
and reports the p50 (and p90) of each part, from the page's own clocks (Resource Timing and the
``playing`` event, all on ``performance.now()``):

  api        click -> the API's answer to POST /api/videos/{id}/play (token check, entitlement,
             the API's call to gatepass POST /signed-urls)
  signing    of which the call to gatepass (the API's Server-Timing "sign")
  playlists  master.m3u8 and stream.m3u8 through the edge (each one auth_request)
  segments   init.mp4 and the first media segment through the edge
  frame      the first segment received -> the video element's "playing" event
  total      click -> "playing"

Results: a markdown table on stdout, JSON lines in bench/results/video_play.jsonl (git-ignored).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "video-platform"

MEASURE = """
async (video) => {
  performance.clearResourceTimings();
  const player = document.getElementById('player');
  const first = new Promise((resolve) =>
    player.addEventListener('playing', () => resolve(performance.now()), { once: true }));
  const t0 = performance.now();
  document.querySelector(`button[data-video="${video}"]`).click();
  const playing = await Promise.race([first, new Promise((_, no) =>
    setTimeout(() => no(new Error('no frame within 60 s')), 60000))]);
  const all = performance.getEntriesByType('resource').filter((e) => e.startTime >= t0);
  const api = all.find((e) => new URL(e.name).pathname.endsWith('/play'));
  // only what this run fetched: a request of the previous player may end after the click
  const entries = all.filter((e) => e.startTime >= api.responseEnd);
  const one = (suffix) => entries.find((e) => new URL(e.name).pathname.endsWith(suffix));
  const seg = entries.filter((e) => new URL(e.name).pathname.endsWith('.m4s'))
    .sort((a, b) => a.responseEnd - b.responseEnd)[0];
  const sign = api.serverTiming.find((s) => s.name === 'sign');
  return {
    api: api.responseEnd - t0,
    signing: sign ? sign.duration : null,
    playlists: one('/stream.m3u8').responseEnd - api.responseEnd,
    segments: seg.responseEnd - one('/stream.m3u8').responseEnd,
    frame: playing - seg.responseEnd,
    total: playing - t0,
  };
}
"""


def load_stack():  # the example's own module (its directory name is not a package name)
    sys.path.insert(0, str(EXAMPLE))
    spec = importlib.util.spec_from_file_location("stack", EXAMPLE / "stack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stack"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--video", default="intro")
    args = parser.parse_args()
    vstack = load_stack()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        stack = vstack.Stack(Path(tmp), vstack.Settings()).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=[
                        "--no-sandbox",
                        "--autoplay-policy=no-user-gesture-required",
                        "--mute-audio",
                    ],
                )
                page = browser.new_page()
                page.goto(stack.origin + "/")
                page.locator("#signin").wait_for(state="visible", timeout=60_000)
                page.click("#signin-button")  # to gatepass's hosted login page, and back
                name, password, _ = vstack.USERS[0]
                page.locator("input[name=password]").wait_for(timeout=60_000)
                page.fill("input[name=username]", name)
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                page.locator(f"button[data-video={args.video}]").wait_for(timeout=60_000)
                page.evaluate(MEASURE, args.video)  # warm-up, not counted
                runs = [page.evaluate(MEASURE, args.video) for _ in range(args.runs)]
                browser.close()
        finally:
            stack.stop()
    parts = ["api", "signing", "playlists", "segments", "frame", "total"]
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "video_play.jsonl", "a") as f:
        for r in runs:
            f.write(json.dumps({"at": time.time(), **r}) + "\n")
    print(f"\n| part (ms, {len(runs)} runs) | p50 | p90 |\n|---|---:|---:|")
    for part in parts:
        values = sorted(r[part] for r in runs if r[part] is not None)
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(f"| {part} | {statistics.median(values):.1f} | {p90:.1f} |")


if __name__ == "__main__":
    main()
