//! Charts drawn by the server as inline SVG: horizontal bars and a funnel.
//! No script and no library: the figures are in the page as it arrives, a
//! screen reader gets them from the title and the table-like text, and the
//! content security policy stays as strict as it is (`img-src 'self'`,
//! no inline script). The SVG scales to the width of its container
//! (`viewBox`, `width="100%"`), so a chart never scrolls sideways on a phone.
//!
//! Labels are escaped here: they come from the catalogue and from analysts'
//! YAML (task titles), not from this module.

use std::fmt::Write;

/// One bar: what it is, its length, and the text shown after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

impl Bar {
    /// A bar whose shown text is its value.
    pub fn of(label: impl Into<String>, value: i64) -> Bar {
        Bar {
            label: label.into(),
            value,
            shown: value.to_string(),
        }
    }
}

const WIDTH: i64 = 640;
const LABEL_W: i64 = 230;
const VALUE_W: i64 = 90;
const ROW: i64 = 30;
const BAR_H: i64 = 20;

/// Horizontal bars, longest = full width; `title` names the chart for
/// assistive technology. An empty list draws nothing.
pub fn bars(title: &str, bars: &[Bar]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let track = WIDTH - LABEL_W - VALUE_W;
    let height = ROW * bars.len() as i64;
    let mut svg = open(title, height);
    for (i, b) in bars.iter().enumerate() {
        let y = i as i64 * ROW;
        let w = (b.value.max(0) * track / max).max(if b.value > 0 { 2 } else { 0 });
        let _ = write!(
            svg,
            r#"<g class="bar"><text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{x}" y="{by}" width="{w}" height="{BAR_H}" rx="3"/><text x="{vx}" y="{ty}" class="value">{shown}</text></g>"#,
            lx = LABEL_W - 8,
            ty = y + BAR_H - 5,
            label = escape(&clip(&b.label, 30)),
            x = LABEL_W,
            by = y + (ROW - BAR_H) / 2 - 2,
            vx = LABEL_W + w + 6,
            shown = escape(&b.shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A funnel: each stage a bar centred under the one before, its width the
/// share of the first stage, with the count and that share as text.
pub fn funnel(title: &str, stages: &[Bar]) -> String {
    if stages.is_empty() {
        return String::new();
    }
    let first = stages[0].value.max(1);
    let track = WIDTH - LABEL_W - VALUE_W;
    let height = ROW * stages.len() as i64;
    let mut svg = open(title, height);
    for (i, s) in stages.iter().enumerate() {
        let y = i as i64 * ROW;
        let w = (s.value.max(0) * track / first).max(if s.value > 0 { 2 } else { 0 });
        let x = LABEL_W + (track - w) / 2;
        let _ = write!(
            svg,
            r#"<g class="stage"><text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{x}" y="{by}" width="{w}" height="{BAR_H}" rx="3"/><text x="{vx}" y="{ty}" class="value">{shown}</text></g>"#,
            lx = LABEL_W - 8,
            ty = y + BAR_H - 5,
            label = escape(&clip(&s.label, 30)),
            by = y + (ROW - BAR_H) / 2 - 2,
            vx = LABEL_W + track + 6,
            shown = escape(&s.shown),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(title: &str, height: i64) -> String {
    format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = escape(title)
    )
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_as_long_as_their_share_of_the_longest() {
        let svg = bars("Заявки", &[Bar::of("Сайт", 10), Bar::of("API", 5)]);
        let track = WIDTH - LABEL_W - VALUE_W;
        assert!(svg.contains(&format!(r#"width="{track}""#)), "{svg}");
        assert!(svg.contains(&format!(r#"width="{}""#, track / 2)), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Заявки</title>"));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bars("a<b", &[Bar::of("<script>\"x\"", 1)]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;&quot;x&quot;"), "{svg}");
    }

    #[test]
    fn a_funnel_centres_each_stage() {
        let svg = funnel("Воронка", &[Bar::of("Все", 4), Bar::of("Заказ", 1)]);
        let track = WIDTH - LABEL_W - VALUE_W;
        let w = track / 4;
        assert!(
            svg.contains(&format!(r#"x="{}" "#, LABEL_W + (track - w) / 2)),
            "{svg}"
        );
        assert_eq!(bars("x", &[]), "");
    }
}
