//! A workflow definition drawn as SVG on the server: states in columns by
//! their distance from the initial state, transitions as curves with their
//! trigger as a label, and the number of running instances in each state.
//! No JavaScript and no layout library: the graphs are small (tens of
//! states) and a columned layout reads like the funnel it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use domain::workflows::Graph;

const BOX_W: f64 = 190.0;
const BOX_H: f64 = 58.0;
const COL_GAP: f64 = 170.0;
const ROW_GAP: f64 = 34.0;
const MARGIN: f64 = 24.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The SVG markup of `graph`. `label_of` turns an edge kind into a short
/// word in the interface language (`event` → "событие").
pub fn render(graph: &Graph, label_of: &dyn Fn(&str) -> String) -> String {
    // Columns by rank, rows in definition order.
    let mut columns: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in graph.states.iter().enumerate() {
        columns.entry(s.rank).or_default().push(i);
    }
    let mut pos: Vec<(f64, f64)> = vec![(0.0, 0.0); graph.states.len()];
    let max_rows = columns.values().map(Vec::len).max().unwrap_or(1) as f64;
    let height = MARGIN * 2.0 + max_rows * BOX_H + (max_rows - 1.0).max(0.0) * ROW_GAP + 30.0;
    for (col_index, (_, members)) in columns.iter().enumerate() {
        let n = members.len() as f64;
        let column_h = n * BOX_H + (n - 1.0) * ROW_GAP;
        let top = (height - column_h) / 2.0;
        for (row, &i) in members.iter().enumerate() {
            let x = MARGIN + col_index as f64 * (BOX_W + COL_GAP);
            let y = top + row as f64 * (BOX_H + ROW_GAP);
            pos[i] = (x, y);
        }
    }
    // Room on the right for edges between states of the same column, which
    // loop around the column's right side with their label.
    let width = MARGIN * 2.0
        + columns.len() as f64 * BOX_W
        + (columns.len().saturating_sub(1)) as f64 * COL_GAP
        + 190.0;
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
        let label = clip(&format!("{}: {}", label_of(&e.kind), e.label), 34);
        let (ax, ay) = pos[a];
        let (bx, by) = pos[b];
        let class = format!("ed {}", esc(&e.kind));
        if a == b {
            // A loop above the box.
            let x = ax + BOX_W * 0.3 + k * 18.0;
            let y = ay;
            let _ = write!(
                svg,
                r#"<g class="{class}"><path d="M{x:.1},{y:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{y:.1}" marker-end="url(#arrow)"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                x - 10.0,
                y - 34.0,
                x + 40.0,
                y - 34.0,
                x + 30.0,
                x - 4.0,
                y - 26.0 - k * 12.0,
                esc(&label)
            );
            continue;
        }
        let forward = bx > ax;
        let (x1, y1, x2, y2) = if forward {
            (ax + BOX_W, ay + BOX_H / 2.0, bx, by + BOX_H / 2.0)
        } else if (bx - ax).abs() < 1.0 {
            // Same column: go around on the right.
            (ax + BOX_W, ay + BOX_H / 2.0, bx + BOX_W, by + BOX_H / 2.0)
        } else {
            // Backwards: leave from the bottom, come in at the bottom.
            (ax + BOX_W / 2.0, ay + BOX_H, bx + BOX_W / 2.0, by + BOX_H)
        };
        let spread = k * 16.0;
        let (c1x, c1y, c2x, c2y) = if forward {
            let dx = (x2 - x1) / 2.0;
            (x1 + dx, y1 + spread, x2 - dx, y2 + spread)
        } else if (bx - ax).abs() < 1.0 {
            (x1 + 60.0 + spread, y1, x2 + 60.0 + spread, y2)
        } else {
            (x1, y1 + 70.0 + spread, x2, y2 + 70.0 + spread)
        };
        let same_column = !forward && (bx - ax).abs() < 1.0;
        let (lx, ly) = (
            0.125 * x1 + 0.375 * c1x + 0.375 * c2x + 0.125 * x2,
            0.125 * y1 + 0.375 * c1y + 0.375 * c2y + 0.125 * y2 - 4.0,
        );
        let anchor = if same_column { "start" } else { "middle" };
        let _ = write!(
            svg,
            r#"<g class="{class}"><path d="M{x1:.1},{y1:.1} C{c1x:.1},{c1y:.1} {c2x:.1},{c2y:.1} {x2:.1},{y2:.1}" marker-end="url(#arrow)"/><text x="{:.1}" y="{ly:.1}" text-anchor="{anchor}">{}</text></g>"#,
            if same_column { lx + 4.0 } else { lx },
            esc(&label)
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
        let _ = write!(
            svg,
            r#"<g class="{class}" data-state="{}"><rect x="{x:.1}" y="{y:.1}" width="{BOX_W}" height="{BOX_H}" rx="8"/><text x="{:.1}" y="{:.1}">{}</text><text class="name" x="{:.1}" y="{:.1}">{}</text>"#,
            esc(&s.name),
            x + 10.0,
            y + 24.0,
            esc(&clip(&s.title, 24)),
            x + 10.0,
            y + 42.0,
            esc(&clip(&s.name, 28)),
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
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::workflows::{GraphEdge, GraphState};

    fn state(name: &str, rank: usize, terminal: bool, instances: i64) -> GraphState {
        GraphState {
            name: name.into(),
            title: format!("<{name}>"),
            terminal,
            initial: rank == 0,
            rank,
            tasks: vec![],
            instances,
        }
    }

    #[test]
    fn draws_states_edges_and_counts_escaped() {
        let g = Graph {
            key: "k".into(),
            title: "T & T".into(),
            initial: "a".into(),
            states: vec![state("a", 0, false, 3), state("b", 1, true, 0)],
            edges: vec![
                GraphEdge {
                    from: "a".into(),
                    to: "b".into(),
                    kind: "outcome".into(),
                    label: "ok".into(),
                    internal: false,
                },
                GraphEdge {
                    from: "a".into(),
                    to: "a".into(),
                    kind: "cron".into(),
                    label: "0 9 * * *".into(),
                    internal: true,
                },
            ],
        };
        let svg = render(&g, &|k| k.to_uppercase());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;a&gt;"), "titles are escaped");
        assert!(svg.contains("T &amp; T"));
        assert!(svg.contains(">3</text>"), "instance count");
        assert!(svg.contains("OUTCOME: ok"));
        assert_eq!(svg.matches("marker-end=").count(), 2, "one arrow per edge");
    }
}
