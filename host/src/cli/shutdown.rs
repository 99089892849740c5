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

/// A token cancelled on the first [`signal`]: a run stops between batches,
/// keeps its checkpoint, and says so.
pub fn stop_on_signal() -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            signal().await;
            eprintln!("stopping: the next run resumes from the checkpoint");
            cancel.cancel();
        }
    });
    cancel
}
