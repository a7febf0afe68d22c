"""The deployment package: small, without boto3, with templates, and the app importable from it alone."""
from __future__ import annotations

import json
import subprocess  # nosec B404 - runs this interpreter
import sys
import sysconfig
import zipfile

from infra import package as packaging

# Runs inside the unzipped package with the runtime's boto3 available but nothing else of ours.
PROBE = r"""
import json, sys
root = sys.argv[1]
sys.path[:0] = [root]
import app, chalicelib, jinja2, mjml, aws_lambda_powertools
from chalicelib import rendering
origins = {m.__name__: m.__file__.startswith(root) for m in (app, chalicelib, jinja2, mjml, aws_lambda_powertools)}

class Context:
    function_name = "peerpost-dev-api_handler"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:peerpost-dev-api_handler"
    aws_request_id = "req-1"
    def get_remaining_time_in_millis(self):
        return 29000

def get(path, resource, parameters=None):
    event = {"resource": resource, "path": path, "httpMethod": "GET", "headers": {"Accept": "text/html"},
             "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": parameters, "stageVariables": None, "body": None, "isBase64Encoded": False,
             "requestContext": {"resourcePath": resource, "httpMethod": "GET", "path": "/api" + path,
                                "requestId": "req-1", "stage": "api"}}
    response = app.app(event, Context())
    return response["statusCode"], response["body"]

subscribe = get("/subscribe", "/subscribe")
style = get("/static/style.css", "/static/{name}", {"name": "style.css"})
html = rendering.mjml_to_html("<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>")
print(json.dumps({"origins": origins, "templates": str(rendering.TEMPLATES_DIR), "subscribe": subscribe[0],
                  "subscribe_form": "<form" in subscribe[1], "style": style[0], "mjml": "Hi" in html}))
"""


def test_the_package_is_at_most_16_mb_zipped_and_leaves_boto3_to_the_runtime(package):
    archive = package / "deployment.zip"
    assert archive.stat().st_size <= packaging.MAX_ZIP_BYTES == 16 * 1024 * 1024
    with zipfile.ZipFile(archive) as zipped:
        tops = {name.split("/")[0] for name in zipped.namelist()}
    assert not tops & {"boto3", "botocore", "s3transfer"}
    assert {"app.py", "chalicelib", "templates"} <= tops


def test_the_app_imports_and_serves_pages_from_the_unzipped_package_alone(package, tmp_path):
    with zipfile.ZipFile(package / "deployment.zip") as zipped:
        zipped.extractall(tmp_path)
    # Like the Lambda runtime: the package first, then only the runtime's own site-packages (boto3).
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PYTHONNOUSERSITE": "1", "PATH": "/usr/bin:/bin",
           "AWS_REGION": "eu-west-2", "AWS_DEFAULT_REGION": "eu-west-2", "PEERPOST_STAGE": "dev",
           "PEERPOST_SIGNING_SECRET": "package-test", "PEERPOST_PUBLIC_BASE_URL": "https://peerpost.test",
           "POWERTOOLS_METRICS_DISABLED": "true"}
    base_python = sys._base_executable  # not the venv: its site-packages must not shadow the package
    result = subprocess.run([base_python, "-S", "-c", PROBE, str(tmp_path)], env=env, capture_output=True,  # nosec B603
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["origins"] == {"app": True, "chalicelib": True, "jinja2": True, "mjml": True,
                                "aws_lambda_powertools": True}
    assert probe["templates"] == str(tmp_path / "templates")
    assert probe["subscribe"] == 200 and probe["subscribe_form"]
    assert probe["style"] == 200
    assert probe["mjml"]


def test_every_function_runs_the_package_on_python_313(sam):
    functions = [r for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"]["CodeUri"] == "./deployment.zip" for f in functions)
    assert all(f["Properties"]["Runtime"] == "python3.13" for f in functions)
    assert packaging.TEMPLATE.exists()
