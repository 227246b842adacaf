//! The chart of an alert: a small PNG of the watch's mentions per hour over
//! the last days, the window that fired shaded, the usual level as a band;
//! and the chart of a period (digests, `chart.png?since=&until=`): the
//! mentions of the period in at most [`MAX_BARS`] bars, the previous
//! period's mean per bar as the usual level.
//!
//! Owns: turning per-minute bucket counts into a series ([`Series::hourly`],
//! [`Series::binned`]) and drawing it ([`png`]) with plotters' bitmap
//! backend, then encoding the pixels with the `png` crate. It draws no text, so it needs no font (the
//! email says in words what the chart shows; its `alt` text explains it).
//! It does not read the store (the outbox hands it the buckets) and is CPU
//! work: async callers run it on `spawn_blocking`.

use plotters::prelude::*;

/// Width of the image, in pixels.
pub const WIDTH: u32 = 600;
/// Height of the image, in pixels.
pub const HEIGHT: u32 = 200;
/// How far back the chart looks.
pub const SPAN_SECS: i64 = 3 * 86_400;
/// One bar per this many seconds.
pub const STEP_SECS: i64 = 3600;

/// The chart of `watch` over the [`SPAN_SECS`] before `end` (Unix
/// seconds), from the state store's buckets, with the window
/// `[end − window_secs, end]` shaded and, when `expected` (mentions over the
/// window) is given, the usual level. Blocking: call it off the async
/// threads.
pub fn watch_png(
    state: &crate::store::state::StateStore,
    watch: &str,
    end: i64,
    window_secs: i64,
    expected: Option<f64>,
) -> Result<Vec<u8>, String> {
    let to = end.div_euclid(60);
    let from = to - SPAN_SECS / 60 - 60;
    let rows: Vec<(i64, u64)> = state
        .buckets()
        .of_watch(watch, from, to)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(minute, total, _)| (minute, total))
        .collect();
    let series = Series::hourly(&rows, end);
    let per_step = match (expected, window_secs) {
        (Some(e), w) if w > 0 => Some(e * STEP_SECS as f64 / w as f64),
        _ => None,
    };
    png(
        &series,
        &Marks {
            window: (end - window_secs.max(60), end + 1),
            expected_per_step: per_step,
        },
    )
}

/// Most bars of a period chart: a week of hours.
pub const MAX_BARS: i64 = 168;

/// The bar length of a period chart of `len_secs`: whole hours, as few as
/// keep the bars at most [`MAX_BARS`].
pub fn period_step(len_secs: i64) -> i64 {
    let per_bar = STEP_SECS * MAX_BARS;
    let hours = (len_secs.max(1) + per_bar - 1) / per_bar;
    hours.max(1) * STEP_SECS
}

/// How many bars of `step` cover `len_secs`.
pub fn period_bars(len_secs: i64, step: i64) -> usize {
    usize::try_from((len_secs.max(1) + step - 1) / step.max(1)).unwrap_or(0)
}

/// The chart of a period: `counts` in bars of `step` seconds from `start`
/// (Unix seconds), the usual level `usual_per_bar` as a band when given.
/// Nothing is shaded. Blocking.
pub fn period_png(
    counts: &[u64],
    start: i64,
    step: i64,
    usual_per_bar: Option<f64>,
) -> Result<Vec<u8>, String> {
    png(
        &Series {
            start,
            step,
            counts: counts.to_vec(),
        },
        &Marks {
            window: (i64::MIN, i64::MIN),
            expected_per_step: usual_per_bar,
        },
    )
}

/// The chart of `watch` over `[start, end)` (Unix seconds) from the state
/// store's buckets, the previous period of the same length giving the
/// usual level. Blocking: call it off the async threads.
pub fn watch_period_png(
    state: &crate::store::state::StateStore,
    watch: &str,
    start: i64,
    end: i64,
) -> Result<Vec<u8>, String> {
    let len = end - start;
    if len <= 0 {
        return Err("the period is empty: `since` must be before `until`".into());
    }
    let step = period_step(len);
    let n = period_bars(len, step);
    let rows: Vec<(i64, u64)> = state
        .buckets()
        .of_watch(watch, (start - len).div_euclid(60), end.div_euclid(60))
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(minute, total, _)| (minute, total))
        .collect();
    let now = Series::binned(&rows, start, step, n);
    let before: u64 = rows
        .iter()
        .filter(|(m, _)| (start - len..start).contains(&(m * 60)))
        .map(|(_, t)| t)
        .sum();
    let usual = (before > 0).then(|| before as f64 / n as f64);
    period_png(&now.counts, start, step, usual)
}

/// Mention counts at a fixed step.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Unix seconds of the first bar's start.
    pub start: i64,
    /// Seconds per bar.
    pub step: i64,
    pub counts: Vec<u64>,
}

impl Series {
    /// Sums `(minute, total)` buckets (Unix minutes; hourly rows after
    /// compaction are keyed at their first minute) into bars of
    /// [`STEP_SECS`] covering the [`SPAN_SECS`] that end at `end` (Unix
    /// seconds). Buckets outside the span are ignored.
    pub fn hourly(buckets: &[(i64, u64)], end: i64) -> Series {
        let step = STEP_SECS;
        let last = end.div_euclid(step) * step;
        let n = (SPAN_SECS / step) as usize;
        let start = last - (n as i64 - 1) * step;
        Series::binned(buckets, start, step, n)
    }

    /// Sums `(minute, total)` buckets into `n` bars of `step` seconds from
    /// `start` (Unix seconds); buckets outside are ignored.
    pub fn binned(buckets: &[(i64, u64)], start: i64, step: i64, n: usize) -> Series {
        let mut counts = vec![0u64; n];
        for &(minute, total) in buckets {
            let t = minute * 60;
            if t < start {
                continue;
            }
            if let Some(c) = usize::try_from((t - start) / step)
                .ok()
                .and_then(|i| counts.get_mut(i))
            {
                *c += total;
            }
        }
        Series {
            start,
            step,
            counts,
        }
    }
}

/// What to draw beside the bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marks {
    /// The alert window, Unix seconds `[from, to)`.
    pub window: (i64, i64),
    /// Mentions expected per bar, when there is an expectation.
    pub expected_per_step: Option<f64>,
}

const BAR: RGBColor = RGBColor(0x3a, 0x6e, 0xa5);
const BAR_HOT: RGBColor = RGBColor(0xb0, 0x00, 0x20);
const WINDOW: RGBColor = RGBColor(0xfb, 0xe3, 0xe6);
const BAND: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const LEVEL: RGBColor = RGBColor(0x88, 0x88, 0x88);
const AXIS: RGBColor = RGBColor(0x99, 0x99, 0x99);

/// The chart as PNG bytes; an error says what failed to draw or encode.
pub fn png(series: &Series, marks: &Marks) -> Result<Vec<u8>, String> {
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    draw(&mut rgb, series, marks).map_err(|e| format!("cannot draw the chart: {e}"))?;
    let mut out = Vec::new();
    {
        let mut enc = ::png::Encoder::new(&mut out, WIDTH, HEIGHT);
        enc.set_color(::png::ColorType::Rgb);
        enc.set_depth(::png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| format!("cannot encode the chart: {e}"))?;
        w.write_image_data(&rgb)
            .map_err(|e| format!("cannot encode the chart: {e}"))?;
    }
    Ok(out)
}

fn draw(rgb: &mut [u8], s: &Series, m: &Marks) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = s.counts.len().max(1) as i64;
    let x0 = s.start;
    let x1 = s.start + n * s.step;
    let band = m
        .expected_per_step
        .filter(|e| e.is_finite() && *e > 0.0)
        .map(|e| {
            let spread = 2.0 * e.sqrt();
            ((e - spread).max(0.0), e + spread, e)
        });
    let top = s.counts.iter().copied().max().unwrap_or(0) as f64;
    let ymax = (top.max(band.map_or(0.0, |b| b.1)) * 1.1).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .build_cartesian_2d(x0..x1, 0f64..ymax)?;
    let (from, to) = (m.window.0.max(x0), m.window.1.min(x1));
    if from < to {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, 0.0), (to, ymax)],
            WINDOW.filled(),
        )))?;
    }
    if let Some((lo, hi, e)) = band {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, lo), (x1, hi)],
            BAND.mix(0.6).filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x0, e), (x1, e)],
            LEVEL.stroke_width(1),
        )))?;
    }
    let gap = s.step / 8;
    chart.draw_series(
        s.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| {
                let a = x0 + i as i64 * s.step;
                let hot = a + s.step > m.window.0 && a < m.window.1;
                let colour = if hot { BAR_HOT } else { BAR };
                Rectangle::new(
                    [(a + gap, 0.0), (a + s.step - gap, *c as f64)],
                    colour.filled(),
                )
            }),
    )?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(x0, 0.0), (x1, 0.0)],
        AXIS.stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sum_into_hours_ending_at_the_alert() {
        let end = 10 * 86_400 + 1800; // half past the hour
        let m = |t: i64| t / 60;
        let s = Series::hourly(
            &[
                (m(end), 5),
                (m(end - 60), 2),
                (m(end - 3600), 7),
                (m(end - SPAN_SECS - 7200), 100), // too old
                (m(end + 7200), 100),             // after the alert
            ],
            end,
        );
        assert_eq!(s.counts.len(), 72);
        assert_eq!(s.counts[71], 7, "{:?}", &s.counts[68..]);
        assert_eq!(s.counts[70], 7);
        assert_eq!(s.counts.iter().sum::<u64>(), 14);
        assert_eq!(s.start + 71 * 3600, 10 * 86_400);
    }

    #[test]
    fn period_steps_keep_bars_bounded() {
        assert_eq!(period_step(86_400), 3600);
        assert_eq!(period_step(7 * 86_400), 3600);
        assert_eq!(period_step(7 * 86_400 + 1), 7200);
        assert_eq!(period_step(30 * 86_400), 5 * 3600);
        assert_eq!(period_bars(7 * 86_400, 3600), 168);
        assert_eq!(period_bars(30 * 86_400, 5 * 3600), 144);
        let s = Series::binned(&[(0, 1), (59, 2), (60, 4), (600, 8)], 0, 3600, 2);
        assert_eq!(s.counts, vec![3, 4]);
    }

    #[test]
    fn png_is_a_valid_image_of_the_right_size() {
        let s = Series {
            start: 0,
            step: 3600,
            counts: (0..72).map(|i| if i > 68 { 60 } else { i % 5 }).collect(),
        };
        let bytes = png(
            &s,
            &Marks {
                window: (69 * 3600, 72 * 3600),
                expected_per_step: Some(3.0),
            },
        )
        .unwrap();
        let dec = ::png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut r = dec.read_info().unwrap();
        let info = r.info();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        // The hot bars are drawn: some pixels are the alert colour.
        assert!(buf.chunks(3).any(|p| p == [0xb0, 0x00, 0x20]));
        // A period chart has no hot bar, and its bars are drawn.
        let p = period_png(&[3, 0, 9, 4], 0, 3600, Some(2.0)).unwrap();
        let mut r = ::png::Decoder::new(std::io::Cursor::new(&p))
            .read_info()
            .unwrap();
        let mut buf = vec![0; r.output_buffer_size().unwrap()];
        r.next_frame(&mut buf).unwrap();
        assert!(!buf.chunks(3).any(|p| p == [0xb0, 0x00, 0x20]));
        assert!(buf.chunks(3).filter(|p| *p == [0x3a, 0x6e, 0xa5]).count() > 100);
        // An empty series still draws.
        let empty = Series {
            start: 0,
            step: 3600,
            counts: vec![0; 72],
        };
        assert!(
            png(
                &empty,
                &Marks {
                    window: (0, 0),
                    expected_per_step: None
                }
            )
            .is_ok()
        );
    }
}
