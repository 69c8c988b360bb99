//! Credentials never reach logs, errors or `Debug` output: the database URL's password is
//! redacted wherever the URL is shown.

use crate::common;

use std::sync::{Arc, Mutex};

use athena_memory::Config;
use athena_memory::{Engine, Error};
use tracing_subscriber::fmt::format::FmtSpan;

const SECRET: &str = "hunter2-s3cret";

/// Everything a tracing subscriber writes, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `base` (a postgres:// URL without credentials) with a user and the secret password.
fn with_password(base: &str) -> String {
    base.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{SECRET}@"),
        1,
    )
}

#[test]
fn config_debug_and_url_errors_redact_the_password() {
    let url = format!("postgres://app:{SECRET}@127.0.0.1:5432/athena?password={SECRET}");
    let builder = Config::builder(&url);
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains(SECRET) && shown.contains("app:***@"),
        "{shown}"
    );
    let config = builder.build().unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(
        shown.contains("postgres://app:***@127.0.0.1:5432/athena?password=***"),
        "{shown}"
    );

    let err = Config::builder(format!("mysql://root:{SECRET}@db/x"))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }), "{err}");
    assert!(!err.to_string().contains(SECRET), "{err}");
    assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_an_engine_never_logs_the_password() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Trust authentication ignores the password, so the engine opens with it in the URL.
    let url = with_password(&db.url);
    assert!(url.contains(SECRET), "{url}");
    let engine = Engine::open(&url).await.unwrap();
    let p = engine
        .projects()
        .get_or_create("/redaction/logs", None)
        .await
        .unwrap();
    engine.close().await;
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("open"), "the span was recorded: {logs}");
    assert!(
        logs.contains("postgres:***@"),
        "the URL is shown redacted: {logs}"
    );
    assert!(!logs.contains(SECRET), "{logs}");
    assert!(p.id.0 > 0);
}
