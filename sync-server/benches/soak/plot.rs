//! The soak's plot: the relay's memory, its file descriptors and open live sockets, and
//! the p50 and p99 latency of pushes and pulls, against minutes of load, as an SVG. Text is
//! written as SVG `<text>` for the viewer to set, so no font is needed here.

use std::path::Path;

use plotters::prelude::*;

use crate::samples::Sample;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 960;
/// Muted colours that stay apart in print and for the common colour blindnesses.
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(213, 94, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const PALE_BLUE: RGBColor = RGBColor(120, 180, 220);
const PALE_ORANGE: RGBColor = RGBColor(240, 170, 120);

type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// Draws `samples` to `path`, under `title`.
/// `interval` is the samples' (each latency is over the interval before its sample);
/// `warmup` (minutes) is marked on every panel with a grey line when it is not 0.
pub fn draw(
    path: &Path,
    title: &str,
    interval: f64,
    warmup: f64,
    samples: &[Sample],
) -> Result<(), String> {
    let minutes = |s: &Sample| s.elapsed_s / 60.0;
    let end = samples.iter().map(minutes).fold(0.0, f64::max).max(0.1);
    let series = |f: &dyn Fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        samples.iter().map(|s| (minutes(s), f(s))).collect()
    };
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| e.to_string())?;
    let panels = root.split_evenly((3, 1));
    panel(
        &panels[0],
        "relay resident memory: all of it (VmRSS), and its heap and stacks (RssAnon)",
        "MiB",
        end,
        warmup,
        &[
            ("RSS", BLUE, series(&|s| s.rss_kib as f64 / 1024.0)),
            (
                "anonymous (heap, stacks)",
                PALE_BLUE,
                series(&|s| s.rss_anon_kib as f64 / 1024.0),
            ),
        ],
    )?;
    panel(
        &panels[1],
        "relay file descriptors and open live sockets",
        "count",
        end,
        warmup,
        &[
            ("open file descriptors", BLUE, series(&|s| s.fds as f64)),
            (
                "live sockets (relay's gauge)",
                GREEN,
                series(&|s| s.relay_live as f64),
            ),
        ],
    )?;
    panel(
        &panels[2],
        &format!("push and pull latency over each {interval:.0} s interval"),
        "ms",
        end,
        warmup,
        &[
            ("push p99", BLUE, series(&|s| s.push.p99)),
            ("pull p99", ORANGE, series(&|s| s.pull.p99)),
            ("push p50", PALE_BLUE, series(&|s| s.push.p50)),
            ("pull p50", PALE_ORANGE, series(&|s| s.pull.p50)),
        ],
    )?;
    root.present()
        .map_err(|e| format!("write {}: {e}", path.display()))
}

/// One panel: `lines` against minutes `0..end`, from 0 to a little above their largest,
/// with the end of the warm-up marked at minute `warmup` (when not 0).
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    unit: &str,
    end: f64,
    warmup: f64,
    lines: &[Series<'_>],
) -> Result<(), String> {
    let top = lines
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|&(_, y)| y))
        .fold(0.0, f64::max);
    // Headroom for the legend, top right.
    let top = if top > 0.0 { top * 1.4 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("minutes of load")
        .y_desc(unit)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    if warmup > 0.0 {
        chart
            .draw_series(LineSeries::new(
                [(warmup, 0.0), (warmup, top)],
                BLACK.mix(0.35).stroke_width(1),
            ))
            .map_err(|e| e.to_string())?
            .label("end of the warm-up")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.35)));
    }
    for (label, colour, points) in lines {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}
