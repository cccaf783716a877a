//! What a person sees: the live view and the final table fit the terminal they run in (80
//! and 120 columns, on a real pseudo-terminal made by util-linux `script`), and without a
//! terminal the live figures come as plain lines, one per second, that fit `COLUMNS`.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tally-demo");

/// A short run's flags: 3 s, few threads, any free port.
const RUN: [&str; 8] = ["--duration", "3s", "--port", "0", "--readers", "2", "--workers", "2"];

/// What a terminal of `cols` columns receives while the demo runs on it (stdout and
/// stderr both go to the pseudo-terminal, as in an interactive shell).
fn on_terminal(cols: usize) -> String {
    let command = format!("stty cols {cols} rows 40; exec {BIN} {}", RUN.join(" "));
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_remove("COLUMNS")
        .output()
        .expect("util-linux `script` runs (apt install bsdutils)");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "the demo failed on a {cols}-column terminal:\n{screen}");
    screen
}

/// The lines a terminal shows: the output cut at every newline and carriage return (a
/// redrawn line starts over), with its escape sequences (colours, line clears) removed.
fn shown_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte; other escapes: ESC and one character.
            if chars.peek() == Some(&'[') {
                chars.next();
                for p in chars.by_ref() {
                    if ('@'..='~').contains(&p) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            plain.push(c);
        }
    }
    plain.split(['\n', '\r']).map(str::to_owned).collect()
}

fn assert_fits(lines: &[String], cols: usize, what: &str) {
    for line in lines {
        let n = line.chars().count();
        assert!(n <= cols, "a line of {n} columns on a {cols}-column {what}:\n{line}");
    }
}

#[test]
fn the_live_view_and_the_final_table_fit_80_and_120_column_terminals() {
    for cols in [80, 120] {
        let screen = on_terminal(cols);
        let lines = shown_lines(&screen);
        assert_fits(&lines, cols, "terminal");
        // The live view was drawn, with its windows labelled; the table came after it.
        assert!(
            lines.iter().any(|l| l.starts_with("serving") || l.contains("] serving")),
            "no live view on a {cols}-column terminal:\n{screen}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("req/s (") && l.contains("(all)") || l.contains("(1s)")),
            "the live view's windows are not labelled:\n{screen}"
        );
        assert!(lines.iter().any(|l| l.contains("all models")), "no table:\n{screen}");
        assert!(lines.iter().any(|l| l.contains("response size")), "no bytes:\n{screen}");
    }
}

#[test]
fn without_a_terminal_the_live_figures_are_a_line_per_second_that_fits_columns() {
    let out = Command::new(BIN).args(RUN).env("COLUMNS", "80").output().expect("the demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert_fits(&lines, 80, "COLUMNS");
    let live: Vec<&String> =
        lines.iter().filter(|l| l.starts_with("serving") && l.contains(" | ")).collect();
    // A 3 s run with a model load of at most 250 ms: lines at 1 s and 2 s (and maybe 3 s).
    assert!((2..=3).contains(&live.len()), "{} live lines:\n{stdout}", live.len());
    assert!(live.iter().all(|l| l.contains("req/s (") && !l.contains('\r')), "{stdout}");
    // Plain text: no escape sequences when nothing is a terminal.
    assert!(!stdout.contains('\u{1b}'), "escape sequences in a pipe:\n{stdout}");
}

#[test]
fn help_says_what_the_program_is_and_what_the_live_view_flag_does() {
    let out = Command::new(BIN).arg("--help").output().expect("the demo runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.starts_with("A simulated inference service"), "{help}");
    assert!(help.contains("--progress"), "{help}");
    assert!(!help.contains("The main job"), "{help}");
}
