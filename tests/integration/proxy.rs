//! A TCP proxy in front of the test database that a test can cut and restore, to see what
//! the app does when its database goes away (the shared server is never stopped).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use sqlx::postgres::PgConnectOptions;
use tokio::{
    net::{TcpListener, TcpStream, UnixStream},
    task::JoinHandle,
};

pub struct TcpProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Proxies to the server of `database_url` (TCP or Unix socket).
    pub async fn start(database_url: &str) -> Self {
        let options: PgConnectOptions = database_url.parse().unwrap();
        let host = options.get_host().to_owned();
        let port = options.get_port();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, connections) = (up.clone(), connections.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        return;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let host = host.clone();
                    let task = tokio::spawn(async move {
                        if host.starts_with('/') {
                            let path = format!("{host}/.s.PGSQL.{port}");
                            if let Ok(mut server) = UnixStream::connect(path).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        } else {
                            let address: SocketAddr = format!("{host}:{port}")
                                .parse()
                                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)));
                            if let Ok(mut server) = TcpStream::connect(address).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        }
                    });
                    connections.lock().unwrap().push(task);
                }
            })
        };
        Self {
            port: local,
            up,
            connections,
            accept,
        }
    }

    /// `database_url` rewritten to go through this proxy.
    pub fn url_for(&self, database_url: &str) -> String {
        let options: PgConnectOptions = database_url.parse().unwrap();
        format!(
            "postgres://{}@127.0.0.1:{}/{}",
            options.get_username(),
            self.port,
            options.get_database().unwrap()
        )
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
