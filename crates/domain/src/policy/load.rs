//! Reading the policy directory at start-up: the one place of the domain
//! crate that touches files, kept here so that a bad file stops start-up
//! with its name, key and problem.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::PolicyError;
use super::program::Program;

impl Program {
    /// Every `*.toml` file of `dir`, in file-name order. The error names the
    /// file (or the directory) and what is wrong with it; two files may not
    /// declare the same program id.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Vec<Self>, (PathBuf, PolicyError)> {
        let dir = dir.as_ref();
        let unreadable = |error: std::io::Error| (dir.to_path_buf(), PolicyError::new("(dir)", error.to_string()));
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if path.is_file() && path.extension().is_some_and(|ext| ext == "toml") {
                paths.push(path);
            }
        }
        paths.sort();

        let mut programs: Vec<(PathBuf, Self)> = Vec::with_capacity(paths.len());
        for path in paths {
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => return Err((path, PolicyError::new("(file)", error.to_string()))),
            };
            let program = match Self::from_toml(&text) {
                Ok(program) => program,
                Err(error) => return Err((path, error)),
            };
            if let Some((first, _)) = programs.iter().find(|(_, earlier)| earlier.id == program.id) {
                let message = format!("program id \"{}\" is already used by {}", program.id, first.display());
                return Err((path, PolicyError::new("id", message)));
            }
            programs.push((path, program));
        }
        Ok(programs.into_iter().map(|(_, program)| program).collect())
    }
}
