//! What every test of the team's service shares: its router served by httpsim's server, its
//! own hyper-util client as the client under test.

use bytes::Bytes;
use downstream::{client_builder, router, Flags};
use http_body_util::Full;
use httpsim::client::{adapt, hyper_util_pool::LocalExec};
use httpsim::net::SimConnector;
use httpsim::Setup;

/// The team's router as the server, the team's client as the client.
pub fn team_setup(flags: Flags) -> Setup {
    let mut setup = Setup::default();
    setup.server.service(router(flags));
    setup.custom.pool = Some(adapt::service(|host| {
        client_builder(LocalExec).build::<_, Full<Bytes>>(SimConnector::new(host))
    }));
    setup
}
