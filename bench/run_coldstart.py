"""Cold start: import time of each Lambda entry point in fresh processes, against a bare `import boto3, chalice`.

Every handler lives in app.py, so its entry point costs `import app` plus the modules it imports lazily on
its first call (read from app.py). The API handler's figure is `import app` alone: pages load jinja2 on
first render and mjml only for email. Median of RUNS fresh interpreters each; records api_import_ratio.
"""
from __future__ import annotations

import ast
import statistics
import subprocess  # nosec B404 - runs this interpreter
import sys
from pathlib import Path

from bench import record

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TARGET_RATIO = 1.3
PROBE = "import time; t = time.perf_counter(); {imports}; print(time.perf_counter() - t)"


def lazy_imports() -> dict[str, list[str]]:
    """Handler name -> modules its body imports (the `from chalicelib import x` inside each handler)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    handlers: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            decorator = node.decorator_list[0]
            kind = getattr(getattr(decorator, "func", None), "attr", "")
            if kind in {"schedule", "on_sqs_message", "on_sns_message", "lambda_function"}:
                modules = []
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module:
                        modules += [f"{inner.module}.{alias.name}" for alias in inner.names]
                    elif isinstance(inner, ast.Import):
                        modules += [alias.name for alias in inner.names]
                handlers[node.name] = modules
    return handlers


def seconds(imports: str) -> float:
    """Median import time over RUNS fresh processes (bytecode already compiled, as in a Lambda package)."""
    times = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE.format(imports=imports)], cwd=ROOT,  # nosec B603
                             capture_output=True, text=True, check=True).stdout
        times.append(float(out.strip()))
    return statistics.median(times)


def main() -> None:
    seconds("import app")  # warm the bytecode cache and the page cache
    baseline = seconds("import boto3, chalice")
    rows = {"api_handler": seconds("import app")}
    for name, modules in lazy_imports().items():
        rows[name] = seconds("; ".join(["import app", *[f"import {m}" for m in modules]]))
    # Not part of the ratio, for honesty: what the first page adds (boto3 for DynamoDB, jinja2 to render).
    rows["api_handler + first page"] = seconds(
        "import app, boto3; from chalicelib import rendering; rendering.environment().get_template('pages/home.html')")
    ratio = rows["api_handler"] / baseline
    print(f"{'entry point':32} {'import ms':>10} {'x bare':>8}")
    print(f"{'bare: import boto3, chalice':32} {baseline * 1000:10.1f} {1.0:8.2f}")
    for name, value in rows.items():
        print(f"{name:32} {value * 1000:10.1f} {value / baseline:8.2f}")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"api_import_ratio {ratio:.2f} ({verdict} the {TARGET_RATIO}x target), median of {RUNS} fresh processes")
    figures = {"api_import_ratio": round(ratio, 3), "coldstart_bare_import_ms": round(baseline * 1000, 1)}
    figures.update({f"coldstart_{name.replace(' + ', '_').replace(' ', '_')}_ms": round(value * 1000, 1)
                    for name, value in rows.items()})
    record(figures)


if __name__ == "__main__":
    main()
