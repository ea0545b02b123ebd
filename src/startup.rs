//! Building and running the HTTP application. Tests start it exactly as
//! `careservice serve` does, on port 0.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tracing_actix_web::TracingLogger;

use crate::catalog::cache::EffectiveCatalogs;
use crate::config::ServerSettings;
use crate::hq::routes::BaseDomain;
use crate::http;
use crate::http::client_ip::TrustedProxies;
use crate::http::metrics::{Metrics, record as record_metrics};
use crate::http::security::{OriginPolicy, portal_cors, security_headers, tls_config};
use crate::identity::IdentityState;
use crate::identity::mail::{MailTransport, run_delivery};
use crate::identity::ratelimit::RateLimiter;
use crate::jobs::{JobContext, run_worker};
use crate::payments::Payments;
use crate::telemetry::RequestSpan;
use crate::tenancy::TenancyPool;
use crate::tenancy::notify::{CATALOG_CHANNEL, ChangeHandler, TERRITORIES_CHANNEL, listen_for_changes};
use crate::tenancy::resolver::TerritoryResolver;
use crate::tenancy::router::{HostRouter, route_by_host};

/// A built server, bound to its port, not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    /// The metrics listener's port and server, when one is configured.
    metrics: Option<(u16, Server)>,
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Binds the listener and wires the application on `database_url`.
    pub async fn build(settings: &ServerSettings, database_url: &str) -> anyhow::Result<Self> {
        let pool = TenancyPool::new(database_url, &settings.pool)?;
        let resolver = Arc::new(TerritoryResolver::new(&settings.base_domain, pool.clone(), &settings.cache));
        let limiter = match &settings.redis_url {
            Some(url) => RateLimiter::redis(url).await?,
            None => RateLimiter::in_process(),
        };
        let hashing_threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut identity = IdentityState::new(limiter, hashing_threads);
        identity.limits = settings.limits.clone();
        identity.keys = settings.keys.clone();

        let catalog = EffectiveCatalogs::new();
        let subscriptions: Vec<(&'static str, ChangeHandler)> = vec![
            (TERRITORIES_CHANNEL, {
                let resolver = Arc::clone(&resolver);
                Arc::new(move |_: &str| resolver.invalidate_all())
            }),
            (CATALOG_CHANNEL, {
                let catalog = catalog.clone();
                Arc::new(move |_: &str| catalog.invalidate_all())
            }),
        ];

        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let mut background = vec![
            tokio::spawn(listen_for_changes(database_url.to_owned(), subscriptions)),
            tokio::spawn(run_delivery(
                pool.clone(),
                MailTransport::new(settings.smtp_url.as_deref(), &settings.mail_from)?,
                settings.keys.clone(),
            )),
        ];
        let payments = Payments::new(settings.payment_provider.clone(), settings.payment_webhook_secret.as_bytes());
        if settings.run_worker {
            let context = JobContext {
                pool: pool.clone(),
                clock: settings.clock.clone(),
                payments: payments.clone(),
                keys: settings.keys.clone(),
            };
            background.push(tokio::spawn(run_worker(context)));
        }
        let payments = web::Data::new(payments);
        let keys = web::Data::new(settings.keys.clone());
        let faults = web::Data::new(settings.faults.clone());
        let clock = web::Data::new(settings.clock.clone());
        let metrics = web::Data::new(Metrics::new()?);
        let pool = web::Data::new(pool);
        let catalog = web::Data::new(catalog);
        let identity = web::Data::new(identity);
        let router = web::Data::new(HostRouter::new(resolver, settings.trusted_proxies.clone()));
        let trusted = web::Data::new(TrustedProxies(settings.trusted_proxies.clone()));
        let base_domain = settings.base_domain.clone();
        let base = web::Data::new(BaseDomain(base_domain.clone()));
        let tls = settings.tls.is_some();
        let metrics_token = settings.metrics.token.clone();
        let metrics_server = match settings.metrics.bind {
            Some(bind) => Some(metrics_listener(bind, metrics.clone(), pool.clone())?),
            None => None,
        };
        let origins =
            OriginPolicy { base_domain: base_domain.clone(), tls, trusted_proxies: settings.trusted_proxies.clone() };
        let origin_policy = web::Data::new(origins.clone());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(record_metrics))
                .wrap(security_headers(tls))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(pool.clone())
                .app_data(router.clone())
                .app_data(identity.clone())
                .app_data(catalog.clone())
                .app_data(clock.clone())
                .app_data(metrics.clone())
                .app_data(trusted.clone())
                .app_data(base.clone())
                .app_data(payments.clone())
                .app_data(keys.clone())
                .app_data(faults.clone())
                .app_data(origin_policy.clone())
                .app_data(web::PayloadConfig::new(256 * 1024))
                .configure(http::errors::configure)
                .configure(http::health::configure)
                .configure(http::metrics::configure_public(metrics_token.as_deref()))
                // Before the /api/v1 scope, which would answer these paths itself.
                .configure(http::openapi::configure)
                .service(
                    web::scope("/api/v1")
                        .wrap(portal_cors(origins.clone()))
                        .wrap(from_fn(http::json_body::objects_only))
                        .wrap(from_fn(route_by_host))
                        .configure(crate::tenancy::routes::configure)
                        .configure(crate::identity::configure)
                        .configure(crate::hq::configure)
                        .configure(crate::catalog::configure)
                        .configure(crate::scheduling::configure)
                        // Before bookings: `/bookings/{id}/refunds` is not a booking action.
                        .configure(crate::payments::configure)
                        .configure(crate::bookings::configure)
                        .configure(crate::ledger::configure)
                        .configure(crate::audit::configure)
                        .configure(crate::privacy::routes::configure)
                        .configure(crate::jobs::configure)
                        .default_service(web::to(http::errors::no_such_route)),
                )
                .default_service(web::to(http::errors::no_such_route))
        })
        .workers(settings.workers.max(1))
        .disable_signals()
        .shutdown_timeout(30);
        let server = match &settings.tls {
            Some((cert, key)) => server.listen_rustls_0_23(listener, tls_config(cert, key)?)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Self { port, server, metrics: metrics_server, background })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when one is configured.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// A handle to stop the server (gracefully: in-flight requests finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| (server.handle(), tokio::spawn(server)));
        let outcome = self.server.await;
        if let Some((handle, server)) = metrics {
            handle.stop(true).await;
            // It stops with the main server; how it ended changes nothing.
            let _ = server.await;
        }
        for task in self.background {
            task.abort();
        }
        outcome
    }
}

/// The metrics listener: `/metrics` alone, for whoever can reach `bind`.
fn metrics_listener(
    bind: SocketAddr,
    metrics: web::Data<Metrics>,
    pool: web::Data<TenancyPool>,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(bind)?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(pool.clone())
            .configure(http::metrics::configure_internal)
            .default_service(web::to(http::errors::no_such_route))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    Ok((port, server))
}
