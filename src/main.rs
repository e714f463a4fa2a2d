//! The `poolscope` binary: parse the command line, run, map the outcome to an exit code
//! (0 success, 1 damaged input with partial results, 2 unusable input or usage). A closed
//! output pipe is success, as for any Unix filter.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = poolscope::cli::Cli::parse();
    match poolscope::cli::run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolscope: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
