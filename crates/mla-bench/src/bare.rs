//! The reads' ceilings: a bare tonic server and a bare axum handler, in this process on port 0, each
//! answering a read from memory with the very answer the broker gave, so that what separates them
//! from the broker is the broker's own work (authentication, the store, the mapping, the gateway).
//! Both send small answers at once (`TCP_NODELAY`), as the broker's listeners do.

use std::pin::Pin;

use futures::Stream;
use mla_proto::v1 as pb;
use pb::request_service_server::{RequestService, RequestServiceServer};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// Answers `GetRequest` with one request; every other call is unimplemented.
#[derive(Debug)]
struct Canned(pb::Request);

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl RequestService for Canned {
    async fn get_request(&self, _: Request<pb::GetRequestRequest>) -> Answer<pb::Request> {
        Ok(Response::new(self.0.clone()))
    }

    async fn create_request(&self, _: Request<pb::CreateRequestRequest>) -> Answer<pb::Request> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn list_requests(&self, _: Request<pb::ListRequestsRequest>) -> Answer<pb::ListRequestsResponse> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn update_request(&self, _: Request<pb::UpdateRequestRequest>) -> Answer<pb::Request> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn transition_request(&self, _: Request<pb::TransitionRequestRequest>) -> Answer<pb::Request> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn list_request_events(
        &self,
        _: Request<pb::ListRequestEventsRequest>,
    ) -> Answer<pb::ListRequestEventsResponse> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn post_message(&self, _: Request<pb::PostMessageRequest>) -> Answer<pb::Message> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn list_messages(&self, _: Request<pb::ListMessagesRequest>) -> Answer<pb::ListMessagesResponse> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn mark_messages_read(
        &self,
        _: Request<pb::MarkMessagesReadRequest>,
    ) -> Answer<pb::MarkMessagesReadResponse> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn print_letter(&self, _: Request<pb::PrintLetterRequest>) -> Answer<pb::PrintedLetter> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    async fn erase_personal_data(
        &self,
        _: Request<pb::ErasePersonalDataRequest>,
    ) -> Answer<pb::ErasePersonalDataResponse> {
        Err(Status::unimplemented("a bare server reads only"))
    }

    type WatchEventsStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

    async fn watch_events(&self, _: Request<pb::WatchEventsRequest>) -> Answer<Self::WatchEventsStream> {
        Err(Status::unimplemented("a bare server reads only"))
    }
}

/// Serves `answer` to every `GetRequest` until the process ends; returns the server's URL.
pub async fn grpc_server(answer: pb::Request) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let server = tonic::transport::Server::builder()
        .add_service(RequestServiceServer::new(Canned(answer)))
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)));
    tokio::spawn(server);
    url
}

/// Serves `body` as JSON to every `GET /v1/requests/{id}` until the process ends; returns the base URL.
pub async fn rest_server(body: bytes::Bytes) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let handler = move || {
        let body = body.clone();
        async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
    };
    let router = axum::Router::new().route("/v1/requests/{id}", axum::routing::get(handler));
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        tcp.set_nodelay(true).expect("TCP_NODELAY");
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}
