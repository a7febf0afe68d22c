"""How PeerPost's log lines leave a real process: once each, as JSON (a subprocess, so not a unit test)."""
from __future__ import annotations

import json


def test_log_lines_are_written_once_as_json_not_again_by_chalice():
    """In Lambda app.py is imported first, then powertools builds its logger: a fresh process, in that order."""
    import subprocess  # nosec B404
    import sys
    from pathlib import Path

    probe = "import app; from chalicelib import observability; observability.logger().info('once')"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,  # nosec B603
                            cwd=Path(__file__).resolve().parent.parent.parent, check=True)
    lines = [line for line in result.stdout.splitlines() if "once" in line]
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["message"] == "once"
