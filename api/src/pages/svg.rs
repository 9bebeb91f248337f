//! Charts as inline SVG, drawn here rather than by a script so that they show without
//! JavaScript and every label goes through maud's escaping. Each chart has a `<title>`
//! (its accessible name) and each mark a `<title>` of its own; pages put a text table
//! beside every chart with the same figures.

use maud::{Markup, html};

use super::format;

/// Width of every chart's view box; the CSS scales it to the page.
const WIDTH: f64 = 640.0;
/// Room for the labels left of the bars.
const LABEL_WIDTH: f64 = 150.0;
/// Room for the value right of the longest bar.
const VALUE_WIDTH: f64 = 70.0;
const ROW: f64 = 26.0;
const BAR: f64 = 18.0;

/// One bar: what it counts, how many, and where it leads.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub href: Option<String>,
}

/// Horizontal bars, one per entry, longest scaled to the full width. Each `<rect>` carries
/// `data-label` and `data-value`, which the browser tests compare with the JSON reports.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let height = ROW * bars.len() as f64 + 8.0;
    let span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let title_id = format!("{id}-title");
    html! {
        svg id=(id) class="chart bars" viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
            aria-labelledby=(title_id) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (title) }
            @for (i, bar) in bars.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64;
                @let width = if bar.value == 0 { 0.0 } else { (span * bar.value as f64 / max).max(1.0) };
                @let mark = html! {
                    text.label x=(px(LABEL_WIDTH - 8.0)) y=(px(y + BAR - 5.0)) text-anchor="end" { (bar.label) }
                    rect.bar x=(px(LABEL_WIDTH)) y=(px(y)) width=(px(width)) height=(px(BAR))
                        data-label=(bar.label) data-value=(bar.value) {
                        title { (bar.label) ": " (format::count(bar.value)) }
                    }
                    text.value x=(px(LABEL_WIDTH + width + 6.0)) y=(px(y + BAR - 5.0)) { (format::count(bar.value)) }
                };
                @match &bar.href {
                    Some(href) => a href=(href) { (mark) },
                    None => g { (mark) },
                }
            }
        }
    }
}

/// One row of a timeline: a label and the first and last time it applies.
#[derive(Debug, Clone)]
pub struct Span {
    pub label: String,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// Each span as a line from its first to its last time on one shared time axis, with
/// the axis' start, middle and end written below.
pub fn timeline(id: &str, title: &str, spans: &[Span]) -> Markup {
    let from = spans.iter().map(|s| s.first_ns).min().unwrap_or(0);
    let to = spans.iter().map(|s| s.last_ns).max().unwrap_or(0).max(from.saturating_add(1_000_000_000));
    let left = LABEL_WIDTH;
    let right = WIDTH - 12.0;
    let x = |ns: u64| left + (right - left) * (ns.saturating_sub(from)) as f64 / (to - from) as f64;
    let axis_y = ROW * spans.len() as f64 + 8.0;
    let height = axis_y + 34.0;
    let middle = from + (to - from) / 2;
    let title_id = format!("{id}-title");
    html! {
        svg id=(id) class="chart timeline" viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
            aria-labelledby=(title_id) xmlns="http://www.w3.org/2000/svg" {
            title id=(title_id) { (title) }
            @for (i, span) in spans.iter().enumerate() {
                @let y = 4.0 + ROW * i as f64 + BAR / 2.0;
                g.span data-label=(span.label) {
                    title { (span.label) ": first " (format::time_ns(span.first_ns)) ", last " (format::time_ns(span.last_ns)) }
                    text.label x=(px(left - 8.0)) y=(px(y + 4.0)) text-anchor="end" { (span.label) }
                    line.track x1=(px(left)) x2=(px(right)) y1=(px(y)) y2=(px(y)) {}
                    line.extent x1=(px(x(span.first_ns))) x2=(px(x(span.last_ns))) y1=(px(y)) y2=(px(y)) {}
                    circle.first cx=(px(x(span.first_ns))) cy=(px(y)) r="4" {}
                    circle.last cx=(px(x(span.last_ns))) cy=(px(y)) r="4" {}
                }
            }
            line.axis x1=(px(left)) x2=(px(right)) y1=(px(axis_y)) y2=(px(axis_y)) {}
            text.tick x=(px(left)) y=(px(axis_y + 18.0)) text-anchor="start" { (format::time_ns(from)) }
            text.tick x=(px((left + right) / 2.0)) y=(px(axis_y + 18.0)) text-anchor="middle" { (format::time_ns(middle)) }
            text.tick x=(px(right)) y=(px(axis_y + 18.0)) text-anchor="end" { (format::time_ns(to)) }
        }
    }
}

/// A coordinate with one decimal: enough for a screen, short in the page.
fn px(value: f64) -> String {
    format!("{value:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_entry_scaled_to_the_largest() {
        let bars = [
            Bar { label: "P0301-00".into(), value: 100, href: None },
            Bar { label: "U0100-00".into(), value: 50, href: Some("/batches/x".into()) },
        ];
        let svg = bar_chart("top", "Top codes", &bars).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"data-label="P0301-00" data-value="100""#), "{svg}");
        assert!(svg.contains(r#"width="420.0""#) && svg.contains(r#"width="210.0""#), "{svg}");
        assert!(svg.contains(r#"<a href="/batches/x">"#));
        assert!(svg.contains(r#"<title id="top-title">Top codes</title>"#));
        assert_eq!(bar_chart("empty", "none", &[]).into_string().matches("<rect").count(), 0);
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let evil = "<script>alert(1)</script>\"'&";
        let bars = [Bar { label: evil.into(), value: 1, href: Some(format!("/vehicles/{evil}")) }];
        let spans = [Span { label: evil.into(), first_ns: 1, last_ns: 2 }];
        for svg in [bar_chart("b", evil, &bars).into_string(), timeline("t", evil, &spans).into_string()] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"), "{svg}");
        }
    }

    #[test]
    fn a_timeline_places_spans_on_one_axis() {
        let spans = [
            Span { label: "A".into(), first_ns: 0, last_ns: 10_000_000_000 },
            Span { label: "B".into(), first_ns: 5_000_000_000, last_ns: 5_000_000_000 },
        ];
        let svg = timeline("t", "first and last", &spans).into_string();
        assert!(svg.contains(r#"<circle class="first" cx="150.0""#), "{svg}");
        assert!(svg.contains(r#"<circle class="last" cx="628.0""#), "{svg}");
        assert!(svg.contains(r#"<circle class="first" cx="389.0""#), "{svg}");
        assert!(svg.contains("1970-01-01 00:00:10 UTC"));
    }
}
