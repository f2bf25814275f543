//! `holdfast`: the desktop command line on the Holdfast core.
//!
//! This file only parses the command line, runs the command and reports failure: one line on
//! stderr, exit status 2 for a command line that does not parse, 1 for anything else.

mod args;
mod choice;
mod clock;
mod commands;
mod desk;
mod device;
mod error;
mod files;
mod lookup;
mod net;
mod output;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    // First, while the process has one thread: reading the local time zone needs that.
    let clock = clock::Clock::detect();
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        fail(&format!("internal error, please report it: {what}"));
    }));
    init_logging();
    // reqwest's rustls has no provider of its own in this workspace: ring, as everywhere.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let json = cli.json;
    match commands::run(cli, clock).and_then(|out| out.print(json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fail(&e.to_string());
            ExitCode::from(1)
        }
    }
}

/// Diagnostics on stderr, off unless HOLDFAST_LOG asks (e.g. HOLDFAST_LOG=debug).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOLDFAST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The one line of a failure.
fn fail(message: &str) {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("holdfast: error: {one_line}");
}

/// Reports a command line that does not parse, or prints the help or version asked for.
fn usage(e: &clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    let rendered = e.render().to_string();
    fail(&format!(
        "{} (see `{} --help`)",
        summarise(&rendered),
        command_path()
    ));
    ExitCode::from(2)
}

/// Clap's error in one line: the message with what belongs to it (the missing arguments, the
/// possible values) and any tip, without the usage block.
fn summarise(rendered: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut first_block = true;
    for line in rendered.lines() {
        let l = line.trim();
        if l.is_empty() {
            first_block = false;
            continue;
        }
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            continue;
        }
        if first_block {
            parts.push(l.trim_start_matches("error:").trim().to_owned());
        } else if let Some(tip) = l.strip_prefix("tip:") {
            parts.push(format!("(tip: {})", tip.trim()));
        }
    }
    if parts.is_empty() {
        "the command line could not be understood".to_owned()
    } else {
        parts.join(" ")
    }
}

/// The subcommand the person was typing ("holdfast patient add"), for pointing at its help.
fn command_path() -> String {
    let mut cmd = args::Cli::command();
    let mut path = vec![cmd.get_name().to_owned()];
    for arg in std::env::args().skip(1) {
        let next = cmd.get_subcommands().find(|s| s.get_name() == arg).cloned();
        if let Some(sub) = next {
            path.push(sub.get_name().to_owned());
            cmd = sub;
        }
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use super::summarise;

    #[test]
    fn clap_errors_fold_into_one_line() {
        let missing = "error: the following required arguments were not provided:\n  \
                       --name <NAME>\n\nUsage: holdfast init --name <NAME>\n\n\
                       For more information, try '--help'.\n";
        assert_eq!(
            summarise(missing),
            "the following required arguments were not provided: --name <NAME>"
        );
        let unknown = "error: unrecognized subcommand 'int'\n\n  tip: a similar subcommand \
                       exists: 'init'\n\nUsage: holdfast [OPTIONS] <COMMAND>\n";
        assert_eq!(
            summarise(unknown),
            "unrecognized subcommand 'int' (tip: a similar subcommand exists: 'init')"
        );
    }
}
