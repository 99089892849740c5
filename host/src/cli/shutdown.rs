//! The one shutdown signal every long-running subcommand waits on: ctrl-c
//! or SIGTERM (what systemd, Kubernetes and `kill` send).

/// Resolves on SIGTERM or ctrl-c.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
