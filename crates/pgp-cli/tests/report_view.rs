//! The run report's outputs: thumbnails of the rasters tasks wrote (kept, not redrawn, for
//! skipped tasks), zonal statistics tables, and the page as headless Chromium draws it.

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use pgp::core::sample;

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

fn table(dir: &Path, class3: f64) {
    let mut s = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        let coef = if k == 3 { class3 } else { 0.1 * k as f64 };
        s.push_str(&format!("{k},{coef}\n"));
    }
    std::fs::write(dir.join("biophysical.csv"), s).unwrap();
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 96, 5).unwrap();
    table(dir.path(), 0.3);
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(example, dir.path().join("pipeline.toml")).unwrap();
    dir
}

fn run(dir: &Path) -> String {
    pgp()
        .arg("run")
        .arg(dir.join("pipeline.toml"))
        .args(["--executor", "threading:2"])
        .assert()
        .success();
    std::fs::read_to_string(dir.join(".pgp/report.html")).unwrap()
}

/// `(output path, thumbnail src)` of every thumbnail in the report, in order.
fn thumbnails(report: &str) -> Vec<(String, String)> {
    report
        .split("<img src=\"")
        .skip(1)
        .map(|rest| {
            let src = rest.split('"').next().unwrap().to_string();
            let alt = rest
                .split("alt=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (alt.to_string(), src)
        })
        .collect()
}

fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    (info.width as usize, info.height as usize, rgba)
}

const RASTERS: [&str; 5] = [
    "work/dem_aligned.tif",
    "work/landcover_aligned.tif",
    "work/precip_aligned.tif",
    "work/coef.tif",
    "work/runoff.tif",
];

#[test]
fn thumbnails_and_zonal_tables_and_skipped_tasks_keep_theirs() {
    let dir = setup();
    let report = run(dir.path());
    let thumbs = thumbnails(&report);
    let outputs: Vec<&str> = thumbs.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outputs, RASTERS, "{report}");
    for (_, src) in &thumbs {
        let (w, h, rgba) = decode(&std::fs::read(dir.path().join(".pgp").join(src)).unwrap());
        assert!(w.max(h) <= 256 + 28 && w >= 200, "{src}: {w} x {h}");
        // The sample rasters have nodata: some pixels are transparent.
        assert!(rgba.chunks(4).any(|p| p[3] == 0), "{src}");
    }

    // The zonal table has one row per feature of the JSON, with its numbers.
    let zonal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("work/zonal_runoff.json")).unwrap(),
    )
    .unwrap();
    let features = zonal.as_object().unwrap();
    let zonal_html = report
        .split("<table class=\"zonal sortable\"")
        .nth(1)
        .unwrap();
    let zonal_html = zonal_html.split("</table>").next().unwrap();
    assert_eq!(zonal_html.matches("<tr><td").count(), features.len());
    let (fid, stats) = features
        .iter()
        .find(|(_, v)| v["count"].as_f64().unwrap_or(0.0) > 0.0)
        .unwrap();
    let max = stats["max"].as_f64().unwrap();
    let row = zonal_html
        .split("<tr>")
        .find(|r| r.starts_with(&format!("<td data-v=\"{fid}\">")))
        .unwrap();
    assert!(row.contains(&format!("data-v=\"{max}\"")), "{row}");

    // Rerun with nothing changed: every task is skipped and the report shows the thumbnails
    // already drawn. Replace one with a marker picture: a redraw would overwrite it.
    let marker = dir.path().join(".pgp").join(&thumbs[4].1);
    let marker_bytes = std::fs::read(dir.path().join(".pgp").join(&thumbs[0].1)).unwrap();
    std::fs::write(&marker, &marker_bytes).unwrap();
    let again = run(dir.path());
    assert!(again.contains(">Skipped<"), "{again}");
    assert_eq!(thumbnails(&again), thumbs);
    assert_eq!(std::fs::read(&marker).unwrap(), marker_bytes, "redrawn");

    // Change the coefficient table: coef and runoff run again and get new thumbnails; the
    // old ones are removed.
    table(dir.path(), 0.9);
    let third = thumbnails(&run(dir.path()));
    assert_eq!(third[..3], thumbs[..3]);
    assert_ne!(third[3].1, thumbs[3].1);
    assert_ne!(third[4].1, thumbs[4].1);
    assert!(!marker.exists());
    let kept = std::fs::read_dir(dir.path().join(".pgp/thumbnails"))
        .unwrap()
        .count();
    assert_eq!(kept, RASTERS.len());
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Run headless Chromium on `page` and return its screenshot.
fn screenshot(browser: &Path, page: &Path, work: &Path) -> Vec<u8> {
    let shot = work.join("screenshot.png");
    let profile = tempfile::tempdir().unwrap();
    let mut child = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1400,2200",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish the screenshot within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read(&shot).unwrap()
}

/// Whether the opaque pixels of `thumb` appear, as they are, somewhere in `shot`.
fn contains(shot: &(usize, usize, Vec<u8>), thumb: &(usize, usize, Vec<u8>)) -> bool {
    let (sw, sh, s) = shot;
    let (tw, th, t) = thumb;
    let opaque: Vec<(usize, usize)> = (0..*th)
        .flat_map(|y| (0..*tw).map(move |x| (x, y)))
        .filter(|&(x, y)| t[(y * tw + x) * 4 + 3] == 255)
        .step_by(3)
        .collect();
    let close = |a: &[u8], b: &[u8]| (0..3).all(|i| a[i].abs_diff(b[i]) <= 2);
    let (fx, fy) = opaque[0];
    let first = &t[(fy * tw + fx) * 4..][..4];
    for oy in 0..=sh.saturating_sub(*th) {
        for ox in 0..=sw.saturating_sub(*tw) {
            if !close(&s[((oy + fy) * sw + ox + fx) * 4..][..4], first) {
                continue;
            }
            let all = opaque.iter().all(|&(x, y)| {
                close(
                    &s[((oy + y) * sw + ox + x) * 4..][..4],
                    &t[(y * tw + x) * 4..][..4],
                )
            });
            if all {
                return true;
            }
        }
    }
    false
}

#[test]
fn the_report_renders_in_chromium_with_its_thumbnails() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_report_renders_in_chromium_with_its_thumbnails: no `chromium` on PATH \
             (Debian's `chromium` package; scripts/install-deps.sh installs it)"
        );
        return;
    };
    let dir = setup();
    let report = run(dir.path());
    let page = dir.path().join(".pgp/report.html");
    let shot = decode(&screenshot(&browser, &page, dir.path()));
    // Keep the picture for a person to look at.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png"),
        std::fs::read(dir.path().join("screenshot.png")).unwrap(),
    );
    let (w, h, rgba) = &shot;
    assert_eq!((*w, *h), (1400, 2200));
    let white = rgba.chunks(4).filter(|p| p[..3] == [255, 255, 255]).count();
    let colours: std::collections::BTreeSet<&[u8]> = rgba.chunks(4).collect();
    assert!(white < w * h * 95 / 100, "the page is nearly blank");
    assert!(colours.len() > 100, "only {} colours", colours.len());
    for (output, src) in thumbnails(&report) {
        let thumb = decode(&std::fs::read(dir.path().join(".pgp").join(&src)).unwrap());
        assert!(
            contains(&shot, &thumb),
            "the thumbnail of {output} is not on the page"
        );
    }
}
