//! Logging into the platform's log: the host gives a sink (Logcat, `os_log`) and a level;
//! Holdfast's `tracing` events go to it. Messages carry ids, counts and codes, never
//! patient data.

use std::sync::{Arc, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::{HoldfastError, Result};

/// How much to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Failures only.
    Error,
    /// And things worth a look.
    Warn,
    /// And what happened (sync rounds, teams joined).
    Info,
    /// And detail for debugging.
    Debug,
}

/// Where log lines go.
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// One event: its level, where it came from (a Rust module path) and its text.
    fn log(&self, level: LogLevel, target: String, message: String);
}

struct SinkLayer {
    sink: Arc<dyn LogSink>,
}

#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SinkLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            _ => LogLevel::Debug,
        };
        let mut text = Text::default();
        event.record(&mut text);
        self.sink
            .log(level, event.metadata().target().to_owned(), text.0);
    }
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Sends Holdfast's log to `sink` at `level` and above (Holdfast's own modules only).
/// Once per process: a second call is refused.
#[uniffi::export]
pub fn init_logging(level: LogLevel, sink: Arc<dyn LogSink>) -> Result<()> {
    if INSTALLED.set(()).is_err() {
        return Err(HoldfastError::NotAllowed {
            reason: "logging is already set up for this process".into(),
        });
    }
    let max = match level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "holdfast_core={max},holdfast_ffi={max},holdfast_protocol={max}"
    ));
    tracing_subscriber::registry()
        .with(filter)
        .with(SinkLayer { sink })
        .try_init()
        .map_err(|e| HoldfastError::internal(format!("cannot set up logging: {e}")))
}
