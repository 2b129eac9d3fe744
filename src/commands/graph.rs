//! `sfn-operator graph`: draws one state machine's definition (SVG, Mermaid or DOT) from its
//! manifest (the same loading as `validate`, `definitionFile` resolved) or from an ASL file.
//! Offline: no AWS call.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::{GraphFormat, GraphOpts};
use crate::desired::Resource;
use crate::graph::{Graph, svg, text};
use crate::manifest;

/// A definition found in the paths, with the names it answers to.
struct Found {
    /// What it is called in messages and the picture's title.
    name: String,
    /// Names `--machine` may use.
    aliases: Vec<String>,
    definition: Value,
}

/// Draws the chosen machine; exit 0, 1 when manifests are invalid, 64 when the machine is not
/// found or not chosen among several.
pub fn run(opts: &GraphOpts) -> crate::Result<u8> {
    let (asl_files, manifest_paths): (Vec<PathBuf>, Vec<PathBuf>) =
        opts.manifests.paths.iter().cloned().partition(|p| is_asl_file(p));
    let mut found = Vec::new();
    for p in &asl_files {
        found.push(read_asl(p)?);
    }
    if !manifest_paths.is_empty() {
        let mut mopts = opts.manifests.clone();
        mopts.paths = manifest_paths;
        let loaded = manifest::load(&crate::setup::load_options(&mopts, None, None));
        if !loaded.diagnostics.is_empty() {
            for d in &loaded.diagnostics {
                eprintln!("{d}");
            }
            return Ok(crate::exit::FAILURE);
        }
        for r in &loaded.desired.resources {
            if let Resource::StateMachine(sm) = r {
                found.push(Found {
                    name: sm.meta.name.clone(),
                    aliases: vec![sm.meta.name.clone(), sm.name.clone()],
                    definition: sm.definition.clone(),
                });
            }
        }
    }
    let chosen = choose(found, opts.machine.as_deref())?;
    let graph = Graph::from_definition(&chosen.definition);
    let picture = match opts.output {
        GraphFormat::Svg => svg::render(&graph, &chosen.name),
        GraphFormat::Mermaid => text::mermaid(&graph),
        GraphFormat::Dot => text::dot(&graph, &chosen.name),
    };
    match &opts.out {
        Some(file) => std::fs::write(file, picture).map_err(|source| crate::Error::Io {
            context: format!("writing {}", file.display()),
            source,
        })?,
        None => std::io::stdout()
            .write_all(picture.as_bytes())
            .map_err(|source| crate::Error::Io {
                context: "writing the picture".into(),
                source,
            })?,
    }
    Ok(crate::exit::OK)
}

fn choose(found: Vec<Found>, machine: Option<&str>) -> crate::Result<Found> {
    let names = || {
        let mut n: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        n.sort_unstable();
        n.join(", ")
    };
    match machine {
        Some(m) => {
            let listed = names();
            found
                .into_iter()
                .find(|f| f.aliases.iter().any(|a| a == m))
                .ok_or_else(|| {
                    crate::Error::Usage(if listed.is_empty() {
                        format!("no state machine named {m:?}: the paths hold none")
                    } else {
                        format!("no state machine named {m:?}; there are: {listed}")
                    })
                })
        }
        None if found.len() == 1 => Ok(found.into_iter().next().expect("one")),
        None if found.is_empty() => Err(crate::Error::Usage(
            "no state machine found in the paths given".into(),
        )),
        None => Err(crate::Error::Usage(format!(
            "{} state machines found; choose one with --machine NAME: {}",
            found.len(),
            names()
        ))),
    }
}

/// Whether `p` is an ASL definition file (`NAME.asl.json`, `NAME.asl.yaml`, `NAME.asl.yml`).
fn is_asl_file(p: &Path) -> bool {
    p.is_file()
        && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            [".asl.json", ".asl.yaml", ".asl.yml"]
                .iter()
                .any(|s| n.ends_with(s))
        })
}

fn read_asl(p: &Path) -> crate::Result<Found> {
    let text = std::fs::read_to_string(p).map_err(|source| crate::Error::Io {
        context: format!("reading {}", p.display()),
        source,
    })?;
    let definition: Value = if p.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)
            .map_err(|e| crate::Error::Input(format!("{}:{}:{}: {e}", p.display(), e.line(), e.column())))?
    } else {
        serde_saphyr::from_str(&text).map_err(|e| crate::Error::Input(format!("{}: {e}", p.display())))?
    };
    let file = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let name = file.split(".asl.").next().unwrap_or(file).to_owned();
    Ok(Found {
        aliases: vec![name.clone(), file.to_owned()],
        name,
        definition,
    })
}
