//! Printing an offline command's output without `println!`, which panics when the stream is closed:
//! `handler decode FILE | head -c 1` closes stdout after one byte, and the next write fails with
//! `EPIPE` (Rust ignores `SIGPIPE`, so the process is not killed for it).
//!
//! A reader that went away has what it wanted: the command ends with the exit code it would have had
//! (0 on success), as `SIGPIPE`'s silent end would. Another write error (a full disk) is reported on
//! stderr and fails the command. Messages to stderr ignore write errors: there is nowhere else to say.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

/// Writes `text` to stdout, with a newline when `newline`. False only when stdout failed for another
/// reason than a closed pipe (already reported on stderr).
pub(crate) fn out(text: &str, newline: bool) -> bool {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(text.as_bytes())
        .and_then(|()| {
            if newline {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => true,
        Err(e) => {
            err(&format!("error: cannot write the output: {e}"));
            false
        }
    }
}

/// Writes `text` and a newline to stderr, ignoring errors.
pub(crate) fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `code`, or a failure when stdout could not be written.
pub(crate) fn exit(printed: bool, code: ExitCode) -> ExitCode {
    if printed {
        code
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_print_fails_the_command() {
        assert_eq!(exit(true, ExitCode::SUCCESS), ExitCode::SUCCESS);
        assert_eq!(exit(false, ExitCode::SUCCESS), ExitCode::FAILURE);
    }
}
