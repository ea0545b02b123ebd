//! `careservice`: the one binary. Everything happens in [`careservice::cli`].

fn main() -> std::process::ExitCode {
    careservice::cli::main()
}
