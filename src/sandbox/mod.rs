//! The sandbox: a local, AWS-compatible Step Functions and API Gateway endpoint (SPEC §7).
