//! `sfn-operator import` (SPEC §11): read the named state machines and REST APIs (paced by the
//! same client-side rate limits as a pass), turn them into manifests (`crate::import`, pure) and
//! write them to `-o DIR`. Nothing is written when anything is refused, a name does not exist, or
//! a file exists already without `--force`. Exit 0 when written, 1 otherwise.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::{Aws, retry};
use crate::cli::ImportOpts;
use crate::import::{LiveRestApi, LiveVersions, Target, import};
use crate::live::LiveMachine;

/// Runs `import`.
pub async fn run(opts: ImportOpts) -> crate::Result<u8> {
    let dir = &opts.output_dir;
    if dir.exists() && !dir.is_dir() {
        return Err(crate::Error::Input(format!(
            "-o {}: not a directory (import writes one file per system into a directory)",
            dir.display()
        )));
    }
    let target = crate::setup::Target::from_opts(&opts.aws).await?;
    let deadline = crate::setup::deadline(&opts.pass);
    let result = match target
        .connect(&opts.pass, crate::ownership::DEFAULT_OWNER, deadline)
        .await
    {
        Ok(reconciler) => read_and_write(&opts, reconciler.aws(), deadline).await,
        Err(e) => Err(e),
    };
    target.shutdown().await;
    result
}

async fn read_and_write(opts: &ImportOpts, aws: &Aws, deadline: tokio::time::Instant) -> crate::Result<u8> {
    let (machines, versions) = read_machines(
        aws,
        &opts.state_machines,
        !opts.no_aliases,
        usize::from(opts.pass.concurrency),
        deadline,
    )
    .await?;
    let apis = read_apis(aws, &opts.rest_apis, deadline).await?;
    let target = Target {
        region: aws.region.clone(),
        account_id: aws.account_id.clone(),
    };
    let imported = match import(&machines, &versions, &apis, &target) {
        Ok(i) => i,
        Err(refusals) => {
            for r in &refusals {
                eprintln!("error: {r}");
            }
            return Err(crate::Error::Input(format!(
                "{} thing(s) above cannot be expressed in manifests; nothing was written",
                refusals.len()
            )));
        }
    };
    let existing: Vec<String> = imported
        .files
        .iter()
        .map(|f| dir_file(&opts.output_dir, &f.name))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() && !opts.force {
        return Err(crate::Error::Input(format!(
            "{} exist(s) already; nothing was written (--force overwrites)",
            existing.join(", ")
        )));
    }
    std::fs::create_dir_all(&opts.output_dir).map_err(|source| crate::Error::Io {
        context: format!("creating {}", opts.output_dir.display()),
        source,
    })?;
    let mut stdout = std::io::stdout().lock();
    for f in &imported.files {
        let path = dir_file(&opts.output_dir, &f.name);
        write_atomically(&path, &f.text)?;
        let _ = writeln!(stdout, "wrote {}", path.display());
    }
    for s in &imported.skipped {
        let _ = writeln!(stdout, "not imported: {s}");
    }
    Ok(crate::exit::OK)
}

/// `DIR/NAME` (names are made by `crate::import`: one path component, never `..`).
fn dir_file(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join(name)
}

fn write_atomically(path: &Path, text: &str) -> crate::Result<()> {
    let io = |source| crate::Error::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Describes each machine (name or ARN), `concurrency` at a time, in the order given, with its
/// aliases unless `with_aliases` is off; a name that does not exist is an error naming it.
async fn read_machines(
    aws: &Aws,
    names: &[String],
    with_aliases: bool,
    concurrency: usize,
    deadline: tokio::time::Instant,
) -> crate::Result<(Vec<LiveMachine>, BTreeMap<String, LiveVersions>)> {
    // Many machines: their tags from one Tagging API listing (100 a page) instead of one
    // ListTagsForResource each (100, then 1 a second), so DescribeStateMachine's quota is the
    // floor. A machine not listed has no tag; without the listing (no tag:GetResources
    // permission, say) each machine's tags are read with it.
    let listing = if names.len() >= TAG_LISTING_MIN {
        match aws
            .list_tagged(crate::aws::tagging::STATE_MACHINE_TYPE, deadline)
            .await
        {
            Ok(l) => Some(Arc::new(l)),
            Err(error) => {
                tracing::warn!(%error, "listing state machine tags with the Tagging API failed; reading them one by one");
                None
            }
        }
    } else {
        None
    };
    if with_aliases && names.len() > ALIAS_LISTING_BURST {
        tracing::warn!(
            machines = names.len(),
            "reading each machine's aliases takes a ListStateMachineAliases call, which AWS allows {ALIAS_LISTING_BURST} at once, then one a second: about {} s more; --no-aliases skips them",
            names.len() - ALIAS_LISTING_BURST
        );
    }
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let arn = if name.starts_with("arn:") {
            name.clone()
        } else {
            aws.state_machine_arn(name)
        };
        let (aws, sem) = (aws.clone(), Arc::clone(&sem));
        let tags = listing.as_ref().map(|l| l.get(&arn).cloned().unwrap_or_default());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let live = match retry(deadline, || aws.describe_machine(&arn, tags.as_ref())).await {
                Ok(Some(m)) if with_aliases => read_versions(&aws, &m, deadline).await.map(|v| Some((m, v))),
                Ok(m) => Ok(m.map(|m| (m, LiveVersions::default()))),
                Err(e) => Err(e),
            };
            (i, arn, live)
        });
    }
    let progress = names.len() >= PROGRESS_EVERY && std::io::stderr().is_terminal();
    let mut out: Vec<Option<LiveMachine>> = vec![None; names.len()];
    let mut versions = BTreeMap::new();
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let Ok((i, arn, live)) = joined else { continue };
        match live {
            Ok(Some((m, v))) => {
                versions.insert(m.arn.clone(), v);
                out[i] = Some(m);
            }
            Ok(None) => {
                return Err(crate::Error::Input(format!(
                    "StateMachineDoesNotExist: State Machine Does Not Exist: '{arn}'; nothing was written"
                )));
            }
            Err(e) => {
                return Err(crate::Error::Input(format!(
                    "reading state machine {arn}: {e}; nothing was written"
                )));
            }
        }
        done += 1;
        if progress && done % PROGRESS_EVERY == 0 {
            eprintln!("read {done} of {} state machines", names.len());
        }
    }
    Ok((out.into_iter().flatten().collect(), versions))
}

/// The machine's aliases (ListStateMachineAliases, then DescribeStateMachineAlias each) and, when
/// it has any, whether its newest version holds the live configuration.
async fn read_versions(
    aws: &Aws,
    m: &LiveMachine,
    deadline: tokio::time::Instant,
) -> Result<LiveVersions, crate::aws::AwsError> {
    let names = retry(deadline, || aws.list_aliases(&m.arn)).await?;
    let mut aliases = Vec::new();
    for name in &names {
        if let Some(a) = retry(deadline, || aws.read_alias(&m.arn, name)).await? {
            aliases.push(a);
        }
    }
    if aliases.is_empty() {
        return Ok(LiveVersions::default());
    }
    let hint = aliases
        .iter()
        .flat_map(|a| a.routing.iter().map(|(v, _)| *v))
        .max()
        .unwrap_or(0);
    let newest = match retry(deadline, || aws.newest_version(&m.arn, hint)).await? {
        None => None,
        Some(n) => {
            let (version_arn, no_tags) = (format!("{}:{n}", m.arn), BTreeMap::new());
            let version = retry(deadline, || aws.describe_machine(&version_arn, Some(&no_tags))).await?;
            Some((n, version.is_some_and(|v| same_configuration(m, &v))))
        }
    };
    Ok(LiveVersions { aliases, newest })
}

/// Whether a version holds the machine's configuration (what publishing it again would hold).
fn same_configuration(machine: &LiveMachine, version: &LiveMachine) -> bool {
    machine.machine_type == version.machine_type
        && machine.role_arn == version.role_arn
        && machine.definition == version.definition
        && machine.logging == version.logging
        && machine.tracing_enabled == version.tracing_enabled
        && machine.encryption == version.encryption
}

/// From this many machines on, their tags come from one Tagging API listing.
const TAG_LISTING_MIN: usize = 20;

/// ListStateMachineAliases's burst (AWS's default quota: 100, then one a second).
const ALIAS_LISTING_BURST: usize = 100;

/// A progress line on a terminal every this many machines.
const PROGRESS_EVERY: usize = 100;

/// Reads each REST API (by id, else by name: exactly one must have it) with its resources,
/// methods and stages.
async fn read_apis(
    aws: &Aws,
    wanted: &[String],
    deadline: tokio::time::Instant,
) -> crate::Result<Vec<LiveRestApi>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let listed = retry(deadline, || aws.list_apis())
        .await
        .map_err(|e| crate::Error::Input(format!("listing REST APIs: {e}")))?;
    let mut out = Vec::new();
    for w in wanted {
        let by_id: Vec<_> = listed.iter().filter(|a| &a.id == w).collect();
        let found: Vec<_> = if by_id.is_empty() {
            listed.iter().filter(|a| &a.name == w).collect()
        } else {
            by_id
        };
        let api = match found.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(crate::Error::Input(format!(
                    "NotFoundException: no REST API has the id or name {w:?}; nothing was written"
                )));
            }
            many => {
                return Err(crate::Error::Input(format!(
                    "several REST APIs are named {w:?} ({}); give the id; nothing was written",
                    many.iter().map(|a| a.id.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        };
        let resources = retry(deadline, || aws.resources(&api.id))
            .await
            .map_err(|e| crate::Error::Input(format!("reading REST API {}: {e}", api.id)))?;
        let stages = retry(deadline, || aws.stages(&api.id))
            .await
            .map_err(|e| crate::Error::Input(format!("reading the stages of REST API {}: {e}", api.id)))?;
        out.push(LiveRestApi {
            api,
            resources,
            stages,
        });
    }
    Ok(out)
}
