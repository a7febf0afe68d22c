"""Rendering the seed issue three ways, interleaved in one run so that noise hits them alike:

- render_whole_ms: PeerPost's whole render (Jinja -> MJML -> MRML -> HTML, plus the plain text), with
  the diary and stories already read (their reads are I/O, not rendering);
- render_mrml_ms: MRML alone (mjml-python) on exactly the MJML PeerPost hands it;
- render_node_mjml_ms: Node's mjml (npm, package.json) on the same MJML, timed inside one Node process.

Medians of RUNS rounds; each round runs the three once, each round starting one further along
(whole, MRML, Node; then MRML, Node, whole; ...), so that each follows each other equally often: Node's
17 ms evicts the caches, and whatever ran next after it in every round paid for that alone (the whole
render did, as 3.3-3.5x instead of 2.2-2.5x). render_whole_vs_mrml_ratio is the figure (target at most 3). Node's mjml comes from node_modules (`make browser-deps` runs npm ci);
NODE_PATH may point elsewhere.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess  # nosec B404 - runs node with a fixed script
import time

from bench import report
from bench.run_newsletter import ROOT, configure, seed_issue

RUNS = 300
TARGET = 3.0
NODE_SCRIPT = r"""
const mjml2html = require("mjml");  // mjml 5: returns a promise
const readline = require("readline");
const lines = readline.createInterface({input: process.stdin});
let source = null;
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    if (source === null) { source = JSON.parse(line); await mjml2html(source); console.log("ready"); return; }
    const start = process.hrtime.bigint();
    const out = await mjml2html(source, {validationLevel: "skip"});
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(JSON.stringify({ms, bytes: out.html.length}));
  });
});
"""


class NodeMjml:
    def __init__(self, source: str) -> None:
        node = shutil.which("node")
        env = {**os.environ, "NODE_PATH": os.environ.get("NODE_PATH", str(ROOT / "node_modules"))}
        self.process = subprocess.Popen([node, "-e", NODE_SCRIPT], stdin=subprocess.PIPE,  # nosec B603
                                        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        self.process.stdin.write(json.dumps(source) + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("node's mjml did not start (npm ci?)")

    def render_ms(self) -> float:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["ms"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


def main() -> None:
    configure()
    import boto3
    from moto import mock_aws

    from localdev import stack

    with mock_aws():
        stack.create_all(boto3.session.Session(region_name="eu-west-2"))
        from localdev.demo_events import seed_events

        from chalicelib import newsletter

        seed_events()
        issue = seed_issue()
        entries, stories, shareable = newsletter._diary(), {}, newsletter.shareable_story
        newsletter._diary = lambda: entries
        newsletter.shareable_story = lambda sid, channel: stories.setdefault((sid, channel), shareable(sid, channel))
        seen: list[str] = []
        real = newsletter.mjml_to_html
        newsletter.mjml_to_html = lambda source: seen.append(source) or real(source)
        newsletter.render(issue)
        newsletter.mjml_to_html = real
        mjml_source = seen[-1]
        from mjml import mjml2html

        try:
            node = NodeMjml(mjml_source)
        except (RuntimeError, OSError, TypeError) as exc:
            print(f"node mjml unavailable: {exc}")
            node = None
        timings: dict[str, list[float]] = {"whole": [], "mrml": [], "node": []}

        def timed(name: str, work) -> None:
            start = time.perf_counter()
            work()
            timings[name].append((time.perf_counter() - start) * 1000)

        runners = [("whole", lambda: timed("whole", lambda: newsletter.render(issue))),
                   ("mrml", lambda: timed("mrml", lambda: mjml2html(mjml_source, disable_comments=True)))]
        if node:
            runners.append(("node", lambda: timings["node"].append(node.render_ms())))  # timed inside Node
        for round_ in range(RUNS):
            for _, run_one in runners[round_ % len(runners):] + runners[:round_ % len(runners)]:
                run_one()
        if node:
            node.close()
        whole, mrml, node_ms = timings["whole"], timings["mrml"], timings["node"]
    figures = {"render_whole_ms": round(statistics.median(whole), 4),
               "render_mrml_ms": round(statistics.median(mrml), 4),
               "render_mjml_bytes": len(mjml_source)}
    if node_ms:
        figures["render_node_mjml_ms"] = round(statistics.median(node_ms), 4)
    figures["render_whole_vs_mrml_ratio"] = round(figures["render_whole_ms"] / figures["render_mrml_ms"], 3)
    report(figures, f"target: whole render at most {TARGET}x MRML alone")


if __name__ == "__main__":
    main()
