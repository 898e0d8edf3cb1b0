//! The `podryad` binary: see `podryad --help`.

fn main() -> std::process::ExitCode {
    podryad::cli::main()
}
