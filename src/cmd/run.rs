//! `veilleur run --config FILE`: the daemon, stopped by SIGTERM or SIGINT.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub(crate) fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config)?;
    let rt = super::runtime()?;
    rt.block_on(async {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot install the SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => info!("SIGINT: shutting down"),
            }
            signals.cancel();
        });
        crate::daemon::run(config, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}
