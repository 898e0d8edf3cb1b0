//! A workflow definition drawn as SVG on the server: states in columns by
//! their distance from the initial state, transitions as curves with their
//! title as a label, and the number of running instances in each state.
//!
//! Labels are never cut: a long title wraps onto more lines and the boxes
//! and gaps grow to hold them, so the drawing is as large as it needs to be.
//! Without JavaScript it is shown at its natural size and scrolls; with
//! `static/diagram.js` it can be zoomed (wheel, buttons) and panned (drag).
//! No layout library: the graphs are small (tens of states) and a columned
//! layout reads like the funnel it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use domain::workflows::Graph;

const BOX_W: f64 = 200.0;
/// Height of a box's first title line and its padding; each further line
/// adds [`LINE_H`].
const BOX_BASE_H: f64 = 58.0;
const LINE_H: f64 = 16.0;
const COL_GAP: f64 = 230.0;
const ROW_GAP: f64 = 44.0;
const MARGIN: f64 = 30.0;
/// Characters per line of a state's title and of an edge's label.
const TITLE_CHARS: usize = 24;
const LABEL_CHARS: usize = 30;
const LABEL_LINE_H: f64 = 13.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `text` broken into lines of at most `width` characters at spaces; a
/// word longer than a line keeps a line of its own (never cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if line.is_empty() {
            line.push_str(word);
        } else if fits {
            line.push(' ');
            line.push_str(word);
        } else {
            lines.push(std::mem::take(&mut line));
            line.push_str(word);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `<text>` with one `<tspan>` per line, the first at `y`.
fn text_lines(x: f64, y: f64, lines: &[String], line_h: f64, attrs: &str) -> String {
    let mut out = format!(r#"<text x="{x:.1}" y="{y:.1}"{attrs}>"#);
    for (i, l) in lines.iter().enumerate() {
        let dy = if i == 0 { 0.0 } else { line_h };
        let _ = write!(out, r#"<tspan x="{x:.1}" dy="{dy:.1}">{}</tspan>"#, esc(l));
    }
    out.push_str("</text>");
    out
}

/// What the page says in words, given by the caller from the message
/// catalogue (the diagram has no texts of its own).
pub struct Words<'a> {
    /// An edge kind as a short word: `after` → «через».
    pub kind: &'a dyn Fn(&str) -> String,
    /// The note on an edge that also has a condition («при условии»).
    pub guarded: String,
}

/// The SVG markup of `graph`.
pub fn render(graph: &Graph, words: &Words<'_>) -> String {
    // Box heights from their wrapped titles.
    let titles: Vec<Vec<String>> = graph
        .states
        .iter()
        .map(|s| wrap(&s.title, TITLE_CHARS))
        .collect();
    let box_h: Vec<f64> = titles
        .iter()
        .map(|t| BOX_BASE_H + (t.len().saturating_sub(1)) as f64 * LINE_H)
        .collect();
    // Columns by rank, rows in definition order.
    let mut columns: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in graph.states.iter().enumerate() {
        columns.entry(s.rank).or_default().push(i);
    }
    let column_h = |members: &[usize]| -> f64 {
        members.iter().map(|&i| box_h[i]).sum::<f64>()
            + (members.len().saturating_sub(1)) as f64 * ROW_GAP
    };
    let tallest = columns
        .values()
        .map(|m| column_h(m))
        .fold(BOX_BASE_H, f64::max);
    // Room below for backward edges, which loop under the boxes.
    let height = MARGIN * 2.0 + tallest + 110.0;
    let mut pos: Vec<(f64, f64)> = vec![(0.0, 0.0); graph.states.len()];
    for (col_index, (_, members)) in columns.iter().enumerate() {
        let mut y = MARGIN + 20.0 + (tallest - column_h(members)) / 2.0;
        let x = MARGIN + col_index as f64 * (BOX_W + COL_GAP);
        for &i in members {
            pos[i] = (x, y);
            y += box_h[i] + ROW_GAP;
        }
    }
    // Room on the right for edges between states of the same column, which
    // loop around the column's right side with their label.
    let width = MARGIN * 2.0
        + columns.len() as f64 * BOX_W
        + (columns.len().saturating_sub(1)) as f64 * COL_GAP
        + 230.0;
    let index: BTreeMap<&str, usize> = graph
        .states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{}">"#,
        esc(&graph.title)
    );
    svg.push_str(r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6b7a"/></marker></defs>"##);
    // Styles live in app.css: the content security policy forbids inline ones.
    svg.push_str(r#"<g class="viewport">"#);

    // Edges first so boxes sit on top. Parallel edges between the same pair
    // are fanned out so their labels do not overlap.
    let mut seen: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for e in &graph.edges {
        let (Some(&a), Some(&b)) = (index.get(e.from.as_str()), index.get(e.to.as_str())) else {
            continue;
        };
        let n = seen.entry((a, b)).or_insert(0);
        let k = *n as f64;
        *n += 1;
        // A title stands alone; a raw trigger says what kind it is
        // («через 2h», «событие rfq.sent»).
        let text = if e.titled {
            e.label.clone()
        } else {
            format!("{} {}", (words.kind)(&e.kind), e.label)
        };
        let mut lines = wrap(&text, LABEL_CHARS);
        if e.guard.is_some() {
            lines.push(format!("({})", words.guarded));
        }
        let tooltip = match &e.guard {
            Some(g) => format!("{text} — {}: {g}", words.guarded),
            None => text.clone(),
        };
        let (ax, ay) = pos[a];
        let (bx, by) = pos[b];
        let (ah, bh) = (box_h[a], box_h[b]);
        let class = format!("ed {}", esc(&e.kind));
        let label_h = lines.len() as f64 * LABEL_LINE_H;
        if a == b {
            // A loop above the box, its label above the loop.
            let x = ax + BOX_W * 0.3 + k * 18.0;
            let y = ay;
            let _ = write!(
                svg,
                r#"<g class="{class}"><title>{}</title><path d="M{x:.1},{y:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{y:.1}" marker-end="url(#arrow)"/>{}</g>"#,
                esc(&tooltip),
                x - 10.0,
                y - 34.0,
                x + 40.0,
                y - 34.0,
                x + 30.0,
                text_lines(
                    x - 4.0,
                    y - 28.0 - label_h - k * label_h,
                    &lines,
                    LABEL_LINE_H,
                    ""
                ),
            );
            continue;
        }
        let forward = bx > ax;
        let same_column = !forward && (bx - ax).abs() < 1.0;
        let (x1, y1, x2, y2) = if forward {
            (ax + BOX_W, ay + ah / 2.0, bx, by + bh / 2.0)
        } else if same_column {
            // Same column: go around on the right.
            (ax + BOX_W, ay + ah / 2.0, bx + BOX_W, by + bh / 2.0)
        } else {
            // Backwards: leave from the bottom, come in at the bottom.
            (ax + BOX_W / 2.0, ay + ah, bx + BOX_W / 2.0, by + bh)
        };
        let spread = k * (label_h + 6.0);
        let (c1x, c1y, c2x, c2y) = if forward {
            let dx = (x2 - x1) / 2.0;
            (x1 + dx, y1 + spread, x2 - dx, y2 + spread)
        } else if same_column {
            (x1 + 60.0 + spread, y1, x2 + 60.0 + spread, y2)
        } else {
            (x1, y1 + 70.0 + spread, x2, y2 + 70.0 + spread)
        };
        // The curve's midpoint; the label sits centred above it.
        let (lx, ly) = (
            0.125 * x1 + 0.375 * c1x + 0.375 * c2x + 0.125 * x2,
            0.125 * y1 + 0.375 * c1y + 0.375 * c2y + 0.125 * y2,
        );
        let (tx, anchor) = if same_column {
            (lx + 4.0, r#" text-anchor="start""#)
        } else {
            (lx, r#" text-anchor="middle""#)
        };
        let ty = ly - label_h + LABEL_LINE_H - 4.0;
        let _ = write!(
            svg,
            r#"<g class="{class}"><title>{}</title><path d="M{x1:.1},{y1:.1} C{c1x:.1},{c1y:.1} {c2x:.1},{c2y:.1} {x2:.1},{y2:.1}" marker-end="url(#arrow)"/>{}</g>"#,
            esc(&tooltip),
            text_lines(tx, ty, &lines, LABEL_LINE_H, anchor),
        );
    }

    for (i, s) in graph.states.iter().enumerate() {
        let (x, y) = pos[i];
        let mut class = String::from("st");
        if s.terminal {
            class.push_str(" terminal");
        }
        if s.initial {
            class.push_str(" initial");
        }
        let h = box_h[i];
        let name_y = y + 24.0 + (titles[i].len() as f64 - 1.0) * LINE_H + 18.0;
        let _ = write!(
            svg,
            r#"<g class="{class}" data-state="{}"><rect x="{x:.1}" y="{y:.1}" width="{BOX_W}" height="{h:.1}" rx="8"/>{}<text class="name" x="{:.1}" y="{name_y:.1}">{}</text>"#,
            esc(&s.name),
            text_lines(x + 10.0, y + 24.0, &titles[i], LINE_H, ""),
            x + 10.0,
            esc(&s.name),
        );
        if s.instances > 0 {
            let _ = write!(
                svg,
                r#"<g class="cnt"><circle cx="{:.1}" cy="{:.1}" r="13"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
                x + BOX_W - 4.0,
                y + 4.0,
                x + BOX_W - 4.0,
                y + 8.0,
                s.instances
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::workflows::{GraphEdge, GraphState};

    fn state(name: &str, title: &str, rank: usize, terminal: bool, instances: i64) -> GraphState {
        GraphState {
            name: name.into(),
            title: title.into(),
            terminal,
            initial: rank == 0,
            rank,
            tasks: vec![],
            instances,
        }
    }

    fn edge(from: &str, to: &str, kind: &str, label: &str, titled: bool) -> GraphEdge {
        GraphEdge {
            from: from.into(),
            to: to.into(),
            kind: kind.into(),
            label: label.into(),
            titled,
            guard: None,
            internal: from == to,
        }
    }

    fn words<'a>(kind: &'a dyn Fn(&str) -> String) -> Words<'a> {
        Words {
            kind,
            guarded: "при условии".into(),
        }
    }

    #[test]
    fn draws_states_edges_and_counts_escaped() {
        let g = Graph {
            key: "k".into(),
            title: "T & T".into(),
            initial: "a".into(),
            states: vec![
                state("a", "<a>", 0, false, 3),
                state("b", "<b>", 1, true, 0),
            ],
            edges: vec![
                edge("a", "b", "outcome", "ok", true),
                edge("a", "a", "cron", "0 9 * * *", false),
            ],
        };
        let upper = |k: &str| k.to_uppercase();
        let svg = render(&g, &words(&upper));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;a&gt;"), "titles are escaped");
        assert!(svg.contains("T &amp; T"));
        assert!(svg.contains(">3</text>"), "instance count");
        assert!(svg.contains(">ok</tspan>"), "a title stands alone");
        assert!(
            svg.contains(">CRON 0 9 * * *</tspan>"),
            "a raw trigger is named"
        );
        assert_eq!(svg.matches("marker-end=").count(), 2, "one arrow per edge");
    }

    /// Long titles and labels wrap onto more lines instead of being cut,
    /// and a condition is said in words with the expression as a tooltip.
    #[test]
    fn long_labels_wrap_and_are_never_cut() {
        let long_state = "Ожидание ответа поставщика на запрос коммерческого предложения";
        let long_edge = "Ответ поставщика пришёл в срок и по этому раунду";
        let mut e = edge("a", "b", "event", long_edge, true);
        e.guard = Some("event.round_id == data.round_id".into());
        let g = Graph {
            key: "k".into(),
            title: "t".into(),
            initial: "a".into(),
            states: vec![
                state("a", long_state, 0, false, 0),
                state("b", "Б", 1, true, 0),
            ],
            edges: vec![e],
        };
        let id = |k: &str| k.to_string();
        let svg = render(&g, &words(&id));
        assert!(!svg.contains('…'), "nothing is clipped: {svg}");
        for word in long_state.split(' ').chain(long_edge.split(' ')) {
            assert!(svg.contains(word), "{word} is drawn");
        }
        assert!(svg.contains("(при условии)"));
        assert!(
            svg.contains("при условии: event.round_id == data.round_id</title>"),
            "the condition is in the tooltip"
        );
        for line in wrap(long_state, TITLE_CHARS) {
            assert!(line.chars().count() <= TITLE_CHARS, "{line}");
        }
    }

    #[test]
    fn wrap_keeps_every_word() {
        assert_eq!(wrap("", 10), vec![String::new()]);
        assert_eq!(wrap("один два три", 8), vec!["один два", "три"]);
        assert_eq!(
            wrap("сверхдлинноеслово x", 5),
            vec!["сверхдлинноеслово", "x"]
        );
    }
}
