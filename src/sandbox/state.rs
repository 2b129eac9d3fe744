//! The sandbox's whole state and its persistence: one JSON file, replaced atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::apigw::ApiGatewayState;
use super::sfn::SfnState;

/// Everything the sandbox remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SandboxState {
    #[serde(default)]
    pub sfn: SfnState,
    #[serde(default)]
    pub apigw: ApiGatewayState,
}

/// Loads the state file; a missing file is an empty state, an unreadable or corrupt one an error.
pub fn load(path: &Path) -> Result<SandboxState, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::CorruptState {
            path: path.to_path_buf(),
            source,
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(SandboxState::default()),
        Err(source) => Err(Error::StateFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the state durably: temp file in the same directory, fsync, rename over, fsync the directory.
pub fn save(path: &Path, state: &SandboxState) -> Result<(), Error> {
    let io = |source| Error::StateFile {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Ok(dir) = std::fs::File::open(&dir) {
        dir.sync_all().map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file_is_an_error_naming_it() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.json");
        assert_eq!(load(&path)?, SandboxState::default());
        let mut state = SandboxState::default();
        state.sfn.next_revision = 9;
        save(&path, &state)?;
        assert_eq!(load(&path)?, state);
        std::fs::write(&path, b"{not json")?;
        let err = load(&path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("state.json"), "{err}");
        Ok(())
    }
}
