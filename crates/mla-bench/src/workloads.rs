//! The broker's workloads, driven through its two faces: ACKNOWLEDGE of submitted requests, new
//! requests over gRPC and REST, and one request read over gRPC and REST (by the same read code that
//! drives the bare servers).

use std::sync::Arc;

use futures::StreamExt;
use mla_domain::{RequestId, Role};
use mla_proto::v1 as pb;
use mla_tests::{Broker, RequestServiceClient, action, authed, complete_request, http_client};
use tonic::transport::Channel;

use crate::load::{Figures, drive};

/// Requests prepared at once, not measured: enough to keep both cores busy.
const PREPARING_CLIENTS: usize = 32;

/// A broker with the partner and the callers every workload uses.
#[derive(Debug)]
pub struct Target {
    /// The broker when it runs in this process; `None` for one in a process of its own.
    pub broker: Option<Broker>,
    pub channel: Channel,
    /// The REST gateway's base URL.
    pub gateway: String,
    http: reqwest::Client,
    /// France's system: it creates and submits.
    partner: String,
    /// A registrar: they acknowledge, and read.
    registrar: String,
}

/// Where a broker answers, and the tokens of the callers every workload uses: what a broker in a
/// process of its own hands the harness.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Endpoints {
    pub url: String,
    pub http_url: String,
    pub partner: String,
    pub registrar: String,
}

/// A request as the store keeps it, serialized as the store binds it: the bounds write the same bytes.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The request's content (the JSON column).
    pub content: String,
    /// The whole request: the outcome an idempotency record keeps.
    pub outcome: String,
}

impl Endpoints {
    /// Registers the partner on `broker` and mints the callers' tokens.
    pub async fn prepare(broker: &Broker) -> Endpoints {
        broker.register_partners(&["FR-MOJ"]).await;
        Endpoints {
            url: broker.url.clone(),
            http_url: broker.gateway_url(),
            partner: broker.partner("FR-MOJ"),
            registrar: broker.staff("registrar-1", &[Role::Registrar]),
        }
    }
}

impl Target {
    /// The broker running in this process, with its partner registered.
    pub async fn start(broker: Broker) -> Target {
        let endpoints = Endpoints::prepare(&broker).await;
        Target { broker: Some(broker), ..Target::remote(endpoints).await }
    }

    /// A broker in another process.
    pub async fn remote(endpoints: Endpoints) -> Target {
        let channel =
            Channel::from_shared(endpoints.url).expect("a URL").connect().await.expect("a connection");
        Target {
            broker: None,
            channel,
            gateway: endpoints.http_url,
            http: http_client(),
            partner: endpoints.partner,
            registrar: endpoints.registrar,
        }
    }

    pub fn requests(&self) -> RequestServiceClient<Channel> {
        RequestServiceClient::new(self.channel.clone())
    }

    /// `count` requests created and submitted by the partner, concurrently; their ids.
    pub async fn submitted(&self, count: usize) -> Vec<String> {
        futures::stream::iter(0..count)
            .map(|i| {
                let (mut client, token) = (self.requests(), self.partner.clone());
                async move {
                    let create = pb::CreateRequestRequest {
                        request: Some(complete_request("", &format!("Load {i}"))),
                        ..Default::default()
                    };
                    let id =
                        client.create_request(authed(create, &token)).await.expect("created").into_inner().id;
                    let submit = authed(action(&id, pb::Action::Submit), &token);
                    client.transition_request(submit).await.expect("submitted");
                    id
                }
            })
            .buffer_unordered(PREPARING_CLIENTS)
            .collect()
            .await
    }

    /// A submitted request as the store keeps it.
    pub async fn sample(&self) -> Sample {
        let id = self.submitted(1).await.remove(0);
        let id = RequestId::parse(&id).expect("a request id");
        let broker = self.broker.as_ref().expect("the sample is read from an in-process broker's store");
        let request = broker.open_store().await.get_request(id).await.expect("read").expect("stored");
        Sample {
            content: serde_json::to_string(&request.content).expect("JSON"),
            outcome: serde_json::to_string(&request).expect("JSON"),
        }
    }

    /// The registrar acknowledges each of `ids` once, each call with an idempotency key of its own.
    pub async fn transitions(&self, clients: usize, ids: Vec<String>) -> Figures {
        let (ids, token) = (Arc::new(ids), self.registrar.clone());
        drive(
            clients,
            ids.len(),
            || self.requests(),
            move |mut client, i| {
                let message = pb::TransitionRequestRequest {
                    request_id: format!("ack-{}", ids[i]),
                    ..action(&ids[i], pb::Action::Acknowledge)
                };
                let call = authed(message, &token);
                async move {
                    client.transition_request(call).await.expect("acknowledged");
                    client
                }
            },
        )
        .await
    }

    /// The partner creates `calls` requests over gRPC, each with an idempotency key.
    pub async fn creates_over_grpc(&self, clients: usize, calls: usize) -> Figures {
        let token = self.partner.clone();
        drive(
            clients,
            calls,
            || self.requests(),
            move |mut client, _| {
                let create = pb::CreateRequestRequest {
                    request: Some(complete_request("", "Load")),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                };
                let call = authed(create, &token);
                async move {
                    client.create_request(call).await.expect("created");
                    client
                }
            },
        )
        .await
    }

    /// The partner creates `calls` requests over REST (`POST /v1/requests`), each with an
    /// `Idempotency-Key`.
    pub async fn creates_over_rest(&self, clients: usize, calls: usize) -> Figures {
        let url = format!("{}/v1/requests", self.gateway);
        let token = self.partner.clone();
        let body = serde_json::json!({
            "request_type": "EVIDENCE", "requesting_authority": "Investigating judge, Karkh court",
            "title": "Load", "summary_of_facts": "Facts of the case.", "measures": ["Hear witness W-17"],
            "purpose": "Criminal proceedings", "legal_basis": "UNTOC art. 18",
        });
        drive(
            clients,
            calls,
            || self.http.clone(),
            move |client, _| {
                let request = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("idempotency-key", uuid::Uuid::now_v7().to_string())
                    .json(&body);
                async move {
                    let answer = request.send().await.expect("POST");
                    assert!(answer.status().is_success(), "POST /v1/requests: {}", answer.status());
                    answer.bytes().await.expect("a body");
                    client
                }
            },
        )
        .await
    }

    /// A request for the reads, and its answers over both faces: what the bare servers answer.
    pub async fn read_sample(&self) -> (String, pb::Request, bytes::Bytes) {
        let id = self.submitted(1).await.remove(0);
        let get = authed(pb::GetRequestRequest { id: id.clone() }, &self.registrar);
        let grpc = self.requests().get_request(get).await.expect("read").into_inner();
        let url = format!("{}/v1/requests/{id}", self.gateway);
        let rest = self.http.get(url).bearer_auth(&self.registrar).send().await.expect("GET");
        (id, grpc, rest.bytes().await.expect("a body"))
    }

    /// Reads over gRPC from the server at `channel`, as the registrar.
    pub async fn reads_over_grpc(
        &self,
        channel: &Channel,
        id: &str,
        clients: usize,
        calls: usize,
    ) -> Figures {
        let (id, token) = (id.to_owned(), self.registrar.clone());
        let read = move |mut client: RequestServiceClient<Channel>, _| {
            let call = authed(pb::GetRequestRequest { id: id.clone() }, &token);
            async move {
                client.get_request(call).await.expect("GetRequest");
                client
            }
        };
        // A tenth as many calls first, to warm connections and caches.
        drive(clients, calls / 10, || RequestServiceClient::new(channel.clone()), read.clone()).await;
        drive(clients, calls, || RequestServiceClient::new(channel.clone()), read).await
    }

    /// Reads over REST from the server at `base`, as the registrar.
    pub async fn reads_over_rest(&self, base: &str, id: &str, clients: usize, calls: usize) -> Figures {
        let (url, token) = (format!("{base}/v1/requests/{id}"), self.registrar.clone());
        let read = move |client: reqwest::Client, _| {
            let request = client.get(&url).bearer_auth(&token);
            async move {
                let answer = request.send().await.expect("GET");
                assert!(answer.status().is_success(), "GET /v1/requests/{{id}}: {}", answer.status());
                answer.bytes().await.expect("a body");
                client
            }
        };
        drive(clients, calls / 10, || self.http.clone(), read.clone()).await;
        drive(clients, calls, || self.http.clone(), read).await
    }
}
