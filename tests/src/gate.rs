//! A gate in front of the database: a TCP relay the broker connects through, which a test closes to
//! make an outage as the broker meets it when PostgreSQL stops (every connection cut, new ones
//! refused) and opens again to end it, without touching the server other tests share.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The relay; closed, it cuts every connection through it and refuses new ones (its port is not
/// listened on); dropped, it stops.
#[derive(Debug)]
pub struct Gate {
    port: u16,
    /// `(open, generation)`: each closing starts a new generation, which ends the older connections.
    state: Arc<watch::Sender<(bool, u64)>>,
    relay: tokio::task::JoinHandle<()>,
}

impl Gate {
    /// An open gate to `target` (`host:port`) on a free local port.
    pub async fn to(target: String) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let state = Arc::new(watch::Sender::new((true, 0)));
        let relay = tokio::spawn(relay(listener, port, target, state.clone()));
        Gate { port, state, relay }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `url` (a PostgreSQL URL) through this gate: the same database, reached by way of it.
    pub fn url_through(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let credentials = authority.rsplit_once('@').map(|(c, _)| format!("{c}@")).unwrap_or_default();
        format!("{scheme}://{credentials}127.0.0.1:{}/{path}", self.port)
    }

    /// The database goes away: connections cut, new ones refused.
    pub fn close(&self) {
        self.state.send_modify(|(open, generation)| {
            *open = false;
            *generation += 1;
        });
    }

    /// The database is back.
    pub fn open(&self) {
        self.state.send_modify(|(open, _)| *open = true);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close();
        self.relay.abort();
    }
}

/// `host:port` of a PostgreSQL URL.
pub fn authority_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.contains(':') { host.to_owned() } else { format!("{host}:5432") }
}

async fn relay(listener: TcpListener, port: u16, target: String, state: Arc<watch::Sender<(bool, u64)>>) {
    let mut changes = state.subscribe();
    let mut listener = Some(listener);
    loop {
        let Some(open) = listener.take() else {
            // Closed: nothing listens until the gate opens again, on the same port.
            if changes.wait_for(|(open, _)| *open).await.is_err() {
                return;
            }
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(bound) => listener = Some(bound),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
            continue;
        };
        let generation = state.borrow().1;
        tokio::select! {
            accepted = open.accept() => {
                if let Ok((inbound, _)) = accepted {
                    tokio::spawn(pass(inbound, target.clone(), generation, state.subscribe()));
                }
                listener = Some(open);
            }
            _ = changes.wait_for(|(open, _)| !*open) => {} // the listener is dropped: refused
        }
    }
}

/// Relays one connection until either side ends it or the gate closes.
async fn pass(
    mut inbound: TcpStream,
    target: String,
    generation: u64,
    mut changes: watch::Receiver<(bool, u64)>,
) {
    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = changes.wait_for(|(_, now)| *now != generation) => {}
    }
}
