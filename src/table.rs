//! Plain-text tables with aligned columns, for fs_cli and terminal output.

/// Table cells by row; `None` is an empty (SQL NULL) cell.
pub type Cells = Vec<Vec<Option<String>>>;

/// Formats `rows` under `headers`, columns separated by two spaces. Numbers
/// (cells that parse as one) are right-aligned; `None` shows as `-`.
pub fn format(headers: &[&str], rows: &[Vec<Option<String>>]) -> String {
    let cell = |c: &Option<String>| c.clone().unwrap_or_else(|| "-".to_owned());
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell(c).chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>, numeric: Vec<bool>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .zip(numeric)
            .map(|((c, w), num)| {
                if num {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(
        headers.iter().map(|h| h.to_string()).collect(),
        vec![false; headers.len()],
    );
    line(
        widths.iter().map(|w| "-".repeat(*w)).collect(),
        vec![false; headers.len()],
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(cell).collect();
        let numeric = cells.iter().map(|c| c.parse::<f64>().is_ok()).collect();
        line(cells, numeric);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_text_left_and_numbers_right() {
        let text = super::format(
            &["queue", "calls"],
            &[
                vec![Some("support@default".into()), Some("12".into())],
                vec![Some("q".into()), None],
            ],
        );
        assert_eq!(
            text,
            "queue            calls\n\
             ---------------  -----\n\
             support@default     12\n\
             q                -\n"
        );
    }
}
