//! `connect-gr denylist list|add|remove`: see and manage a denylist table by hand, through the
//! same rules as the controller and the handlers (numbers normalised to E.164; `add` writes
//! `Source: manual` and never overwrites an entry; `remove` refuses to delete an agent-flagged
//! number unless `--force`).

use std::io::Write;

use super::dynamo::{DynamoDenylist, dynamodb_client};
use super::entry::{Entry, Source, now_rfc3339};
use super::handlers::{DEFAULT_TABLE_NAME, DenylistStore};
use super::number::{NumberPolicy, normalize_with};

#[derive(clap::Args, Debug, Clone)]
pub struct DenylistArgs {
    /// DynamoDB table.
    #[arg(long, global = true, env = "TABLE_NAME", default_value = DEFAULT_TABLE_NAME)]
    pub table: String,
    /// AWS region (default: the standard AWS configuration, e.g. AWS_REGION).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// DynamoDB endpoint (default: the standard configuration, e.g. AWS_ENDPOINT_URL_DYNAMODB).
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Country code for numbers written without one (`none`: require +<country code>).
    #[arg(long, global = true, env = "DEFAULT_COUNTRY_CODE", default_value = "1")]
    pub default_country_code: String,
    #[command(subcommand)]
    pub command: DenylistCommand,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum DenylistCommand {
    /// Show every entry: number, source, added by, added at.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Deny numbers (Source: manual). An existing entry is left as it is.
    Add {
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Recorded as AddedBy (default: $USER).
        #[arg(long)]
        added_by: Option<String>,
    },
    /// Remove numbers. Agent-flagged numbers are kept unless --force.
    Remove {
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Also remove agent-flagged numbers.
        #[arg(long)]
        force: bool,
    },
}

pub async fn run(args: DenylistArgs) -> anyhow::Result<()> {
    let policy = NumberPolicy::with_country_code(&args.default_country_code, 10)?;
    let region = match args.region.clone() {
        Some(r) => r,
        None => aws_config::load_defaults(aws_config::BehaviorVersion::latest())
            .await
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| anyhow::anyhow!("no region: pass --region or set AWS_REGION"))?,
    };
    let client = dynamodb_client(&region, args.endpoint_url.as_deref()).await;
    let store = DynamoDenylist::new(client, &args.table);
    let mut out = std::io::stdout().lock();
    match args.command {
        DenylistCommand::List { json } => {
            let entries = store.scan().await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &entries)?;
                writeln!(out)?;
            } else {
                write_table(&mut out, &entries)?;
            }
            Ok(())
        }
        DenylistCommand::Add { numbers, added_by } => {
            let by = added_by
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "connect-gr-cli".to_string());
            let normalised = normalise_all(&numbers, &policy)?;
            for n in normalised {
                let e = Entry {
                    added_by: Some(by.clone()),
                    added_at: Some(now_rfc3339()),
                    ..Entry::bare(&n, Source::Manual)
                };
                if store.put_if_absent(&e).await? {
                    writeln!(out, "added {n}")?;
                } else {
                    let src = store
                        .get(&n)
                        .await?
                        .map(|e| e.source.to_string())
                        .unwrap_or_default();
                    writeln!(out, "{n} is already denied (source {src}); left as it is")?;
                }
            }
            Ok(())
        }
        DenylistCommand::Remove { numbers, force } => {
            let normalised = normalise_all(&numbers, &policy)?;
            let mut refused = Vec::new();
            for n in normalised {
                let existing = store.get(&n).await?;
                match existing {
                    None => writeln!(out, "{n} is not in the denylist")?,
                    Some(e) => {
                        if store.delete_unless_agent(&n, force).await? {
                            writeln!(out, "removed {n} (source {})", e.source)?;
                            if e.source == Source::Declared {
                                writeln!(
                                    out,
                                    "  note: {n} is declared by {}; the controller writes it again while it stays in the spec",
                                    e.managed_by.as_deref().unwrap_or("a CallerDenylist")
                                )?;
                            }
                        } else {
                            refused.push(n.clone());
                            writeln!(
                                out,
                                "refused: {n} was flagged by an agent ({}); use --force to remove it",
                                e.added_by.as_deref().unwrap_or("unknown agent")
                            )?;
                        }
                    }
                }
            }
            if refused.is_empty() {
                Ok(())
            } else {
                anyhow::bail!(
                    "{} agent-flagged number(s) kept: {}",
                    refused.len(),
                    refused.join(", ")
                )
            }
        }
    }
}

fn normalise_all(numbers: &[String], policy: &NumberPolicy) -> anyhow::Result<Vec<String>> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for n in numbers {
        match normalize_with(n, policy) {
            Ok(e) => ok.push(e),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        anyhow::bail!(
            "invalid number(s), nothing changed:\n  {}",
            bad.join("\n  ")
        );
    }
    Ok(ok)
}

fn write_table(out: &mut impl Write, entries: &[Entry]) -> std::io::Result<()> {
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            [
                e.contact_number.clone(),
                e.source.to_string(),
                e.added_by.clone().unwrap_or_else(|| "-".into()),
                e.added_at.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["NUMBER", "SOURCE", "ADDED BY", "ADDED AT"].map(String::from);
    let mut width = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2]
        )?;
    }
    writeln!(out, "{} entries", rows.len())
}
