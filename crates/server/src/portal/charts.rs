//! Charts drawn on the server as SVG (plotters), with labelled axes and units.
//! Text in them comes from the caller; anything that could break out of the
//! SVG is removed first.

use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 300);
const BLUE: RGBColor = RGBColor(31, 92, 153);
const ORANGE: RGBColor = RGBColor(191, 87, 0);

/// An axis figure a person reads at a glance: `950`, `12.5k`, `3.2M`, `2.9bn`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (scaled, unit) = if a >= 1e9 {
        (v / 1e9, "bn")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{scaled:.1}");
    format!("{}{unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// Text safe inside the SVG.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '&' | '"' | '\''))
        .collect()
}

/// The SVG, or a short note when drawing failed (a chart never breaks a page).
fn finish(svg: String, r: Result<(), Box<dyn std::error::Error + '_>>) -> String {
    match r {
        Ok(()) => svg.replacen("<svg ", "<svg role=\"img\" focusable=\"false\" ", 1),
        Err(e) => {
            tracing::warn!(error = %e, "chart not drawn");
            String::new()
        }
    }
}

/// Vertical bars, one per label; `y_max` fixes the scale (e.g. 100 for percent).
pub fn bars(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    labels: &[String],
    values: &[f64],
    y_max: f64,
) -> String {
    let mut svg = String::new();
    let r = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let n = labels.len().max(1);
        let top = values.iter().copied().fold(y_max, f64::max).max(1.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(clean(title), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((0..n).into_segmented(), 0.0..top)?;
        let every = n.div_ceil(12).max(1);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(clean(x_desc))
            .y_desc(clean(y_desc))
            .x_labels(n.min(12))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if i % every == 0 => {
                    labels.get(*i).map(|l| clean(l)).unwrap_or_default()
                }
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, v)| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                BLUE.filled(),
            );
            bar.set_margin(0, 0, 2, 2);
            bar
        }))?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

/// Lines over days: `series` are (name, points of (day, value)); `day_label` names a day.
pub fn lines(
    title: &str,
    y_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    day_label: &dyn Fn(f64) -> String,
) -> String {
    let mut svg = String::new();
    let r = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let pts = series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0.0f64);
        for &(x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        // At least a week, so that day ticks fall on whole, distinct days.
        if x1 - x0 < 7.0 {
            x1 = x0 + 7.0;
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(clean(title), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(x0..x1, 0.0..(y1 * 1.05).max(1.0))?;
        chart
            .configure_mesh()
            .x_desc("date (Hong Kong)")
            .y_desc(clean(y_desc))
            .x_labels(8)
            .x_label_formatter(&|d| clean(&day_label(*d)))
            .y_label_formatter(&|v| compact(*v))
            .draw()?;
        for (i, (name, p)) in series.iter().enumerate() {
            let c = if i == 0 { BLUE } else { ORANGE };
            chart
                .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))?
                .label(clean(name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_have_axes_and_labels_and_no_markup_from_names() {
        let labels: Vec<String> = (0..24).map(|h| format!("{h:02}:00")).collect();
        let values: Vec<f64> = (0..24).map(|h| f64::from(h) * 4.0).collect();
        let svg = bars(
            "GPU utilisation <script>",
            "hour",
            "busy (%)",
            &labels,
            &values,
            100.0,
        );
        assert!(
            svg.starts_with("<svg role=\"img\""),
            "{}",
            &svg[..80.min(svg.len())]
        );
        assert!(svg.contains("busy (%)") && svg.contains("00:00"));
        assert!(!svg.contains("<script"));
        assert!(
            !svg.contains("style="),
            "inline styles would be blocked by the CSP"
        );
    }

    #[test]
    fn axis_figures_are_compact() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(100_000_000.0), "100M");
        assert_eq!(compact(2_940_000_000.0), "2.9bn");
        assert_eq!(compact(-3_200_000.0), "-3.2M");
    }

    #[test]
    fn lines_label_days_and_series() {
        let s = vec![("remaining".to_string(), vec![(0.0, 100.0), (10.0, 40.0)])];
        let svg = lines("Pool", "HK$", &s, &|d| format!("day {d:.0}"));
        assert!(svg.contains("remaining") && svg.contains("day 0") && svg.contains("HK$"));
    }
}
