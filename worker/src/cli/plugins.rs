//! `culvert plugins list`: load the built-in plugins and those under `--plugin-path` with
//! wasmtime and print what each is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use culvert_plugin_host::{PluginEngine, PluginLimits};

use crate::builtin;

/// Prints one row per plugin (every version); a component that fails to load is reported on
/// stderr and makes the command exit non-zero, after every other plugin was listed.
pub(crate) async fn list(plugin_path: &[PathBuf], cache_dir: Option<&Path>) -> ExitCode {
    let engine = match PluginEngine::with_cache(PluginLimits::default(), cache_dir) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("culvert plugins list: {e}");
            return ExitCode::FAILURE;
        }
    };
    let registry = builtin::registry(&engine, plugin_path).await;
    let mut rows = vec![[
        "NAME".to_string(),
        "VERSION".to_string(),
        "KIND".to_string(),
        "ORIGIN".to_string(),
        "DESCRIPTION".to_string(),
    ]];
    for plugin in registry.plugins() {
        let spec = plugin.spec();
        rows.push([
            spec.name.clone(),
            spec.version.clone(),
            plugin.kind().to_string(),
            plugin.origin().to_string(),
            spec.description.clone(),
        ]);
    }
    print!("{}", render_table(&rows));
    for problem in registry.problems() {
        eprintln!(
            "culvert plugins list: skipped {}: {}",
            problem.origin, problem.error
        );
    }
    if registry.problems().is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
fn render_table(rows: &[[String; 5]]) -> String {
    let mut widths = [0usize; 5];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render_table;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let rows = [
            ["NAME", "VERSION", "KIND", "ORIGIN", "DESCRIPTION"].map(String::from),
            ["datagen", "0.1.0", "source", "builtin:datagen", "Generates"].map(String::from),
        ];
        let table = render_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "NAME     VERSION  KIND    ORIGIN           DESCRIPTION"
        );
        assert_eq!(
            lines[1],
            "datagen  0.1.0    source  builtin:datagen  Generates"
        );
    }
}
