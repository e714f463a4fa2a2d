//! The `poolscope` binary: parse the command line, run, map the outcome to an exit code
//! (0 success, 1 damaged input with partial results, 2 unusable input or usage). A closed
//! output pipe is success, as for any Unix filter.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = poolscope::cli::Cli::parse();
    match poolscope::cli::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("poolscope: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
