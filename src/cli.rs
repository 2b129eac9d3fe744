//! The command line of SPEC §3, in clap derive. Flags are parsed here once; commands build their
//! ready objects from these plain values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps AWS Step Functions state machines and API Gateway integrations in line with YAML manifests.
#[derive(Debug, Parser)]
#[command(name = "sfn-operator", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SFN_OPERATOR_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// More log output (repeatable: -v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Report format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Where `--sandbox` and `sandbox --state` keep the sandbox's state: one file, so that a
/// `sfn-operator sandbox --state` serves what `--sandbox` runs left.
pub const SANDBOX_STATE_FILE: &str = ".sfn-operator/sandbox.json";

/// The subcommands. Each one's `--help` ends with real invocations (checked by a test).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline; no AWS call is made.
    #[command(after_help = "Examples:
  sfn-operator validate
  sfn-operator validate manifests/ --var STAGE=prod
  sfn-operator validate manifests/ --region eu-west-1 --account-id 123456789012")]
    Validate(ValidateOpts),
    /// Show what a reconcile would change; exits 2 when changes are pending.
    #[command(after_help = "Examples:
  sfn-operator diff --sandbox
  sfn-operator diff manifests/ --prune -o json
  sfn-operator diff --endpoint-url http://127.0.0.1:4566 --timeout 30s")]
    Diff(DiffOpts),
    /// Make AWS match the manifests, once (--once) or continuously (the daemon).
    #[command(after_help = "Examples:
  sfn-operator reconcile --once --sandbox
  sfn-operator reconcile --once --prune manifests/
  sfn-operator reconcile manifests/ --listen 127.0.0.1:9464 --resync-interval 10m")]
    Reconcile(ReconcileOpts),
    /// Run the WorkflowTest cases in-process on simulated time; no AWS call.
    #[command(after_help = "Examples:
  sfn-operator test
  sfn-operator test manifests/ -o json
  sfn-operator test manifests/ --junit test-results.xml")]
    Test(TestOpts),
    /// Run the local AWS-compatible Step Functions and API Gateway endpoint.
    #[command(after_help = "Examples:
  sfn-operator sandbox
  sfn-operator sandbox --state
  sfn-operator sandbox --listen 127.0.0.1:4567 --functions manifests/functions.json")]
    Sandbox(SandboxOpts),
    /// Show the rollouts (aliases of versioned state machines, API stage canaries), or promote, abort or retry one.
    #[command(after_help = "Examples:
  sfn-operator rollout status --sandbox
  sfn-operator rollout promote start-execution manifests/
  sfn-operator rollout abort parallel-processing --alias live --notify https://hooks.slack.com/services/T000/B000/XXXX")]
    Rollout(RolloutOpts),
    /// Write manifests for state machines and REST APIs that already run (built in the console).
    #[command(after_help = "Examples:
  sfn-operator import --state-machine ParallelProcessingMachine --rest-api h4x8n2v6q1 --sandbox
  sfn-operator import --state-machine arn:aws:states:us-east-1:123456789012:stateMachine:Orders -o manifests/orders
  sfn-operator import --state-machine Orders --rest-api a1b2c3d4e5 --force")]
    Import(ImportOpts),
    /// Draw a state machine's definition: SVG (the default), Mermaid or Graphviz DOT; no AWS call.
    #[command(after_help = "Examples:
  sfn-operator graph --out machine.svg
  sfn-operator graph manifests/ --machine parallel-processing -o mermaid
  sfn-operator graph workflow.asl.json -o dot")]
    Graph(GraphOpts),
    /// Print a shell completion script on stdout.
    #[command(after_help = "Examples:
  sfn-operator completions bash > ~/.local/share/bash-completion/completions/sfn-operator
  sfn-operator completions zsh > ~/.zfunc/_sfn-operator
  sfn-operator completions fish > ~/.config/fish/completions/sfn-operator.fish")]
    Completions(CompletionsOpts),
}

/// `rollout`.
#[derive(Debug, Args)]
pub struct RolloutOpts {
    #[command(subcommand)]
    pub action: RolloutAction,
}

/// What `rollout` does.
#[derive(Debug, Subcommand)]
pub enum RolloutAction {
    /// Every rollout: alias, from → to version, weights, step, next step, alarms and their states.
    Status(RolloutStatusOpts),
    /// Route 100 % to the version being rolled out now, skipping the rest of the bake.
    Promote(RolloutTargetOpts),
    /// Roll back now (100 % to the previous version) and hold until the manifest changes or `retry`.
    Abort(RolloutTargetOpts),
    /// Start again a rollout that was rolled back or aborted.
    Retry(RolloutTargetOpts),
}

/// `rollout status`.
#[derive(Debug, Args)]
pub struct RolloutStatusOpts {
    #[command(flatten)]
    pub manifests: ManifestOpts,
    #[command(flatten)]
    pub aws: AwsOpts,
    /// Which operator instance this is (see `reconcile --owner-id`).
    #[arg(long, value_name = "ID", env = "SFN_OPERATOR_OWNER_ID", default_value = crate::ownership::DEFAULT_OWNER, value_parser = parse_owner_id)]
    pub owner_id: String,
    #[command(flatten)]
    pub pass: PassOpts,
    /// Report format on stdout.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

impl RolloutStatusOpts {
    /// The owner options of a pass that never prunes.
    pub fn owner(&self) -> OwnerOpts {
        OwnerOpts {
            owner_id: self.owner_id.clone(),
            allow_empty: false,
        }
    }
}

/// `rollout promote|abort|retry NAME`.
#[derive(Debug, Args)]
pub struct RolloutTargetOpts {
    /// The StateMachine manifest's metadata.name (its aliases), or an ApiIntegration's (its
    /// stage canary, and the alias the stage follows in a joint rollout).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Only this alias (default: every alias of the machine with a rollout).
    #[arg(long)]
    pub alias: Option<String>,
    #[command(flatten)]
    pub status: RolloutStatusOpts,
    #[command(flatten)]
    pub notify: NotifyOpts,
}

/// `import`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["state_machines", "rest_apis"])))]
pub struct ImportOpts {
    /// A state machine to import, by name or ARN (repeatable).
    #[arg(long = "state-machine", value_name = "NAME|ARN")]
    pub state_machines: Vec<String>,
    /// A REST API to import, by name or id (repeatable), with its AWS service integrations to
    /// Step Functions and the stage that serves them.
    #[arg(long = "rest-api", value_name = "NAME|ID")]
    pub rest_apis: Vec<String>,
    /// The directory the manifests are written to (made if missing).
    #[arg(
        short = 'o',
        long = "output-dir",
        value_name = "DIR",
        default_value = "manifests"
    )]
    pub output_dir: PathBuf,
    /// Overwrite files that exist already (without it, an existing file is an error and nothing is written).
    #[arg(long)]
    pub force: bool,
    /// Leave aliases out: saves a ListStateMachineAliases per machine (AWS allows 100 at once, then
    /// one a second), the floor of a large import otherwise. The aliases keep working unmanaged.
    #[arg(long)]
    pub no_aliases: bool,
    #[command(flatten)]
    pub aws: AwsOpts,
    #[command(flatten)]
    pub pass: PassOpts,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphOpts {
    /// Manifest files or directories, or ASL definition files (`*.asl.json`, `*.asl.yaml`).
    #[command(flatten)]
    pub manifests: ManifestOpts,
    /// The state machine to draw (its manifest's metadata.name or spec name, or an ASL file's
    /// name before `.asl.`); needed when the paths hold more than one.
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
    /// Picture format on stdout (or in --out).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = GraphFormat::Svg)]
    pub output: GraphFormat,
    /// Write the picture to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What `graph` draws in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A standalone SVG (no script, no external font).
    Svg,
    /// A Mermaid flowchart (GitHub renders it in Markdown).
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsOpts {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where manifests come from and how placeholders resolve.
#[derive(Debug, Clone, Args)]
pub struct ManifestOpts {
    /// Manifest files or directories (walked recursively).
    #[arg(value_name = "PATH", default_value = "manifests")]
    pub paths: Vec<PathBuf>,
    /// A value for a `${NAME}` placeholder (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// A YAML map of placeholder values.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// How to reach AWS (or the sandbox).
#[derive(Debug, Clone, Args)]
pub struct AwsOpts {
    /// AWS region; overrides AWS_REGION and the profile.
    #[arg(long, env = "SFN_OPERATOR_REGION")]
    pub region: Option<String>,
    /// Endpoint URL for both services; overrides AWS_ENDPOINT_URL*.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Account id used for `${AWS::AccountId}` and ARNs; default: the caller identity.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// Start the built-in sandbox in this process (state in .sfn-operator/sandbox.json) and use it instead of AWS.
    #[arg(long, conflicts_with = "endpoint_url")]
    pub sandbox: bool,
    /// Turn off the client-side rate limits sized to AWS's quotas (for LocalStack, moto or a
    /// sandbox started separately; they are already off with --sandbox).
    #[arg(long)]
    pub no_rate_limits: bool,
}

impl AwsOpts {
    /// Whether calls wait for AWS's quota buckets (SPEC §4: by default, not with the sandbox).
    pub fn rate_limits(&self) -> bool {
        !(self.sandbox || self.no_rate_limits)
    }
}

/// Which operator instance this is, and how careful its pruning is (SPEC §3, §5).
#[derive(Debug, Clone, Args)]
pub struct OwnerOpts {
    /// Which operator instance this is: written as the tag sfn-operator.dev/owner; only resources
    /// carrying this id are updated or pruned. Two manifest sets in one account use two ids.
    #[arg(long, value_name = "ID", env = "SFN_OPERATOR_OWNER_ID", default_value = crate::ownership::DEFAULT_OWNER, value_parser = parse_owner_id)]
    pub owner_id: String,
    /// With --prune: prune even when a PATH holds no manifest at all (otherwise such a pass, e.g.
    /// an emptied directory or ConfigMap, deletes nothing and says so).
    #[arg(long, requires = "prune")]
    pub allow_empty: bool,
}

/// `validate`.
/// How one pass runs (`diff`, `reconcile`).
#[derive(Debug, Clone, Args)]
pub struct PassOpts {
    /// Give up retrying transient failures after this long (the daemon: per pass).
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub timeout: Duration,
    /// Resources reconciled (or read, for `diff`) at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct ValidateOpts {
    #[command(flatten)]
    pub manifests: ManifestOpts,
    /// Region to resolve `${AWS::Region}` with (offline; otherwise accepted as resolvable).
    #[arg(long)]
    pub region: Option<String>,
    /// Account id to resolve `${AWS::AccountId}` with (offline; otherwise accepted as resolvable).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

/// `diff`.
#[derive(Debug, Args)]
pub struct DiffOpts {
    #[command(flatten)]
    pub manifests: ManifestOpts,
    #[command(flatten)]
    pub aws: AwsOpts,
    /// Also show the deletes `reconcile --prune` would make (owned, `Delete` policy, manifest gone).
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub owner: OwnerOpts,
    #[command(flatten)]
    pub pass: PassOpts,
    /// Report format on stdout; `markdown` is a pull-request comment with a Mermaid graph per
    /// changed state machine.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = DiffFormat::Text)]
    pub output: DiffFormat,
}

/// `diff`'s report formats: the report's, and a pull-request comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    /// A pull-request comment: summary table, changed paths, Mermaid graphs.
    Markdown,
}

/// `reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileOpts {
    #[command(flatten)]
    pub manifests: ManifestOpts,
    #[command(flatten)]
    pub aws: AwsOpts,
    /// Run one pass and exit (CI mode); without it, run as a daemon.
    #[arg(long)]
    pub once: bool,
    /// Delete owned resources whose manifest is gone and whose deletionPolicy was Delete.
    #[arg(long)]
    pub prune: bool,
    /// With --once: follow rollouts to their end (exit 1 when one is rolled back); without it,
    /// --once does what is due and exits 0 while a rollout progresses.
    #[arg(long, requires = "once")]
    pub wait: bool,
    #[command(flatten)]
    pub owner: OwnerOpts,
    #[command(flatten)]
    pub pass: PassOpts,
    /// Report format on stdout (`--once`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Daemon: how often live state is re-read to correct drift (±10 % jitter).
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub resync_interval: Duration,
    /// Daemon: quiet time after a file event before reconciling.
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    pub debounce: Duration,
    /// Daemon: address of /healthz, /readyz, /metrics and /status.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Daemon: the exclusive lock that keeps one daemon per manifest set.
    #[arg(long, default_value = ".sfn-operator/lock")]
    pub lock_file: PathBuf,
    #[command(flatten)]
    pub notify: NotifyOpts,
}

/// Where events go (`reconcile`, `rollout promote|abort|retry`; SPEC §12).
#[derive(Debug, Clone, Args)]
pub struct NotifyOpts {
    /// Post an event to this webhook URL on drift found or corrected, a resource failing or
    /// recovering, a prune held back, a rollout started, promoted or rolled back (repeatable; the
    /// environment variable takes a comma-separated list). The URL is a secret: never logged or
    /// shown.
    #[arg(long = "notify", value_name = "URL", env = "SFN_OPERATOR_NOTIFY", value_delimiter = ',', hide_env_values = true, value_parser = parse_secret)]
    pub urls: Vec<Secret>,
    /// The events' format: json, or slack (`{"text": ...}`); default: slack for hooks.slack.com
    /// URLs, else json.
    #[arg(long = "notify-format", value_enum)]
    pub format: Option<NotifyFormat>,
    /// Events waiting for delivery at most; a full queue drops its oldest (counted in /metrics as
    /// sfn_operator_notifications_total{result="dropped"}).
    #[arg(long = "notify-queue", value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub queue: u32,
}

/// The body format of `--notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifyFormat {
    Json,
    Slack,
}

/// A value that must never be shown (a webhook URL holds its token): `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Takes any string: checking it here would print it in clap's error.
fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret(s.to_owned()))
}

/// `test`.
#[derive(Debug, Args)]
pub struct TestOpts {
    #[command(flatten)]
    pub manifests: ManifestOpts,
    /// Report format on stdout.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Region for `${AWS::Region}` and the ARNs the cases see (nothing is sent anywhere).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Account id for `${AWS::AccountId}` and the ARNs the cases see.
    #[arg(long, value_name = "ID", default_value = "123456789012")]
    pub account_id: String,
    /// States a case may enter before it is stopped as a runaway (a loop that never ends).
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_steps: u64,
}

/// `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxOpts {
    /// Address to listen on; loopback unless --allow-remote is given.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Keep state in this JSON file (replaced atomically; a change is on disk before its
    /// response). `--state` alone: .sfn-operator/sandbox.json, the state of `--sandbox` runs.
    /// Without it the state lives in memory only.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = SANDBOX_STATE_FILE)]
    pub state: Option<PathBuf>,
    /// Account id the sandbox reports.
    #[arg(long, value_name = "ID", default_value = "123456789012")]
    pub account_id: String,
    /// Fault injection, as JSON: {"throttle":0.2,"error":0.05,"latencyMs":30,"seed":1,"operations":["DescribeStateMachine"]}.
    #[arg(long, value_name = "JSON")]
    pub faults: Option<String>,
    /// Allow a non-loopback --listen address (the sandbox accepts any credentials).
    #[arg(long)]
    pub allow_remote: bool,
    /// Lambda stand-ins for executions, as YAML: function name or ARN → {jsonata: EXPR} |
    /// {command: [ARGV...]} | {return: JSON} | {throw: {error, cause}}.
    #[arg(long, value_name = "FILE")]
    pub functions: Option<std::path::PathBuf>,
    /// Enforce AWS's default control-plane quotas server-side (the operator's client-side
    /// buckets), answering ThrottlingException / 429 as AWS does, to rehearse a real account's pace.
    #[arg(long)]
    pub aws_quotas: bool,
}

fn parse_owner_id(s: &str) -> Result<String, String> {
    crate::ownership::check_owner_id(s).map(|()| s.to_owned())
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

/// Parses durations like `500ms`, `30s`, `5m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?} (examples: 500ms, 30s, 5m, 1h)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(err)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(err)?),
            _ => return Err(err()),
        };
        total = total.checked_add(part).ok_or_else(err)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 days").is_err());
    }

    #[test]
    fn vars_parse() {
        assert_eq!(parse_var("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_var("=x").is_err());
        assert!(parse_var("novalue").is_err());
    }

    #[test]
    fn rate_limits_are_on_unless_the_sandbox_or_the_flag_says_otherwise() {
        use clap::Parser;
        let limits = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Diff(d)) => d.aws.rate_limits(),
            other => panic!("{other:?}"),
        };
        assert!(limits(&["sfn-operator", "diff"]));
        assert!(limits(&[
            "sfn-operator",
            "diff",
            "--endpoint-url",
            "http://127.0.0.1:4566"
        ]));
        assert!(!limits(&["sfn-operator", "diff", "--sandbox"]));
        assert!(!limits(&[
            "sfn-operator",
            "diff",
            "--endpoint-url",
            "http://x",
            "--no-rate-limits"
        ]));
    }

    #[test]
    fn owner_id_and_allow_empty() {
        use clap::Parser;
        let owner = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Reconcile(r)) => Ok((r.owner.owner_id, r.owner.allow_empty)),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.kind()),
        };
        assert_eq!(
            owner(&["sfn-operator", "reconcile", "--once", "--prune", "--allow-empty"]),
            Ok(("default".into(), true))
        );
        assert_eq!(
            owner(&["sfn-operator", "reconcile", "--owner-id", "team-a/prod"]),
            Ok(("team-a/prod".into(), false))
        );
        // --allow-empty only means something with --prune; a bad id is refused before any work.
        assert!(owner(&["sfn-operator", "reconcile", "--once", "--allow-empty"]).is_err());
        assert!(owner(&["sfn-operator", "reconcile", "--owner-id", "a b"]).is_err());
    }

    #[test]
    fn sandbox_state_alone_is_the_state_of_sandbox_runs() {
        use clap::Parser;
        let state = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Sandbox(s)) => s.state,
            other => panic!("{other:?}"),
        };
        assert_eq!(state(&["sfn-operator", "sandbox"]), None);
        assert_eq!(
            state(&["sfn-operator", "sandbox", "--state"]),
            Some(PathBuf::from(SANDBOX_STATE_FILE))
        );
        assert_eq!(
            state(&["sfn-operator", "sandbox", "--state", "--allow-remote"]),
            Some(PathBuf::from(SANDBOX_STATE_FILE))
        );
        assert_eq!(
            state(&["sfn-operator", "sandbox", "--state", "s.json"]),
            Some(PathBuf::from("s.json"))
        );
    }

    /// Every example in a `--help` parses: they cannot rot.
    #[test]
    fn help_examples_parse() {
        use clap::{CommandFactory, Parser};
        let cli = Cli::command();
        let mut seen = 0;
        for sub in cli.get_subcommands() {
            let help = sub.get_after_help().map(ToString::to_string).unwrap_or_default();
            let examples: Vec<&str> = help
                .lines()
                .filter_map(|l| l.trim().strip_prefix("sfn-operator "))
                .collect();
            assert!((2..=3).contains(&examples.len()), "{}: {help}", sub.get_name());
            for e in examples {
                let line = e.split(" > ").next().unwrap_or(e);
                let args = std::iter::once("sfn-operator").chain(line.split_whitespace());
                assert!(Cli::try_parse_from(args).is_ok(), "does not parse: {e}");
                seen += 1;
            }
        }
        assert!(seen >= 18);
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
