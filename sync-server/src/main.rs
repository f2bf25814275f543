//! `holdfast-relay`: flags and environment in, logging set up, the relay served until
//! SIGTERM or SIGINT, then a graceful shutdown; SIGHUP reloads the TLS certificate and key.
//! Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;
use holdfast_relay::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    holdfast_relay::init_tracing(config.log_format);
    let relay = match holdfast_relay::serve(config).await {
        Ok(relay) => relay,
        Err(e) => {
            tracing::error!(error = %e, "relay failed to start");
            eprintln!("holdfast-relay: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts and tests read the address from this line.
    println!("listening on {}", relay.url());
    wait_for_signal(&relay).await;
    match relay.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "relay did not shut down cleanly");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C); on SIGHUP, reloads the TLS certificate and key
/// and goes on waiting.
async fn wait_for_signal(relay: &holdfast_relay::RunningRelay) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let reloads = async {
        #[cfg(unix)]
        if let Ok(mut hangup) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading the TLS certificate");
                if let Err(e) = relay.reload_tls() {
                    tracing::error!(error = %e, "TLS reload refused: still serving the certificate loaded before");
                }
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
        () = reloads => {}
    }
}
