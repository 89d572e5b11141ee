//! The httpsim command line. See `httpsim --help`.

fn main() {
    eprintln!("httpsim: the CLI is not built yet");
    std::process::exit(2);
}
