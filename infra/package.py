"""`make package`: dist/sam.json (Chalice's functions merged with infra/) and dist/deployment.zip.

Chalice packages app.py, chalicelib/ and vendor/ (whose contents land at the zip's root), so the
top-level templates/ is copied into vendor/ for the build: in the package it sits beside chalicelib/,
exactly where chalicelib/rendering.py looks for it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 - runs chalice, a fixed command
import sys
import zipfile
from pathlib import Path

from infra import merge

ROOT = merge.ROOT
DIST = ROOT / "dist"
TEMPLATE = DIST / "sam.json"
ZIP = DIST / "deployment.zip"
# Lambda takes 50 MB zipped; Pillow and the image libraries it bundles are about 7 MB of this budget.
MAX_ZIP_BYTES = 16 * 1024 * 1024
NOT_PACKED = ("boto3/", "botocore/", "s3transfer/")  # the Lambda runtime has them


def build(ses_send_rate: float = merge.DEFAULT_SES_SEND_RATE, out: Path = DIST) -> Path:
    """Build into out (dist/; the send harness builds a package per SES rate elsewhere)."""
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out / "merge.json"
    merge_file.write_text(json.dumps(merge.merge_template(merge.app_functions(), ses_send_rate), indent=1) + "\n")
    vendored = ROOT / "vendor" / "templates"
    shutil.rmtree(vendored, ignore_errors=True)
    shutil.copytree(ROOT / "templates", vendored)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-2")}
    chalice = Path(sys.executable).with_name("chalice")
    try:
        subprocess.run(  # nosec B603 - fixed arguments
            [str(chalice), "package", "--pkg-format", "cloudformation", "--template-format", "json",
             "--merge-template", str(merge_file), str(out)],
            cwd=ROOT, env=env, check=True)
    finally:
        shutil.rmtree(vendored, ignore_errors=True)
    check(out / ZIP.name)
    return out


def check(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise SystemExit(f"{path} is {size} bytes, over the 16 MB budget")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    packed = sorted({n.split("/")[0] for n in names if n.startswith(NOT_PACKED)})
    if packed:
        raise SystemExit(f"{path} packs {packed}: the Lambda runtime provides them")
    if "templates/pages/base.html" not in names:
        raise SystemExit(f"{path} has no templates/")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ses-send-rate", type=float, default=merge.DEFAULT_SES_SEND_RATE,
                        help="the account's SES maximum send rate (aws sesv2 get-account)")
    args = parser.parse_args()
    build(args.ses_send_rate)
    size = ZIP.stat().st_size
    print(f"{TEMPLATE.relative_to(ROOT)} and {ZIP.relative_to(ROOT)} ({size / 1024 / 1024:.2f} MB zipped)")


if __name__ == "__main__":
    main()
