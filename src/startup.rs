//! Building and running the HTTP application. Tests start it exactly as
//! `careservice serve` does, on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;

use crate::config::ServerSettings;
use crate::http;
use crate::telemetry::RequestSpan;
use crate::tenancy::TenancyPool;
use crate::tenancy::notify::listen_for_changes;
use crate::tenancy::resolver::TerritoryResolver;
use crate::tenancy::router::{HostRouter, route_by_host};

/// A built server, bound to its port, not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    listener_task: JoinHandle<()>,
}

impl Application {
    /// Binds the listener and wires the application on `database_url`.
    pub async fn build(settings: &ServerSettings, database_url: &str) -> anyhow::Result<Self> {
        let pool = TenancyPool::new(database_url, &settings.pool)?;
        let resolver = Arc::new(TerritoryResolver::new(
            &settings.base_domain,
            pool.clone(),
            &settings.cache,
        ));
        let listener_task = tokio::spawn(listen_for_changes(
            database_url.to_owned(),
            Arc::clone(&resolver),
        ));

        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let pool = web::Data::new(pool);
        let router = web::Data::new(HostRouter::new(resolver, settings.trusted_proxies.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(pool.clone())
                .app_data(router.clone())
                .configure(http::errors::configure)
                .configure(http::health::configure)
                .service(
                    web::scope("/api/v1")
                        .wrap(from_fn(route_by_host))
                        .configure(crate::tenancy::routes::configure)
                        .default_service(web::to(http::errors::no_such_route)),
                )
                .default_service(web::to(http::errors::no_such_route))
        })
        .workers(settings.workers.max(1))
        .disable_signals()
        .shutdown_timeout(30)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            listener_task,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (gracefully: in-flight requests finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        self.listener_task.abort();
        outcome
    }
}
