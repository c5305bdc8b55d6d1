//! The "Outputs" part of the run report: a thumbnail of each raster a task wrote and the
//! zonal statistics as sortable tables.
//!
//! Thumbnails are cached in `<workspace>/thumbnails/`, named by the output's content digest (the
//! graph's, from its memo: nothing is read again). A skipped task's outputs keep their content,
//! so its last thumbnail is found and shown without being drawn again, also in a copied or moved
//! project; a task that ran wrote new content, so it is drawn. Thumbnails no report refers to
//! any more are removed. With a shared cache, a drawn thumbnail is also kept in the store beside
//! its output's blob, so a project that restores the output takes the thumbnail from there
//! instead of reading the whole raster again to draw it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pgp::graph::cache::Cache;
use pgp::graph::Digest;
use pgp::pipeline::{Pipeline, PipelineTask};
use pgp::view::{write_png, Options, ViewError};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use pgp::graph::report::{TaskRecord, TaskState};

/// Longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIZE: usize = 256;
/// Where thumbnails live, under the workspace.
pub const THUMBNAIL_DIR: &str = "thumbnails";
/// Bump when thumbnails are drawn differently, so cached ones are redrawn.
const THUMBNAIL_VERSION: u32 = 2;
/// Most rows of one zonal statistics table (the JSON file holds them all).
const MAX_ZONAL_ROWS: usize = 2000;
const ZONAL_OP: &str = "pgp.zonal_stats";

/// What the report shows of one output.
enum Shown {
    Thumbnail { file: String },
    Zonal(Value),
    Nothing(String),
}

/// The file name under [`THUMBNAIL_DIR`] for an output whose content has this digest.
fn thumbnail_name(content: &Digest) -> String {
    let mut h = Sha256::new();
    h.update(THUMBNAIL_VERSION.to_le_bytes());
    h.update(content.0);
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.png")
}

/// What a thumbnail is called in a shared store, beside its output's blob.
fn thumbnail_kind() -> String {
    format!("thumb-v{THUMBNAIL_VERSION}-{THUMBNAIL_SIZE}.png")
}

/// The thumbnail of `path`: the workspace's, else the shared store's, else (when `draw`) a new
/// one, which is then offered to the store too.
fn thumbnail(
    workspace: &Path,
    path: &Path,
    draw: bool,
    digest_of: DigestOf<'_>,
    cache: Option<&Cache>,
) -> Shown {
    let Some(content) = digest_of(path) else {
        return Shown::Nothing("missing".into());
    };
    let name = thumbnail_name(&content);
    let dir = workspace.join(THUMBNAIL_DIR);
    let file = dir.join(&name);
    let rel = format!("{THUMBNAIL_DIR}/{name}");
    let offer = |file: &Path| {
        if let Some(cache) = cache {
            if !cache.derived_path(&content, &thumbnail_kind()).is_file() {
                if let Ok(bytes) = std::fs::read(file) {
                    // Best effort: a store we may not write to still serves the report.
                    let _ = cache.add_derived(&content, &thumbnail_kind(), &bytes);
                }
            }
        }
    };
    if file.is_file() {
        offer(&file);
        return Shown::Thumbnail { file: rel };
    }
    if let Some(bytes) = cache.and_then(|c| c.derived(&content, &thumbnail_kind())) {
        if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&file, bytes).is_ok() {
            return Shown::Thumbnail { file: rel };
        }
    }
    if !draw {
        return Shown::Nothing("not drawn (the task did not finish)".into());
    }
    let picture = match pgp::view::suggest_colormap(path, 1).and_then(|colormap| {
        let options = Options {
            max_size: THUMBNAIL_SIZE,
            colormap,
            ..Options::default()
        };
        pgp::view::render(path, &options)
    }) {
        Ok(p) => p,
        Err(ViewError::Raster(pgp::core::Error::NotARaster { .. })) => {
            return Shown::Nothing("not a raster".into())
        }
        Err(e) => return Shown::Nothing(format!("no thumbnail: {e}")),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Shown::Nothing(format!("no thumbnail: {}: {e}", dir.display()));
    }
    match write_png(&picture, &file) {
        Ok(()) => {
            offer(&file);
            Shown::Thumbnail { file: rel }
        }
        Err(e) => Shown::Nothing(format!("no thumbnail: {e}")),
    }
}

fn zonal(path: &Path) -> Shown {
    let parsed = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
    match parsed {
        Ok(v @ Value::Object(_)) => Shown::Zonal(v),
        Ok(_) => Shown::Nothing("not a zonal statistics object".into()),
        Err(e) => Shown::Nothing(format!("unreadable: {e}")),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number_cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!(r#"<td data-v="{x}">{}</td>"#, short(x)),
        _ => r#"<td data-v="">-</td>"#.to_string(),
    }
}

fn short(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.4}")
    }
}

fn zonal_table(task: &str, stats: &Value) -> String {
    let Value::Object(features) = stats else {
        return String::new();
    };
    let mut rows: Vec<(&String, &Value)> = features.iter().collect();
    // Feature ids in number order where they are numbers.
    rows.sort_by(|a, b| {
        let key = |s: &str| s.parse::<f64>().unwrap_or(f64::INFINITY);
        key(a.0).total_cmp(&key(b.0)).then(a.0.cmp(b.0))
    });
    let mut s = format!(
        r#"<table class="zonal sortable" data-task="{}"><thead><tr><th>fid</th><th>count</th><th>nodata</th><th>min</th><th>max</th><th>mean</th><th>sum</th></tr></thead><tbody>"#,
        esc(task)
    );
    for (fid, v) in rows.iter().take(MAX_ZONAL_ROWS) {
        let num = |k: &str| v.get(k).and_then(Value::as_f64);
        let mean = match (num("sum"), num("count")) {
            (Some(sum), Some(n)) if n > 0.0 => Some(sum / n),
            _ => None,
        };
        let fid_v = fid
            .parse::<f64>()
            .map(|x| x.to_string())
            .unwrap_or_default();
        let _ = write!(
            s,
            r#"<tr><td data-v="{fid_v}">{}</td>{}{}{}{}{}{}</tr>"#,
            esc(fid),
            number_cell(num("count")),
            number_cell(num("nodata_count")),
            number_cell(num("min")),
            number_cell(num("max")),
            number_cell(mean),
            number_cell(num("sum")),
        );
    }
    s.push_str("</tbody></table>");
    if rows.len() > MAX_ZONAL_ROWS {
        let _ = write!(
            s,
            "<p>First {MAX_ZONAL_ROWS} of {} features; the JSON file has them all.</p>",
            rows.len()
        );
    }
    s
}

/// Click a column head to sort by it; again to reverse. Numbers sort as numbers, blanks last.
const SORT_SCRIPT: &str = r#"<script>
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var up = th.getAttribute('data-dir') !== 'up';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', up ? 'up' : 'down');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) { var v = r.cells[col].getAttribute('data-v'); return v === '' ? NaN : parseFloat(v); };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (isNaN(x) || isNaN(y)) { return isNaN(x) - isNaN(y); }
        return up ? x - y : y - x;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"#;

/// An output's content digest, if it can be read.
pub type DigestOf<'a> = &'a dyn Fn(&Path) -> Option<Digest>;

fn shown_of(
    workspace: &Path,
    task: &PipelineTask,
    state: TaskState,
    digest_of: DigestOf<'_>,
    cache: Option<&Cache>,
) -> Vec<(PathBuf, Shown)> {
    let done = matches!(
        state,
        TaskState::Ran | TaskState::Skipped | TaskState::Restored
    );
    task.outputs
        .iter()
        .map(|out| {
            let shown = if task.op == ZONAL_OP {
                if done {
                    zonal(out)
                } else {
                    Shown::Nothing("not finished".into())
                }
            } else {
                thumbnail(workspace, out, done, digest_of, cache)
            };
            (out.clone(), shown)
        })
        .collect()
}

/// Draw (or find, in the workspace or the shared `cache`) the thumbnails and build the report's
/// "Outputs" section; thumbnails the section does not use are deleted.
pub fn outputs_section(
    workspace: &Path,
    p: &Pipeline,
    recs: &[TaskRecord],
    digest_of: DigestOf<'_>,
    cache: Option<&Cache>,
) -> String {
    let mut used = BTreeSet::new();
    let mut s = String::from(
        "<h2>Outputs</h2>\n<p>A thumbnail of each raster a task wrote (a skipped task shows the one drawn when it last ran) and zonal statistics (click a column to sort).</p>\n<table class=\"outputs\">\n",
    );
    for t in &p.tasks {
        let state = recs
            .iter()
            .find(|r| r.name == t.name)
            .map(|r| r.state)
            .unwrap_or(TaskState::Pending);
        let shown = shown_of(workspace, t, state, digest_of, cache);
        let mut cell = String::new();
        for (out, what) in &shown {
            let name = esc(&out.display().to_string());
            match what {
                Shown::Thumbnail { file } => {
                    used.insert(file.clone());
                    let _ = write!(
                        cell,
                        r#"<figure class="thumb"><img src="{file}" alt="{name}"><figcaption>{name}</figcaption></figure>"#
                    );
                }
                Shown::Zonal(v) => {
                    let _ = write!(
                        cell,
                        "<div class=\"zonal-block\"><div>{name}</div>{}</div>",
                        zonal_table(&t.name, v)
                    );
                }
                Shown::Nothing(why) => {
                    let _ = write!(cell, "<div class=\"none\">{name}: {}</div>", esc(why));
                }
            }
        }
        let _ = writeln!(
            s,
            r#"<tr data-task="{0}"><th>{0}<br><small>{1:?}</small></th><td>{cell}</td></tr>"#,
            esc(&t.name),
            state
        );
    }
    s.push_str("</table>\n");
    s.push_str(SORT_SCRIPT);
    prune(&workspace.join(THUMBNAIL_DIR), &used);
    s
}

fn prune(dir: &Path, used: &BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let rel = format!("{THUMBNAIL_DIR}/{}", e.file_name().to_string_lossy());
        if !used.contains(&rel) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Styles of the section.
pub const OUTPUTS_STYLE: &str = "table.outputs{border-collapse:collapse} table.outputs>tbody>tr>th{text-align:left;vertical-align:top;padding:.5em 1em .5em 0} figure.thumb{display:inline-block;margin:0 1em 1em 0} figure.thumb img{display:block;background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px} figcaption{font-size:80%} table.zonal{border-collapse:collapse;font-size:85%;margin-bottom:1em} table.zonal td,table.zonal th{border:1px solid #ccc;padding:.15em .5em;text-align:right} table.zonal th{cursor:pointer;background:#f3f3f3} table.zonal th[data-dir=up]::after{content:' \\25B2'} table.zonal th[data-dir=down]::after{content:' \\25BC'} .none{color:#777;font-size:85%}";
