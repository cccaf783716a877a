//! The `insns` cases with a second call site of the inference event's recording call; run
//! by `insns` (see there), not by hand.

#[path = "insns/cases.rs"]
mod cases;

fn main() {
    // The same cases as `insns`, which lists them.
    let _ = cases::CASES;
    // Run by `insns` as `--child CASE EVENTS`, like its own child.
    let args: Vec<String> = std::env::args().skip(2).collect();
    let (Some(case), Some(events)) = (args.first(), args.get(1).and_then(|n| n.parse().ok()))
    else {
        eprintln!("usage: insns_two_sites --child CASE EVENTS");
        std::process::exit(2)
    };
    if let Err(e) = cases::run(case, events, true) {
        eprintln!("insns_two_sites: {e}");
        std::process::exit(2)
    }
}
