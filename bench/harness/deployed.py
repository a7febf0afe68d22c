"""What the harness takes from the merged template `make package` writes (dist/sam.json), and nothing else."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from chalicelib import wiring

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "dist" / "sam.json"
SEND_FUNCTION = "send_newsletter"


@dataclass(frozen=True)
class SendDeployment:
    batch_size: int
    max_concurrency: int
    reserved_concurrency: int
    timeout_seconds: int
    environment: dict[str, str]
    visibility_timeout: int
    max_receive_count: int


def _resolve(value, parameters: dict) -> str:
    """A CloudFormation value as it would be in Lambda, for this stack running on loopback."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        ref = value["Ref"]
        if ref in wiring.RESOURCES:
            return wiring.RESOURCES[ref]
        if ref == "SesConfigurationSet":
            return "peerpost"
        return str(parameters[ref])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "QueueName", value  # nosec B101 - the only attribute the environment takes
        return wiring.RESOURCES[logical_id]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for name, given in parameters.items():
            text = text.replace("${" + name + "}", str(given))
        return text
    if "Fn::If" in value:  # only the tracing switch: off, as by default
        return _resolve(value["Fn::If"][2], parameters)
    raise ValueError(f"no local value for {value}")


def read(path: Path = TEMPLATE, stage: str = "bench") -> SendDeployment:
    template = json.loads(path.read_text())
    resources = template["Resources"]
    parameters = {name: p.get("Default", "") for name, p in template.get("Parameters", {}).items()}
    parameters.update(Stage=stage, PublicBaseUrl="https://peerpost.example.org",
                      SenderDomain="peerpost.example.org")
    (function,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
                   and r["Properties"].get("FunctionName", {}).get("Fn::Sub", "").endswith(f"-{SEND_FUNCTION}")]
    (event,) = function["Events"].values()
    queue_id = event["Properties"]["Queue"]["Fn::Sub"].removeprefix("${").removesuffix(".Arn}")
    queue = resources[queue_id]["Properties"]
    environment = {name: _resolve(value, parameters) for name, value in function["Environment"]["Variables"].items()}
    return SendDeployment(
        batch_size=int(event["Properties"]["BatchSize"]),
        max_concurrency=int(event["Properties"]["ScalingConfig"]["MaximumConcurrency"]),
        reserved_concurrency=int(function["ReservedConcurrentExecutions"]),
        timeout_seconds=int(function["Timeout"]),
        environment=environment,
        visibility_timeout=int(queue["VisibilityTimeout"]),
        max_receive_count=int(queue["RedrivePolicy"]["maxReceiveCount"]),
    )
