//! The `portcullis` command line: parse arguments and hand over to the commands.

use clap::{Parser, Subcommand};
use portcullis::commands::{self, KindArg, SimulateArgs};
use std::path::PathBuf;

/// mimalloc: glibc's malloc and free were ~13 % of the gateway's CPU under small-object
/// load (`cargo bench --bench load`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "portcullis", version, about = "S3 policy-enforcement gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Work with policy files offline.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Check a configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate policy files; prints every error as `FILE: <json path>: <message>`.
    Validate {
        /// The kind of policy (default: from `*.org.json` / `*.identity.json` /
        /// `*.bucket.json` or the `org/`, `identity/`, `buckets/` directory).
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// The bucket a bucket policy is for.
        #[arg(long)]
        bucket: Option<String>,
        /// Accept condition keys outside the catalogue (as `allow_unknown_condition_keys`).
        #[arg(long)]
        allow_unknown_condition_keys: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide one request against the configured policies and explain the decision.
    Simulate {
        #[arg(long)]
        config: PathBuf,
        /// A user name or ARN from the identities file, or `anonymous`.
        #[arg(long)]
        principal: String,
        /// An action such as `s3:GetObject`.
        #[arg(long)]
        action: String,
        /// The resource ARN (`arn:aws:s3:::bucket/key`), or `*`.
        #[arg(long)]
        resource: String,
        /// A condition key value, KEY=VALUE; repeat a key for several values.
        #[arg(long = "context", value_name = "KEY=VALUE")]
        context: Vec<String>,
        /// Condition keys as a JSON object (any value, including an empty list).
        #[arg(long = "context-json", value_name = "JSON")]
        context_json: Vec<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration, identities and every policy.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = match cli.command {
        Command::Serve { config } => match portcullis::serve::run(&config) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        Command::Policy {
            command:
                PolicyCommand::Validate {
                    kind,
                    bucket,
                    allow_unknown_condition_keys,
                    files,
                },
        } => commands::validate(
            &files,
            kind,
            bucket.as_deref(),
            allow_unknown_condition_keys,
            &mut out,
            &mut err,
        ),
        Command::Policy {
            command:
                PolicyCommand::Simulate {
                    config,
                    principal,
                    action,
                    resource,
                    context,
                    context_json,
                    json,
                },
        } => {
            let args = SimulateArgs {
                config: &config,
                principal: &principal,
                action: &action,
                resource: &resource,
                context: &context,
                context_json: &context_json,
                json,
            };
            commands::simulate(&args, &mut out, &mut err)
        }
        Command::Config {
            command: ConfigCommand::Check { config },
        } => commands::config_check(&config, &mut out, &mut err),
    };
    std::process::exit(code);
}
