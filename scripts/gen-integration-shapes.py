#!/usr/bin/env python3
"""Generates src/exec/integration_shapes.json: the response shapes of the AWS service integrations
that TestState's `fieldValidationMode` (STRICT, PRESENT) checks a mocked `result` against.

Source: botocore's service models (the AWS CLI's own copy of AWS's API models). Run it with the
Python that has botocore (the peers venv):

    /work/peers-venv/bin/python scripts/gen-integration-shapes.py        # or $SFN_OPERATOR_PEERS_VENV

The output holds, per service, each operation's output shape and every shape reachable from it, in
a compact form the sandbox embeds (src/exec/mock_shapes.rs reads it):

    {"botocore": VERSION, "aliases": {integration service -> botocore service},
     "services": {SERVICE: {"ops": {Operation: ShapeName}, "shapes": {ShapeName: SPEC}}}}

SPEC is {"t": kind, ...}: "o" structure (m: member -> shape, r: required members), "l" list
(m: member shape), "m" map (v: value shape), "s" string (e: enum, n/x: min/max length),
"b" blob (n/x: min/max length), "i" integer or long (n/x: min/max value), "f" float or double,
"z" boolean, "d" timestamp, "a" document (anything).

Only the services in SERVICES are kept (the Step Functions optimized integrations and the services
most called through `aws-sdk:`), so the data file stays small; a Task on another service is not
field-validated (docs/teststate.md says so).
"""

import json
import os
import sys

import botocore
import botocore.session

# Step Functions' optimized integrations and the most used `arn:aws:states:::aws-sdk:` services,
# by botocore name.
SERVICES = [
    "athena", "batch", "bedrock", "bedrock-runtime", "cloudwatch", "codebuild", "comprehend",
    "dynamodb", "ec2", "ecs", "eks", "emr", "emr-containers", "emr-serverless",
    "events", "firehose", "glue", "iam", "kinesis", "kms", "lambda", "logs", "rds",
    "rekognition", "s3", "sagemaker", "secretsmanager", "sns", "sqs", "ssm", "stepfunctions",
    "sts", "textract", "translate",
]

# Integration service names (the optimized integrations' and the `aws-sdk:` ones, which follow
# the AWS SDK for Java v2) that differ from botocore's.
ALIASES = {
    "states": "stepfunctions",
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "bedrockruntime": "bedrock-runtime",
    "emrcontainers": "emr-containers",
    "emrserverless": "emr-serverless",
}

SCALARS = {
    "string": "s", "blob": "b", "integer": "i", "long": "i", "float": "f", "double": "f",
    "boolean": "z", "timestamp": "d",
}


def spec(shape):
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return {"t": "a"}
        out = {"t": "o", "m": {name: m.name for name, m in shape.members.items()}}
        if shape.required_members:
            out["r"] = list(shape.required_members)
        return out
    if kind == "list":
        return {"t": "l", "m": shape.member.name}
    if kind == "map":
        return {"t": "m", "v": shape.value.name}
    out = {"t": SCALARS.get(kind, "a")}
    meta = shape.metadata
    if kind == "string" and getattr(shape, "enum", None):
        out["e"] = list(shape.enum)
    if kind in ("string", "blob", "integer", "long"):
        if "min" in meta:
            out["n"] = meta["min"]
        if "max" in meta:
            out["x"] = meta["max"]
    return out


def children(shape):
    kind = shape.type_name
    if kind == "structure":
        return list(shape.members.values())
    if kind == "list":
        return [shape.member]
    if kind == "map":
        return [shape.value]
    return []


def service(session, name):
    model = session.get_service_model(name)
    ops, shapes, todo = {}, {}, []
    for op_name in model.operation_names:
        out = model.operation_model(op_name).output_shape
        if out is None:
            continue
        ops[op_name] = out.name
        todo.append(out)
    while todo:
        shape = todo.pop()
        if shape.name in shapes:
            continue
        shapes[shape.name] = spec(shape)
        todo.extend(children(shape))
    return {"ops": dict(sorted(ops.items())), "shapes": dict(sorted(shapes.items()))}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "..", "src", "exec", "integration_shapes.json")
    session = botocore.session.get_session()
    data = {
        "botocore": botocore.__version__,
        "aliases": ALIASES,
        "services": {name: service(session, name) for name in sorted(SERVICES)},
    }
    with open(target, "w") as f:
        json.dump(data, f, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    print(f"wrote {os.path.normpath(target)} ({os.path.getsize(target)} bytes, botocore {botocore.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
