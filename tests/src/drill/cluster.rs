//! The faults of the cluster of tests/cluster.sh, applied by that script.

use anyhow::{Context, bail};

use super::{Fault, Options};

/// Applies a fault of the cluster through `tests/cluster.sh <command> <dir>`.
pub(super) fn cluster_fault(fault: Fault, options: &Options) -> anyhow::Result<()> {
    let dir = options
        .cluster_dir
        .as_ref()
        .context("the cluster's faults need its folder (RABT_CLUSTER_DIR, tests/cluster.sh)")?;
    let command = match fault {
        Fault::BrokerNodeKill => "kill-queue-leader",
        Fault::BrokerNodeBack => "start-killed-node",
        Fault::Switchover => "switchover",
        Fault::PrimaryKill => "kill-primary",
        _ => bail!("{} is not a cluster fault", fault.name()),
    };
    let status = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/cluster.sh"))
        .arg(command)
        .arg(dir)
        .status()?;
    if !status.success() {
        bail!("tests/cluster.sh {command} failed");
    }
    Ok(())
}
