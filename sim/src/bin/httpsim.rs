//! The httpsim command line. See `httpsim --help`; the logic lives in [`httpsim::cli`].

use std::io::IsTerminal;

fn main() {
    // A re-executed copy of this binary measuring one benchmark scale point in a fresh process.
    httpsim::bench::child_main();
    // A child process of `httpsim run --real`: the scenario's server or client on loopback.
    httpsim::real::child_main();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let terminal = stderr.is_terminal();
    // Standard error is locked per write, not for the whole run: the progress bar is drawn on
    // it from a watcher thread while a long run goes on (see `cli`).
    let (mut out, mut err) = (stdout.lock(), stderr);
    let code = httpsim::cli::main_with(
        std::env::args_os(),
        &mut httpsim::cli::Console {
            out: &mut out,
            err: &mut err,
            terminal,
        },
    );
    std::process::exit(code);
}
