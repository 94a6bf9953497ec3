//! `switchyard usage [--since T] [--by day|app|provider|model] [--json]`:
//! tokens and cost per group and overall, from the daemon's store. `--json`
//! prints the object DESIGN.md fixes (unknown values `null`).

use std::process::ExitCode;

use color_eyre::eyre::{Result, bail};
use switchyard_daemon::paths::Paths;
use switchyard_daemon::protocol::requests::{GroupBy, UsageQuery};
use switchyard_daemon::protocol::{Reply, Request};
use switchyard_daemon::store::now_ms;
use switchyard_daemon::usage::report;
use switchyard_daemon::usage::since::local_offset_s;

use crate::cli::UsageBy;

pub async fn run(
    paths: &Paths,
    since_ms: Option<u64>,
    by: UsageBy,
    json: bool,
) -> Result<ExitCode> {
    let utc_offset_s = local_offset_s(now_ms());
    let by = match by {
        UsageBy::Day => GroupBy::Day,
        UsageBy::App => GroupBy::App,
        UsageBy::Provider => GroupBy::Provider,
        UsageBy::Model => GroupBy::Model,
    };
    let mut client = super::connect(paths).await?;
    let query = UsageQuery {
        since_ms,
        by,
        utc_offset_s,
    };
    let report = match client.request(Request::Usage(query)).await? {
        Reply::Usage(report) => report,
        other => bail!("unexpected reply from the daemon: {other:?}"),
    };
    if json {
        println!("{}", report::usage_json(&report));
    } else {
        println!("{}", report::usage_table(&report, utc_offset_s));
    }
    Ok(ExitCode::SUCCESS)
}
