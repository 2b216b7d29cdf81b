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
    /// While set, open connections stay open but carry no bytes (a half-open peer).
    frozen: Arc<AtomicBool>,
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
        let frozen = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, connections, frozen) = (up.clone(), connections.clone(), frozen.clone());
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
                    let frozen = frozen.clone();
                    let task = tokio::spawn(async move {
                        if host.starts_with('/') {
                            let path = format!("{host}/.s.PGSQL.{port}");
                            if let Ok(server) = UnixStream::connect(path).await {
                                pump(&mut client, server, &frozen).await;
                            }
                        } else {
                            let address: SocketAddr = format!("{host}:{port}")
                                .parse()
                                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], port)));
                            if let Ok(server) = TcpStream::connect(address).await {
                                pump(&mut client, server, &frozen).await;
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
            frozen,
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

    /// Keeps every connection open but stops carrying bytes either way, like a peer whose
    /// network vanished without a FIN: nothing on either side notices by itself.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes both ways, holding them back while `frozen` is set.
async fn pump<S>(client: &mut TcpStream, server: S, frozen: &AtomicBool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn one_way(
        mut from: impl tokio::io::AsyncRead + Unpin,
        mut to: impl tokio::io::AsyncWrite + Unpin,
        frozen: &AtomicBool,
    ) {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            while frozen.load(Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    let (client_read, client_write) = client.split();
    let (server_read, server_write) = tokio::io::split(server);
    tokio::select! {
        () = one_way(client_read, server_write, frozen) => {}
        () = one_way(server_read, client_write, frozen) => {}
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
