"""Operator commands run from a workstation, e.g. creating the first coordinator of a new deployment:

    python -m chalicelib.admin create-coordinator --stack peerpost-dev --email zoe@network.org --name Zoe

With --stack it finds the table and the signing-secret parameter from the deployed CloudFormation stack
(credentials and region from the usual AWS environment); without it, from PEERPOST_* variables (local mode).
The password is asked for twice, never taken from the command line (shell history); --password-stdin reads
one line for scripts.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys


def use_stack(stack_name: str) -> None:
    """Point settings at a deployed stack: its table and its stage's signing secret in SSM."""
    import boto3

    (stack,) = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    stage = parameters.get("Stage", "dev")
    os.environ.update({
        "PEERPOST_STAGE": stage,
        "PEERPOST_TABLE": outputs["TableName"],
        "PEERPOST_SIGNING_SECRET_PARAMETER": f"/peerpost/{stage}/signing-secret",
    })
    os.environ.pop("PEERPOST_SIGNING_SECRET", None)
    from chalicelib import aws, settings

    settings.reset()
    aws.reset()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 12 characters; three random words make a good one): ")
    if getpass.getpass("Same password again: ") != first:
        raise SystemExit("The passwords did not match; nothing was created.")
    return first


def create_coordinator(args) -> None:
    from chalicelib import auth
    from chalicelib.errors import ValidationError

    if args.stack:
        use_stack(args.stack)
    try:
        auth.create_coordinator(args.email, _password(args.password_stdin), name=args.name)
    except ValidationError as exc:
        raise SystemExit("; ".join(exc.errors.values())) from exc
    print("Admin created: sign in at <your site>/coordinator/sign-in. You will set up two-factor sign-in "
          "first, then invite the rest of the team from the Team page.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-coordinator", help="create an admin coordinator (the first of a deployment)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--stack", help="the deployed CloudFormation stack, e.g. peerpost-dev")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.set_defaults(run=create_coordinator)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
