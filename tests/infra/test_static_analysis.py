"""bandit finds nothing unjustified: every accepted finding carries `# nosec BXXX` with its reason beside it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_reports_no_unjustified_finding():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-r", "app.py", "chalicelib", "localdev", "bench", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    findings = json.loads(result.stdout)["results"]
    assert findings == [], [f"{f['filename']}:{f['line_number']} {f['test_id']} {f['issue_text']}" for f in findings]
