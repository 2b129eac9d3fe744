//! Drawing timings in one process (bench/graph.sh runs it on a release build): every corpus
//! definition of tests/corpus/asl read, laid out and drawn as SVG, the whole corpus timed as one
//! pass; the median of several passes is printed with the per-definition figure.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use sfn_operator::graph::{Graph, svg};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/asl");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    files.sort();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, text)
        })
        .collect();
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(9);
    let mut passes: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        bytes = 0;
        for (name, text) in &texts {
            let def: Value = if name.ends_with(".json") {
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
            } else {
                serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            bytes += svg::render(&Graph::from_definition(&def), name).len();
        }
        passes.push(started.elapsed());
    }
    passes.sort();
    let median = passes[passes.len() / 2];
    println!(
        "| in one process: read, lay out and draw {} definitions (median of {runs} passes, {bytes} bytes of SVG) | {:.3} | {:.2} |",
        texts.len(),
        median.as_secs_f64(),
        median.as_secs_f64() * 1000.0 / texts.len() as f64
    );
}
