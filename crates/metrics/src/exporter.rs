//! Installing the Prometheus recorder, serving `/metrics`, and rendering for tests.

use std::{
    fmt,
    net::SocketAddr,
    sync::{mpsc, Mutex, PoisonError},
    thread,
};

use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tracing::{error, info};

use crate::{
    names::{
        describe_all, BLOCK_DELAY_BUCKETS, BLOCK_DELAY_SECONDS, PEER_SCORES, PEER_SCORE_BUCKETS,
        VALIDATION_DURATION_BUCKETS, VALIDATION_DURATION_SECONDS,
    },
    record::{register_zero_series, set_build_info, VERSION},
};

/// Why the metrics recorder or its HTTP endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// [`install`] or [`install_recorder_only`] already succeeded in this process.
    #[error("the opmesh metrics recorder is already installed in this process")]
    AlreadyInstalled,
    /// Some other `metrics` recorder is already the global one.
    #[error("another metrics recorder is already installed in this process")]
    ForeignRecorder,
    /// The metrics HTTP listener could not bind its address (e.g. the port is in use).
    #[error("cannot serve metrics on {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The exporter's runtime or thread could not be started.
    #[error("cannot start the metrics exporter: {0}")]
    Runtime(String),
    /// The exporter rejected its configuration (a bug in this crate).
    #[error("invalid metrics exporter configuration: {0}")]
    Config(String),
}

/// A handle on the installed recorder: renders the Prometheus text exposition.
#[derive(Clone)]
pub struct MetricsHandle {
    handle: PrometheusHandle,
    listen_addr: Option<SocketAddr>,
}

impl MetricsHandle {
    /// The current metrics in the Prometheus text format (what `/metrics` serves).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Where `/metrics` is served, when [`install`] started the HTTP listener.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen_addr
    }

    /// Drains buffered histogram samples. [`install`]'s exporter does this every 5 s; after
    /// [`install_recorder_only`], call it (or [`Self::render`]) periodically.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl fmt::Debug for MetricsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsHandle")
            .field("listen_addr", &self.listen_addr)
            .finish_non_exhaustive()
    }
}

/// Set once either install function succeeds; held while installing so two concurrent calls
/// cannot both bind.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// The exporter configuration: histogram buckets for every opmesh histogram, so they are
/// exported as Prometheus histograms (`_bucket`/`_sum`/`_count`) rather than summaries.
fn builder() -> Result<PrometheusBuilder, MetricsError> {
    let config = |e: BuildError| MetricsError::Config(e.to_string());
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(PEER_SCORES.into()), PEER_SCORE_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(crate::op_node::PEER_SCORES.into()),
                PEER_SCORE_BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(VALIDATION_DURATION_SECONDS.into()),
                VALIDATION_DURATION_BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(BLOCK_DELAY_SECONDS.into()),
                BLOCK_DELAY_BUCKETS,
            )
        })
        .map_err(config)
}

/// What both install functions do once the recorder is global.
fn after_install() {
    describe_all();
    register_zero_series();
    set_build_info(VERSION);
}

/// Installs the Prometheus recorder as the process-wide `metrics` recorder and serves the
/// text exposition over HTTP on `addr` (on every path, `/metrics` included), then registers
/// every HELP text, creates the zero series and sets `opmesh_build_info`.
///
/// The listener runs on a dedicated thread with its own single-threaded runtime, so this
/// works from synchronous code and from inside a Tokio runtime alike. Port 0 is refused: the
/// exporter cannot report which port it would get.
///
/// # Errors
///
/// [`MetricsError::Bind`] (naming `addr`) when the address cannot be bound, e.g. the port is
/// in use; [`MetricsError::AlreadyInstalled`] on a second install in the same process;
/// [`MetricsError::ForeignRecorder`] when another `metrics` recorder is installed. Nothing is
/// left installed or listening after an error.
pub fn install(addr: SocketAddr) -> Result<MetricsHandle, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Err(MetricsError::AlreadyInstalled);
    }
    if addr.port() == 0 {
        return Err(MetricsError::Bind {
            addr,
            reason: "port 0 is not supported: the exporter cannot report the port it gets".into(),
        });
    }
    let builder = builder()?.with_http_listener(addr);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| MetricsError::Runtime(e.to_string()))?;
    let built = {
        let _guard = runtime.enter();
        builder.build()
    };
    let (recorder, exporter) = match built {
        Ok(built) => built,
        Err(e) => {
            // Not dropped in place: dropping a runtime inside another one panics.
            runtime.shutdown_background();
            return Err(match e {
                BuildError::FailedToCreateHTTPListener(reason) => {
                    MetricsError::Bind { addr, reason }
                }
                other => MetricsError::Runtime(other.to_string()),
            });
        }
    };
    let handle = recorder.handle();

    // The thread waits for the recorder to be installed before serving, so a failed install
    // leaves nothing listening.
    let (go_tx, go_rx) = mpsc::channel::<bool>();
    thread::Builder::new()
        .name("opmesh-metrics".into())
        .spawn(move || {
            if go_rx.recv() == Ok(true) {
                if let Err(e) = runtime.block_on(exporter) {
                    error!(%addr, error = ?e, "metrics endpoint stopped");
                }
            } else {
                drop(exporter);
                runtime.shutdown_background();
            }
        })
        .map_err(|e| MetricsError::Runtime(e.to_string()))?;
    if metrics::set_global_recorder(recorder).is_err() {
        let _ = go_tx.send(false);
        return Err(MetricsError::ForeignRecorder);
    }
    let _ = go_tx.send(true);
    *installed = true;
    drop(installed);

    after_install();
    info!(%addr, "serving metrics");
    Ok(MetricsHandle {
        handle,
        listen_addr: Some(addr),
    })
}

/// Installs the Prometheus recorder as the process-wide `metrics` recorder without an HTTP
/// listener, registers every HELP text, creates the zero series and sets
/// `opmesh_build_info`. Serve [`MetricsHandle::render`] yourself, and render or call
/// [`MetricsHandle::run_upkeep`] periodically.
///
/// # Errors
///
/// [`MetricsError::AlreadyInstalled`] on a second install in the same process;
/// [`MetricsError::ForeignRecorder`] when another `metrics` recorder is installed.
pub fn install_recorder_only() -> Result<MetricsHandle, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Err(MetricsError::AlreadyInstalled);
    }
    let recorder = builder()?.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::ForeignRecorder)?;
    *installed = true;
    drop(installed);

    after_install();
    Ok(MetricsHandle {
        handle,
        listen_addr: None,
    })
}

/// A recorder that is not installed globally: record into it with [`LocalRecorder::with`]
/// (on the current thread only) and read it with [`LocalRecorder::handle`]. For tests that
/// check what code records, any number per process.
pub struct LocalRecorder {
    recorder: PrometheusRecorder,
}

impl LocalRecorder {
    /// A fresh recorder with opmesh's histogram buckets and every HELP text registered (no
    /// zero series, no build info).
    ///
    /// # Errors
    ///
    /// [`MetricsError::Config`] only if this crate's exporter configuration is invalid.
    pub fn new() -> Result<Self, MetricsError> {
        let local = Self {
            recorder: builder()?.build_recorder(),
        };
        local.with(describe_all);
        Ok(local)
    }

    /// Runs `f` with this recorder as the current thread's recorder. Metrics recorded on
    /// other threads (e.g. in `spawn_blocking`) do not reach it.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// A handle that renders what was recorded.
    pub fn handle(&self) -> MetricsHandle {
        MetricsHandle {
            handle: self.recorder.handle(),
            listen_addr: None,
        }
    }
}

impl fmt::Debug for LocalRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalRecorder").finish_non_exhaustive()
    }
}
